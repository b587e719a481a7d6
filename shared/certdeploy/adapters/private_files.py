"""Files that hold secrets: the data directory is its owner's only (0700), and so is each file in it (0600), see
docs/decisions.md#secrets. A file several processes may create at once is written aside and linked into place, so
exactly one content wins and nobody reads a half-written file."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file in WAL mode.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> Path:
    """Create `path` (with its parents) readable by its owner only; an existing directory is left as it is."""
    try:
        path.mkdir(mode=DIRECTORY_MODE, parents=True)
    except FileExistsError:
        return path
    path.chmod(DIRECTORY_MODE)  # mkdir's mode is narrowed by the umask, never widened: set it as meant
    return path


def _narrow(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & ~FILE_MODE:
        path.chmod(FILE_MODE)


def private_database_file(path: Path) -> Path:
    """Make sure the SQLite file `path` exists and is its owner's only, before SQLite opens it: SQLite gives the
    WAL and shared-memory files it creates the mode of the database file. An existing file (and companions) left
    readable by an older version is narrowed to 0600."""
    private_directory(path.parent)
    # O_EXCL: an existing file is never opened here. Closing a descriptor drops every POSIX lock the process holds
    # on the file, so opening one another connection of this process uses would break SQLite's locking.
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for companion in ("", *_SQLITE_COMPANIONS):
        _narrow(path.with_name(path.name + companion))
    return path


def read_or_create(path: Path, content: Callable[[], str]) -> str:
    """The text of `path`; when it does not exist, create it with `content()`. Of processes racing to create it,
    exactly one link succeeds and all read that one's content."""
    try:
        _narrow(path)
        return path.read_text()
    except FileNotFoundError:
        pass
    private_directory(path.parent)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process linked its file first: that content is the one
        else:
            _sync_directory(path.parent)
    finally:
        draft.unlink()
    return path.read_text()


def _sync_directory(path: Path) -> None:
    """Make a new directory entry durable (POSIX; a no-op where directories cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
