"""`python -m bench` writes its goals' table to bench/results.md without losing the sections written there by hand."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import write_results
from bench.measure import row


def test_a_new_table_replaces_the_old_one_and_keeps_the_sections_after_it(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    results.write_text(
        "# Benchmark results\n\nWritten by an older run.\n\n| goal | result | baseline (same run) |\n|---|---|---|\n"
        "| old goal | old result | old baseline |\n\n## Before and after\n\nThe history of a change.\n"
    )

    write_results([row("new goal", "new result", "new baseline")], ["jobs"], results)

    text = results.read_text()
    assert "| new goal | new result | new baseline |" in text
    assert "old goal" not in text and "Written by an older run" not in text
    assert text.index("new goal") < text.index("## Before and after")
    assert text.endswith("## Before and after\n\nThe history of a change.\n")


def test_a_first_run_writes_the_table_alone(tmp_path: Path) -> None:
    results = tmp_path / "results.md"

    write_results([row("a goal", "a result", "a baseline")], ["matching"], results)

    assert results.read_text().startswith("# Benchmark results\n\nWritten by `python -m bench matching`")
    assert "## " not in results.read_text()
