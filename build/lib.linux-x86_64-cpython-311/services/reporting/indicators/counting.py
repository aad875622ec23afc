"""The counting queries: a count by village, month, part and unit (what a cube is built
from), a count by region over a period, the stocks at each month's end, and the villages with a
unit."""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    distinct,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import db
from services.reporting.cube import TOTAL, Figure, Leaf
from services.reporting.indicators.catalog import STAGE_ORDER, UNKNOWN, Count
from services.reporting.indicators.columns import aware, inside, lineage, month_of, region_of


def _measure(table: Table, measure: str) -> ColumnElement[Any]:
    kind, _, column = measure.partition(":")
    if kind == "sum":
        return func.coalesce(func.sum(table.c[column]), 0)
    if kind == "distinct":
        return func.count(distinct(table.c[column]))
    return func.count()


def _part(spec: Count, by: str | None) -> tuple[Table, ColumnElement[Any]]:
    """The table to count and the column giving each row's part (TOTAL without a breakdown)."""
    if not by:
        return spec.table, literal(TOTAL)
    breakdown = spec.breakdowns[by]
    table = breakdown.table if breakdown.table is not None else spec.table
    if breakdown.crossed is not None:
        other, column = breakdown.crossed
        # Constants inline, so PostgreSQL sees the same expression in SELECT and GROUP BY.
        comma = literal_column("','", String)
        unknown = literal_column(f"'{UNKNOWN}'", String)
        second = func.coalesce(other.c[column], unknown)
        return table, table.c[breakdown.column].concat(comma).concat(second)
    return table, table.c[breakdown.column]


def _source(spec: Count, by: str | None) -> FromClause:
    """What to count from: the table, joined to the case's other fact for a crossed part."""
    table, _ = _part(spec, by)
    crossed = spec.breakdowns[by].crossed if by else None
    if crossed is None:
        return table
    other = crossed[0]
    return table.outerjoin(
        other, (other.c.case_id == table.c.case_id) & (other.c.generation == table.c.generation)
    )


def _scoped(
    query: Select[Any],
    table: Table,
    spec: Count,
    generation: int,
    start: date,
    end: date,
    within: str,
) -> Select[Any]:
    query = query.where(table.c.generation == generation, table.c[spec.on].between(start, end))
    if within:
        query = query.where(inside(table.c.village_code, within))
    for column, value in spec.where:
        query = query.where(table.c[column] == value)
    return query


async def count_leaves(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    within: str,
    by: str | None,
) -> list[Leaf]:
    """A year of a count by village, month, part (TOTAL without a breakdown) and the unit
    that recorded it (how many units a figure is made of is what the contributor rule asks)."""
    table, part = _part(spec, by)
    month = month_of(table.c[spec.on], connection.dialect.name)
    groups = [table.c.village_code, table.c.unit_id, month, *([part] if by else [])]
    query = _scoped(
        select(
            table.c.village_code,
            month,
            part,
            _measure(table, spec.measure),
            *lineage(table),
            table.c.unit_id,
        ),
        table,
        spec,
        generation,
        date(year, 1, 1),
        date(year, 12, 31),
        within,
    ).group_by(*groups)
    query = query.select_from(_source(spec, by))
    if by:
        query = query.where(part.is_not(None))
    return await read_leaves(connection, query)


LEAVES_AT_ONCE = 250
"""Leaves read and made between two turns of the event loop: 2,000 at once held it for long
enough that requests answered meanwhile had a p99 of 79 ms while the suppressor made a
national read model's first cubes, 55 ms with 250 (`bench_platform --national-only`'s tables)."""


