"""The SQL expressions the views share: a date's month, a village code's region, whether a
village is inside a region, the rows' lineage, and datetimes made aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, or_


def month_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def inside(column: ColumnElement[Any], within: str) -> ColumnElement[bool]:
    """A village code in the region `within` (the village itself, for a village)."""
    return or_(column == within, column.startswith(f"{within}."))


CODE_LENGTH = {"national": 0, "province": 2, "regency": 5, "district": 8, "village": 13}
"""How much of a village code names its region at each level (74.71.01.1001)."""


def region_of(column: ColumnElement[Any], level: str) -> ColumnElement[str]:
    """The code of the region at `level` containing a village code."""
    length = CODE_LENGTH[level]
    # Constants inline, so PostgreSQL sees the same expression in SELECT and GROUP BY.
    return func.substr(column, literal_column("1"), literal_column(str(length)))


def lineage(table: Any) -> list[ColumnElement[Any]]:
    """How many events fed the rows, when the latest fact happened, when the latest arrived."""
    return [
        func.sum(table.c.events),
        func.max(table.c.last_event_at),
        func.max(table.c.last_received_at),
    ]


def aware(*values: Any) -> Any:
    """SQLite returns naive datetimes (stored as UTC) and strings from aggregates. One value
    in, one out; several in, a tuple out."""
    found = []
    for value in values:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        found.append(value)
    return found[0] if len(found) == 1 else tuple(found)
