"""What the special indicators' functions share: the rows they compute, a count's figures,
the start of time and a share."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.reporting.figures import Row

EPOCH = date(1900, 1, 1)


Computed = dict[str, Row]
"""Rows by region code."""
Counted = tuple[int, int, Any, Any]
"""Units counted, the events that fed them, when the latest fact happened and arrived."""


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None