async def read_leaves(connection: AsyncConnection, query: Select[Any]) -> list[Leaf]:
    """The rows of `query` (village, month, part, value, events, latest and received times,
    unit) as leaves, `LEAVES_AT_ONCE` at a time: a province's year at national size is tens of
    thousands of rows, and requests are answered between two slices (read at once, they held
    the event loop for a tenth of a second a cube). A part of None is UNKNOWN."""
    leaves = []
    # Each village, month, part and unit held once, however many rows name it: the driver
    # makes a string of every value of every row, and a province's cube at national size is
    # read from about 100,000 rows (reporting's peak RSS on the national benchmark: 325 MB
    # with a string each, 296 MB held once and with the leaves in slots).
    held: dict[str, str] = {}
    once = held.setdefault
    found = await connection.stream(query)
    async for rows in found.partitions(LEAVES_AT_ONCE):
        for village, month, p, n, e, t, rc, unit in rows:
            latest, received = aware(t, rc)
            part_of = str(p) if p is not None else UNKNOWN
            leaves.append(
                Leaf(
                    once(village, village),
                    once(month, month),
                    once(part_of, part_of),
                    int(n),
                    int(e),
                    latest,
                    received,
                    None if unit is None else once(unit, unit),
                )
            )
    return leaves


async def count_by_region(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    start: date,
    end: date,
    level: str,
    within: str,
    by: str | None,
) -> list[tuple[str, str, int, int, Any, Any]]:
    """(region, part, value, events, latest happened, latest received) of a count over a
    period, grouped at `level`."""
    table, part = _part(spec, by)
    region = region_of(table.c.village_code, level)
    query = _scoped(
        select(
            region,
            part,
            _measure(table, spec.measure),
            *lineage(table),
        ),
        table,
        spec,
        generation,
        start,
        end,
        within,
    ).group_by(region, *([part] if by else []))
    query = query.select_from(_source(spec, by))
    if by:
        query = query.where(part.is_not(None))
    return [
        (str(r), str(p) if p is not None else UNKNOWN, int(n), int(e), *aware(t, rc))
        for r, p, n, e, t, rc in (await connection.execute(query)).all()
    ]


async def stock_leaves(
    connection: AsyncConnection, generation: int, year: int, within: str, stage: str
) -> list[Leaf]:
    """For each month end of `year`, the cases whose latest stage by then is `stage`, by the
    village of the unit that recorded that stage."""
    t = db.stage_entries.c
    query = select(
        t.case_id,
        t.village_code,
        t.stage,
        t.entered_on,
        t.events,
        t.last_event_at,
        t.last_received_at,
        t.unit_id,
    ).where(t.generation == generation, t.entered_on <= date(year, 12, 31))
    if within:
        query = query.where(inside(t.village_code, within))
    histories: dict[str, list[tuple[date, int, str, str, int, Any, Any, str]]] = {}
    for case_id, village, entered, entered_on, events, latest, received, unit in (
        await connection.execute(query)
    ).all():
        rank = STAGE_ORDER.index(entered) if entered in STAGE_ORDER else -1
        histories.setdefault(case_id, []).append(
            (_as_date(entered_on), rank, entered, village, events, *aware(latest, received), unit)
        )
    counts: dict[tuple[str, str, str], Figure] = {}
    for history in histories.values():
        history.sort()
        for month in range(1, 13):
            month_end = date(year, month, monthrange(year, month)[1])
            known = [h for h in history if h[0] <= month_end]
            if not known or known[-1][2] != stage:
                continue
            _on, _rank, _stage, village, events, latest, received, unit = known[-1]
            figure = counts.setdefault((village, f"{year}-{month:02d}", unit), Figure())
            figure.add(1, events, latest, received)
    return [
        Leaf(v, m, TOTAL, f.value, f.events, f.latest, f.received, u)
        for (v, m, u), f in counts.items()
    ]


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def unit_villages(connection: AsyncConnection, generation: int, within: str) -> list[str]:
    """Villages with a unit (the regions a table lists)."""
    query = select(distinct(db.units.c.village_code)).where(
        db.units.c.generation == generation, db.units.c.village_code.is_not(None)
    )
    if within:
        query = query.where(inside(db.units.c.village_code, within))
    return [str(v) for v in (await connection.execute(query)).scalars()]
