"""The last step of `make bench`: the figures every benchmark recorded (`tests/perf/results.py`)
as one table, printed and written into docs/benchmarks.md between its two markers (the rest of
that file, the history of how the figures got there, is left as it is).

    python -m tests.perf.summary <results file>
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.perf.results import Figure, recorded

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"


def table(figures: list[Figure], when: datetime) -> str:
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    lines = [
        BEGIN,
        f"## The last `make bench` ({when:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load average {load} at the end)",
        "",
        "Written by `make bench` (`tests/perf/summary.py`); every baseline was measured in the "
        "same run. The sections below say how each figure got there.",
        "",
        "| | what | figure | baseline (same run) | goal |",
        "|---|---|---|---|---|",
    ]
    for f in sorted(figures, key=lambda f: f.item):
        lines.append(f"| ({f.item}) | {f.what} | {f.figure} | {f.baseline} | {f.goal} |")
    if not figures:
        lines.append("| | nothing was recorded | | | |")
    return "\n".join([*lines, "", END])


def write(doc: Path, summary: str) -> None:
    text = doc.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + summary + after
    else:  # the first time: after the title
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{summary}\n{rest}"
    doc.write_text(text)


def main() -> None:
    figures = recorded(Path(sys.argv[1]))
    summary = table(figures, datetime.now(UTC))
    print("\n" + summary.removeprefix(BEGIN + "\n").removesuffix("\n" + END))
    write(DOC, summary)
    print(f"\nwritten into {DOC}")


if __name__ == "__main__":
    main()
