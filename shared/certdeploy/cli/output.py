"""How the user commands show what they got: rich tables on stdout, progress on stderr (only on a terminal), and with
`--json` the API's data as one JSON document on stdout."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def console(*, stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr)


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False))


def reply_data(body: dict[str, Any]) -> dict[str, Any]:
    """A reply without its RequestId: what `--json` prints for a command that makes one call."""
    return {key: value for key, value in body.items() if key != "RequestId"}


def table(title: str, columns: Sequence[str]) -> Table:
    made = Table(title=title, title_justify="left")
    for column in columns:
        made.add_column(column)
    return made


def row(target: Table, *cells: object) -> None:
    """Cells are data, not rich markup: a job named `[x]` shows as written."""
    target.add_row(*(escape(str(cell)) for cell in cells))


def time_text(value: object) -> str:
    """CAS times are Unix milliseconds in strings."""
    if value in (None, "", "0", 0):
        return ""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


@contextmanager
def paging_progress(action: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr while the pages of `action` come in; `advance(items so far, total)`."""
    errors = console(stderr=True)
    with Progress(
        TextColumn(action),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        disable=not errors.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task(action, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, done))

        yield advance
