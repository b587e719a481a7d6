"""Domain names: normalisation and coverage, by the rules of docs/decisions.md#names.

Names are compared lower-cased, IDNA (punycode) encoded, without a trailing dot. An exact name covers only
itself; `*.example.com` covers exactly one label (`a.example.com`, not `example.com`, not `a.b.example.com`);
a wildcard resource domain is covered only by a certificate listing that same wildcard.
"""

from __future__ import annotations

import re

from certdeploy.domain.errors import InvalidParameter

WILDCARD_LABEL = "*"
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_MAX_NAME_LENGTH = 253


def _encode_label(label: str, original: str) -> str:
    if label.isascii():
        ascii_label = label.lower()
    else:
        # Imported for the first non-ASCII label: its tables are a cold start's cost that ASCII names never need.
        import idna

        try:
            # UTS 46 mapping lower-cases and normalises Unicode before punycode, as browsers do.
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidParameter("Domain", f"'{original}' is not a valid domain name: {exc}") from exc
    if not _LDH_LABEL.match(ascii_label):
        raise InvalidParameter("Domain", f"'{original}' is not a valid domain name.")
    return ascii_label


def normalise_name(name: str) -> str:
    """Lower-case, IDNA-encode and strip the trailing dot; a leading `*` label is kept as the wildcard.

    Raises `InvalidParameter` for anything that is not a host name or a one-label wildcard.
    """
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidParameter("Domain", "A domain name must not be empty.")
    labels = text.split(".")
    encoded = [
        WILDCARD_LABEL if index == 0 and label == WILDCARD_LABEL else _encode_label(label, name)
        for index, label in enumerate(labels)
    ]
    if encoded[0] == WILDCARD_LABEL and len(encoded) < 3:
        raise InvalidParameter("Domain", f"'{name}' is a wildcard over a top-level domain.")
    result = ".".join(encoded)
    if len(result) > _MAX_NAME_LENGTH:
        raise InvalidParameter("Domain", f"'{name}' is longer than {_MAX_NAME_LENGTH} characters.")
    return result


def try_normalise_name(name: str) -> str | None:
    """`normalise_name`, or None when the text is not a host name (e.g. a CN that is a person's name)."""
    try:
        return normalise_name(name)
    except InvalidParameter:
        return None


def is_wildcard(name: str) -> bool:
    return name.startswith(WILDCARD_LABEL + ".")


def parent_domain(name: str) -> str | None:
    """`a.example.com` -> `example.com`; None for a single label."""
    _, dot, rest = name.partition(".")
    return rest if dot else None


def covers(certificate_name: str, resource_domain: str) -> bool:
    """Whether one normalised certificate name covers one normalised resource domain."""
    if certificate_name == resource_domain:
        return True
    if is_wildcard(certificate_name) and not is_wildcard(resource_domain):
        return parent_domain(resource_domain) == certificate_name[2:]
    return False


def covered_names(sans: tuple[str, ...], common_name: str | None) -> tuple[str, ...]:
    """Normalised SANs, then the CN if it is a host name; de-duplicated, first occurrence kept.

    A SAN that is not a usable host name (e.g. `*.com`) cannot match any resource, so it is left out.
    """
    candidates = [*sans, common_name] if common_name is not None else list(sans)
    normalised = (try_normalise_name(candidate) for candidate in candidates)
    return tuple(dict.fromkeys(name for name in normalised if name is not None))
