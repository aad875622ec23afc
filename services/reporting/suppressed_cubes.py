"""The suppressed cubes of the client-derived counts, one per count, province and year, kept
until the read model moves on. Every figure below province level that comes from clients is
cut from one of them: the counts' tables and series, and the counts that medians and rates
carry (admissions for the median days to intake; referrals and those attended for the
referral completion rate), so no table can be subtracted from another.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube, db
from services.reporting.cube import Cell, Cube, Figure, Leaf
from services.reporting.figures import Period, Row
from services.reporting.indicators import (
    Count,
    aware,
    count_leaves,
    inside,
    lineage,
    month_of,
    stock_leaves,
    unit_villages,
)
from services.reporting.projector import serving_generation

ATTENDED, NOT_ATTENDED = "attended", "not_attended"
"""Referrals the client attended and the rest (declined, no-show, not yet resolved): the
parts of a referrals cell that the completion rate carries."""


async def attendance_leaves(
    connection: AsyncConnection, generation: int, year: int, within: str
) -> list[Leaf]:
    """A year of referrals by village, month and whether the client attended."""
    r = db.referrals.c
    # Constants inline, so PostgreSQL sees the same expression in SELECT and GROUP BY.
    part = case(
        (r.resolution == literal_column(f"'{ATTENDED}'"), literal_column(f"'{ATTENDED}'")),
        else_=literal_column(f"'{NOT_ATTENDED}'"),
    )
    month = month_of(r.referred_on, connection.dialect.name)
    query = select(
        r.village_code, month, part, func.count(), *lineage(db.referrals), r.unit_id
    ).where(r.generation == generation, r.referred_on.between(date(year, 1, 1), date(year, 12, 31)))
    if within:
        query = query.where(inside(r.village_code, within))
    found = await connection.execute(query.group_by(r.village_code, r.unit_id, month, part))
    leaves = []
    for v, m, p, n, e, t, rc, unit in found.all():
        latest, received = aware(t, rc)
        leaves.append(Leaf(v, m, str(p), int(n), int(e), latest, received, unit))
    return leaves


COMPANIONS: dict[
    str, tuple[tuple[str, ...], Callable[[AsyncConnection, int, int, str], Awaitable[list[Leaf]]]]
] = {"referrals": ((ATTENDED, NOT_ATTENDED), attendance_leaves)}
"""Breakdowns that indicators other than the count itself publish (the completion rate's
attended referrals): suppressed together with the count's main breakdown."""


async def suppressed_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
    k: int,
    max_age: float = 0.0,
    min_units: int = 1,
) -> Cube:
    """The province's year of a client-derived count, suppressed. Totals are suppressed
    together with the count's first breakdown that adds up to them, with the breakdowns that
    refine it (closures by outcome and risk level) and with its companion (the breakdown a
    rate carries), so a reader holding all those tables cannot combine them;
    any other breakdown keeps that pattern for its totals. Kept until the read model moves on
    (a cube takes a while to suppress; tables cut from it don't)."""
    return await cached(
        connection,
        (spec.name, generation, year, province, by, k, min_units),
        lambda: _suppressed_cube(connection, spec, generation, year, province, by, k, min_units),
        max_age,
    )


_CUBES: dict[tuple[object, ...], tuple[int, float, Cube]] = {}


async def cached(
    connection: AsyncConnection,
    key: tuple[object, ...],
    build: Callable[[], Awaitable[Cube]],
    max_age: float = 0.0,
) -> Cube:
    """A cube kept until the read model moves on (any batch written changes `reached`), or,
    with `max_age`, for that many seconds whatever arrives: a large province's cube takes
    seconds to suppress, and a steady stream of events would otherwise rebuild it for every
    request."""
    _, reached = await serving_generation(connection)
    full = (str(connection.engine.url), *key)
    kept = _CUBES.get(full)
    now = time.monotonic()
    if kept is not None and (kept[0] == reached or now - kept[1] < max_age):
        return kept[2]
    built = await build()
    if full not in _CUBES and len(_CUBES) >= 64:
        _CUBES.pop(next(iter(_CUBES)))
    _CUBES[full] = (reached, now, built)
    return built


async def stock_cube(
    connection: AsyncConnection,
    generation: int,
    year: int,
    province: str,
    stage: str,
    k: int,
    min_units: int = 1,
) -> Cube:
    villages = await unit_villages(connection, generation, province)
    leaves = await stock_leaves(connection, generation, year, province, stage)
    built = cube.build(year, leaves, villages, flow=False)
    return cube.apply_suppression(built, k, min_units=min_units)


