"""`make bench`'s last step: the figures every benchmark recorded, as one table written into
docs/benchmarks.md between its markers, the rest of the file left as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.perf import summary
from tests.perf.results import RESULTS, record, recorded


def test_each_benchmark_s_figures_become_one_table_in_the_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS, str(results))
    record("d", "tables through the gateway", "p50 3.1 ms, p99 7.6 ms", "directly p50 1.6 ms")
    record("a", "ingest end to end", "2,465 events/s", "raw producer 56,064/s", "5,000/s")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## How the figures got there\n\nhistory\n")

    figures = recorded(results)
    summary.write(doc, summary.table(figures, datetime(2026, 11, 30, tzinfo=UTC)))
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\n" + summary.BEGIN)
    lines = first.splitlines()
    rows = [line for line in lines if line.startswith("| (")]
    assert rows == [
        "| (a) | ingest end to end | 2,465 events/s | raw producer 56,064/s | 5,000/s |",
        "| (d) | tables through the gateway | p50 3.1 ms, p99 7.6 ms | directly p50 1.6 ms |  |",
    ]
    assert first.endswith("## How the figures got there\n\nhistory\n")

    # The next run replaces the table, and only the table.
    summary.write(doc, summary.table(figures[:1], datetime(2026, 12, 1, tzinfo=UTC)))
    again = doc.read_text()
    assert again.count(summary.BEGIN) == again.count(summary.END) == 1
    assert "2026-12-01" in again and "2026-11-30" not in again
    assert "ingest end to end" not in again and "tables through the gateway" in again
    assert again.endswith("## How the figures got there\n\nhistory\n")


def test_a_benchmark_run_on_its_own_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RESULTS, raising=False)
    monkeypatch.chdir(tmp_path)
    record("a", "ingest", "1/s")
    assert list(tmp_path.iterdir()) == []
