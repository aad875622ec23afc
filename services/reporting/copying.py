"""A batch's rows and event ids in PostgreSQL's binary COPY format, encoded in C
(`copying.c`): each row dict one COPY tuple of its table's columns."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, SmallInteger, String, Table

from services.reporting import _copying

Columns = tuple[tuple[str, int], ...]

_GENERATION, _INTEGER, _TEXT, _DATE, _TIMESTAMPTZ, _BOOLEAN = range(6)
"""The kinds of column `copying.c` writes (`enum kind` there)."""


def columns_of(table: Table) -> Columns:
    """`table`'s columns in order, each with the kind `rows` writes it as; `generation` is
    the batch's."""
    columns = []
    for column in table.columns:
        # A plain str, interned as the rules' literal keys are: SQLAlchemy's names are a
        # subclass of str, which a dict compares by calling its __eq__ (ten times slower).
        name, kind = sys.intern(str(column.name)), column.type
        if name == "generation":
            columns.append((name, _GENERATION))
        elif isinstance(kind, Integer) and not isinstance(kind, BigInteger | SmallInteger):
            columns.append((name, _INTEGER))
        elif isinstance(kind, String):
            columns.append((name, _TEXT))
        elif isinstance(kind, DateTime):
            columns.append((name, _TIMESTAMPTZ))
        elif isinstance(kind, Date):
            columns.append((name, _DATE))
        elif isinstance(kind, Boolean):
            columns.append((name, _BOOLEAN))
        else:
            raise TypeError(f"{table.name}.{name}: no COPY encoding for {kind}")
    return tuple(columns)


def rows(rows: Iterable[dict[str, Any]], columns: Columns, generation: int) -> bytes:
    """Each dict as one tuple of `columns` (a missing or None value NULL). A value of another
    type than its column's raises `TypeError` naming the column, never the value."""
    return _copying.rows(rows, columns, generation)


def ids(event_ids: Iterable[str], generation: int) -> bytes:
    """`projected_events`' (generation, event_id) tuples."""
    return _copying.ids(event_ids, generation)