async def _suppressed_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
    k: int,
    min_units: int = 1,
) -> Cube:
    villages = await unit_villages(connection, generation, province)
    main = next((name for name, b in spec.breakdowns.items() if b.additive), None)
    leaves = await count_leaves(connection, spec, generation, year, province, main)
    built = cube.build(year, leaves, villages, parts=spec.breakdowns[main].values if main else ())
    if spec.name in COMPANIONS:
        parts, companion_leaves = COMPANIONS[spec.name]
        companion = await companion_leaves(connection, generation, year, province)
        built = cube.merge(built, cube.build(year, companion, villages, parts=parts))
    for name, crossed in spec.breakdowns.items():
        if crossed.refines is not None:
            assert crossed.refines == main, "a crossed breakdown refines the main one"
            fine = await count_leaves(connection, spec, generation, year, province, name)
            built = cube.refine(built, cube.build(year, fine, villages, parts=crossed.values))
    base = cube.apply_suppression(built, k, min_units=min_units)
    if by is None or by == main or spec.breakdowns[by].refines is not None:
        return base
    breakdown = spec.breakdowns[by]
    totals = await count_leaves(connection, spec, generation, year, province, None)
    other = await count_leaves(connection, spec, generation, year, province, by)
    return cube.apply_suppression(
        cube.build(
            year,
            other,
            villages,
            parts=breakdown.values,
            additive=breakdown.additive,
            totals=totals,
        ),
        k,
        totals=base,
        min_units=min_units,
    )


async def period_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    period: Period,
    province: str,
    by: str | None,
    k: int,
    max_age: float = 0.0,
    min_units: int = 1,
) -> Cube:
    """The cube holding the province's cells of `period`. A year's or a month's is its year's
    cube. A quarter's or a range's cells are sums of the months' (years') cells of those
    cubes: a region's is shown where every month (year) in it is shown, and withheld
    otherwise, so a quarter or range tells a reader only sums of figures already published,
    whichever quarters and overlapping ranges they read together."""
    if period.quarter is None and period.until is None:
        return await suppressed_cube(
            connection, spec, generation, period.year, province, by, k, max_age, min_units
        )
    label = str(period)
    if period.quarter is not None:
        year = await suppressed_cube(
            connection, spec, generation, period.year, province, by, k, max_age, min_units
        )
        pieces = [(year, month) for month in period.months]
    else:
        pieces = [
            (
                await suppressed_cube(
                    connection, spec, generation, y, province, by, k, max_age, min_units
                ),
                str(y),
            )
            for y in period.years
        ]
    return combined(label, pieces)


def combined(label: str, pieces: list[tuple[Cube, str]]) -> Cube:
    """The cells `label` of a period made of the `pieces` (a cube and one of its periods):
    each region's and part's figure is their sum, withheld where any piece is withheld
    (unless that piece is known to be zero)."""
    first = pieces[0][0]
    derived = Cube(first.year, first.parts, first.additive)
    regions = {cell.region for c, _ in pieces for cell in (*c.figures, *c.withheld)}
    regions |= {cell.region for r in first.relations for cell in (r.total, *r.parts)}
    for region in regions:
        for part in first.parts:
            cell = Cell(region, label, part)
            figure = derived.figures.setdefault(cell, Figure())
            for c, piece in pieces:
                inner = Cell(region, piece, part)
                if hidden(c, inner):
                    derived.withheld.add(cell)
                found = c.figure(inner)
                figure.add(found.value, found.events, found.latest, found.received)
    return derived


def hidden(c: Cube, cell: Cell) -> bool:
    """Withheld and not known anyway: a region's zero in a province whose published figure
    is zero is no secret (in a year with no screenings, every village had none)."""
    return cell in c.withheld and c.figure(cell._replace(region=cell.region[:2])).value > 0


def row_of(c: Cube, cell: Cell) -> Row:
    """A cell of a suppressed cube as a row: withheld cells carry no figure and no lineage."""
    if cell in c.withheld:
        return Row(cell.region, cell.part, None, withheld=True)
    figure = c.figure(cell)
    return Row(
        cell.region,
        cell.part,
        figure.value,
        False,
        figure.events,
        figure.latest,
        latest_received_at=figure.received,
    )
