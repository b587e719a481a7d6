"""PEM text read in one pass over its lines, with bounds on what one upload may hold (README "Limits").

Whitespace around lines, CRLF and text between blocks are ignored, as OpenSSL does. A block's armour must stand on
its own line: `-----BEGIN <LABEL>-----`, its lines, `-----END <LABEL>-----` with the same label. Every line is looked
at once, so the work is linear in the text, which is itself bounded.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from certdeploy.domain.errors import CertificateError

# A chain of a leaf, its intermediates and a root is 2 to 4 certificates; 1 MiB holds 10 certificates of 10,000
# names each (about 30 bytes a name).
MAX_PEM_CHARACTERS = 1024 * 1024
MAX_PEM_BLOCKS = 10

_BEGIN = "-----BEGIN "
_END = "-----END "
_ARMOUR = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class PemBlock:
    label: str
    headers: tuple[str, ...]
    der: bytes


@dataclass
class _OpenBlock:
    label: str
    line_number: int
    lines: list[str]


def pem_blocks(text: str, error: type[CertificateError], what: str) -> list[PemBlock]:
    """Every PEM block in the text, in order; `error` (naming the `what`) for text over the bounds or badly armoured."""
    if len(text) > MAX_PEM_CHARACTERS:
        raise error(
            f"The {what} is {len(text):,} characters long; at most {MAX_PEM_CHARACTERS:,} characters are accepted."
        )
    blocks: list[PemBlock] = []
    current: _OpenBlock | None = None
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if line.startswith(_BEGIN):
            if current is not None:
                raise error(
                    f"The {what}'s line {line_number} is a '-----BEGIN' line inside the '-----BEGIN {current.label}"
                    f"-----' block of line {current.line_number}, which has no matching '-----END' line."
                )
            if len(blocks) == MAX_PEM_BLOCKS:
                raise error(f"The {what} holds more than {MAX_PEM_BLOCKS} PEM blocks; at most {MAX_PEM_BLOCKS}.")
            current = _OpenBlock(_armour_label(line, "BEGIN", line_number, error, what), line_number, [])
        elif current is None:
            continue
        elif line.startswith(_END):
            if _armour_label(line, "END", line_number, error, what) != current.label:
                raise error(f"The {what}'s line {line_number} does not close the {current.label} block.")
            blocks.append(_block(current, error, what))
            current = None
        elif line:
            current.lines.append(line)
    if current is not None:
        raise error(f"The {what} has a '-----BEGIN' line without its matching '-----END' line.")
    return blocks


def _armour_label(line: str, kind: str, line_number: int, error: type[CertificateError], what: str) -> str:
    match = _ARMOUR.fullmatch(line)
    if match is None or match.group(1) != kind:
        raise error(f"The {what}'s line {line_number} is not a PEM {kind} line (-----{kind} <LABEL>-----).")
    return match.group(2)


def _block(block: _OpenBlock, error: type[CertificateError], what: str) -> PemBlock:
    # RFC 1421 headers (e.g. `Proc-Type: 4,ENCRYPTED`) are the lines with a colon; base64 never has one.
    headers = tuple(line for line in block.lines if ":" in line)
    try:
        der = base64.b64decode("".join(line for line in block.lines if ":" not in line), validate=True)
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise error(f"The {what} is damaged: its {block.label} block is not valid base64.") from exc
    return PemBlock(block.label, headers, der)
