"""Every documentation reference in the repository leads somewhere that exists.

Code, tests, configuration and docs cite the project's own documents as `docs/<name>.md` or
`docs/<name>.md#<anchor>`, and the Markdown files link to each other (`[text](runtime.md#mns-semantics)`). A cited
file must exist and a cited anchor must be a heading of it, as GitHub derives anchors from headings. Any other
Markdown document a file names must be one of the repository's too: someone who clones the repository has nothing
else to follow.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()

SCANNED_ROOTS = ("shared", "functions", "tests", "bench", "packaging", "docs", "examples", "events", "demo", ".ci")
SCANNED_TOP_FILES = ("README.md", "s.yaml", "Makefile", "pyproject.toml")
SCANNED_SUFFIXES = frozenset({".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".sh", ".json"})
SKIPPED_DIRECTORIES = frozenset({"__pycache__", ".venv", "build", "node_modules", ".git", ".pytest_cache"})

# `docs/protocol.md`, `docs/runtime.md#mns-semantics`: anywhere in any scanned file.
DOC_REFERENCE = re.compile(r"(?<![\w./-])(docs/[\w.-]+\.md)(?:#([\w-]+))?")
# `[text](target)` in Markdown files; targets are resolved relative to the file.
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Any Markdown document named by a relative path or a bare file name (URLs are not matched: their paths follow `//`).
NAMED_DOCUMENT = re.compile(r"(?<![\w/.:-])((?:\.\./|[\w.-]+/)*[\w.-]+\.md)(?!\.?\w)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def scanned_files() -> list[Path]:
    files = [REPO / name for name in SCANNED_TOP_FILES if (REPO / name).is_file()]
    for root in SCANNED_ROOTS:
        base = REPO / root
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if any(part in SKIPPED_DIRECTORIES or part.endswith(".egg-info") for part in path.relative_to(REPO).parts):
                continue
            if path.is_file() and path.suffix in SCANNED_SUFFIXES and path.resolve() != THIS_FILE:
                files.append(path)
    return files


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors_of(path: Path) -> frozenset[str]:
    """Every anchor of a Markdown file; repeated headings get `-1`, `-2`, … as on GitHub."""
    seen: Counter[str] = Counter()
    anchors: set[str] = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match is None:
            continue
        anchor = github_anchor(match.group(2))
        anchors.add(anchor if seen[anchor] == 0 else f"{anchor}-{seen[anchor]}")
        seen[anchor] += 1
    return frozenset(anchors)


def problem_with(target: Path, anchor: str | None) -> str | None:
    if not target.is_file():
        return f"{target.relative_to(REPO) if target.is_relative_to(REPO) else target} does not exist"
    if anchor and anchor not in anchors_of(target):
        return f"{target.relative_to(REPO)} has no heading with anchor #{anchor}"
    return None


def doc_references(path: Path) -> list[tuple[int, Path, str | None]]:
    """(line number, cited file, anchor) of every `docs/….md` mention and every relative Markdown link."""
    found = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        for match in DOC_REFERENCE.finditer(line):
            found.append((number, REPO / match.group(1), match.group(2)))
        if path.suffix != ".md":
            continue
        for match in MARKDOWN_LINK.finditer(line):
            target = match.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("docs/"):
                continue  # a URL, or a docs/ mention already checked above
            file_part, _, anchor = target.partition("#")
            cited = path if not file_part else (path.parent / file_part).resolve()
            if cited.suffix == ".md" or not file_part:
                found.append((number, cited, anchor or None))
    return found


def test_every_cited_document_and_anchor_exists() -> None:
    problems = []
    references = 0
    for path in scanned_files():
        for number, cited, anchor in doc_references(path):
            references += 1
            problem = problem_with(cited, anchor)
            if problem:
                problems.append(f"{path.relative_to(REPO)}:{number}: {problem}")

    assert not problems, "broken documentation references:\n" + "\n".join(problems)
    assert references > 50, f"only {references} references found: is the scan still looking in the right places?"


def _names_a_repository_document(path: Path, named: str) -> bool:
    """Whether `named` (as written in `path`) is a Markdown file of the repository: by its path from the repository
    root or from the citing file, or, for a bare file name, anywhere in the repository."""
    for base in (REPO, path.parent):
        candidate = (base / named).resolve()
        if candidate.is_relative_to(REPO) and candidate.is_file():
            return True
    return "/" not in named and any(REPO.glob(f"**/{named}"))


def test_every_named_document_is_in_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {match.group(1)}"
        for path in scanned_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        for match in NAMED_DOCUMENT.finditer(line)
        if not _names_a_repository_document(path, match.group(1))
    ]

    assert not offenders, "documents named that the repository does not have:\n" + "\n".join(offenders)


def test_a_document_outside_the_repository_is_caught() -> None:
    assert [m.group(1) for m in NAMED_DOCUMENT.finditer("see ../handbook/notes.md and docs/runtime.md")] == [
        "../handbook/notes.md",
        "docs/runtime.md",
    ]
    assert not _names_a_repository_document(THIS_FILE, "../handbook/notes.md")
    assert _names_a_repository_document(THIS_FILE, "docs/runtime.md")
    assert not list(NAMED_DOCUMENT.finditer("https://github.com/aliyun/repo/blob/main/README.md"))


def test_anchors_are_derived_as_github_derives_them() -> None:
    assert github_anchor("MNS semantics") == "mns-semantics"
    assert github_anchor("V3 ACS3-HMAC-SHA256") == "v3-acs3-hmac-sha256"
    assert github_anchor("`s.yaml` wiring") == "syaml-wiring"  # dots are dropped, not hyphenated
    assert github_anchor("SM certificates on Anti-DDoS") == "sm-certificates-on-anti-ddos"
