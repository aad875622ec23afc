"""The figures of one `make bench` run, as one table: each benchmark records its own figures,
(a) to (e), beside the baseline it measured in the same run, and `python -m tests.perf.summary`
prints them together and writes them into docs/benchmarks.md.

A benchmark run on its own (no `PULIH_BENCH_RESULTS`) records nothing; it prints as before."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = "PULIH_BENCH_RESULTS"
"""The file (JSON lines) this run's figures are added to."""


@dataclass(frozen=True)
class Figure:
    item: str
    """Issue #15's letter: a ingest, b projection, c freshness, d read latency, e memory."""
    what: str
    figure: str
    baseline: str
    goal: str


def record(item: str, what: str, figure: str, baseline: str = "", goal: str = "") -> None:
    path = os.environ.get(RESULTS)
    if path:
        with Path(path).open("a") as out:
            out.write(json.dumps(asdict(Figure(item, what, figure, baseline, goal))) + "\n")


def recorded(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line]
