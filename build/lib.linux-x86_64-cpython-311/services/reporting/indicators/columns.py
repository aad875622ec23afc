"""The SQL expressions the views share: a date's month, a village code's region, whether a
village is inside a region, the rows' lineage, and datetimes made aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, func, literal_column, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


def month_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


class _Inside(ColumnElement[bool]):
    """`inside`, written for each database when compiled."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("within", InternalTraversal.dp_string),
    ]
    _is_implicitly_boolean = True  # a condition of its own (no "= 1" in SQLite)
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], within: str) -> None:
        self.column, self.within = column, within


def inside(column: ColumnElement[Any], within: str) -> ColumnElement[bool]:
    """A village code in the region `within` (the village itself, for a village)."""
    return _Inside(column, within)


@compiles(_Inside)
def _inside_by_prefix(element: _Inside, compiler: SQLCompiler, **kw: Any) -> str:
    column, within = element.column, element.within
    either = or_(column == within, column.startswith(f"{within}."))
    return compiler.process(either.self_group(), **kw)


@compiles(_Inside, "sqlite")
def _inside_by_range(element: _Inside, compiler: SQLCompiler, **kw: Any) -> str:
    """In SQLite a prefix is a range of the column's index (codes compare byte by byte, and
    "/" follows "."); `LIKE` would read every row of the table. Not in PostgreSQL, where a
    database's collation may order "." and "/" otherwise."""
    column, within = element.column, element.within
    in_range = and_(column >= f"{within}.", column < f"{within}/")
    return compiler.process(or_(column == within, in_range).self_group(), **kw)


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
