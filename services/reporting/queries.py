"""Tables and time series of indicators, as the API serves them: the read model's current
generation, grouped by region at the requested level, client-derived cells below province level
withheld by the cube's suppression, every figure with its lineage.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Cube, Figure
from services.reporting.figures import REGION, Ask, Row
from services.reporting.indicators import (
    CLIENT_DERIVED_SPECIAL,
    COUNTS,
    SPECIAL,
    STOCKS,
    Count,
    count_by_region,
    count_leaves,
    stock_leaves,
    unit_villages,
)
from services.reporting.projector import serving_generation
from services.reporting.special import special_table
from shared.rules import Violation, check


def validate(ask: Ask) -> None:
    v = []
    if not REGION.fullmatch(ask.within):
        v.append(Violation("within", "region-code", "a Kemendagri code: 74, 74.71, 74.71.01, …"))
    if ask.indicator not in COUNTS and ask.indicator not in SPECIAL | STOCKS.keys():
        v.append(Violation("indicator", "known-indicator", f"no indicator {ask.indicator!r}"))
    if ask.level not in cube.LEVELS:
        v.append(Violation("level", "one-of", f"one of {', '.join(cube.LEVELS)}"))
    elif cube.LEVELS.index(ask.level) < cube.LEVELS.index(cube.level_of(ask.within)):
        v.append(Violation("level", "under-within", "the level must lie within the region"))
    if ask.by is not None:
        spec = COUNTS.get(ask.indicator)
        if spec is None or ask.by not in spec.breakdowns:
            known = ", ".join(spec.breakdowns) if spec else "none"
            v.append(Violation("by", "known-breakdown", f"breakdowns of this indicator: {known}"))
    if (
        is_client_derived(ask.indicator)
        and ask.level in ("regency", "district", "village")
        and not ask.within
    ):
        v.append(
            Violation(
                "within",
                "within-province",
                "tables below province level are served one province at a time",
            )
        )
    check(v)


def is_client_derived(indicator: str) -> bool:
    spec = COUNTS.get(indicator)
    if spec is not None:
        return spec.client_derived
    return indicator in CLIENT_DERIVED_SPECIAL or indicator in STOCKS


async def table(connection: AsyncConnection, ask: Ask) -> tuple[Row, list[Row]]:
    """The figure for the region asked `within` and its rows at `level`."""
    validate(ask)
    generation, _ = await serving_generation(connection)
    spec = COUNTS.get(ask.indicator)
    if spec is not None:
        if spec.client_derived and ask.level in ("regency", "district", "village"):
            return await _from_cube(connection, spec, generation, ask)
        return await _direct(connection, spec, generation, ask)
    regions = await _regions(connection, generation, ask.level, ask.within)
    if ask.indicator in STOCKS:
        stage = STOCKS[ask.indicator][0]
        province = ask.within.split(".")[0]
        c = await _cached(
            connection,
            ("stock", stage, generation, ask.period.year, province, ask.k),
            lambda: _stock_cube(connection, generation, ask.period.year, province, stage, ask.k),
            ask.cube_max_age,
        )
        period = str(ask.period)
        return row_of(c, Cell(ask.within, period, TOTAL)), [
            row_of(c, Cell(r, period, TOTAL)) for r in regions
        ]
    return await special_table(connection, generation, ask, regions)


async def _regions(
    connection: AsyncConnection, generation: int, level: str, within: str
) -> list[str]:
    villages = await unit_villages(connection, generation, within)
    depth = cube.LEVELS.index(level)
    return sorted({cube.ancestors(v)[depth] for v in villages})


def _parts(spec: Count, by: str | None) -> tuple[str, ...]:
    return spec.breakdowns[by].values if by else (TOTAL,)


async def suppressed_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
    k: int,
    max_age: float = 0.0,
) -> Cube:
    """The province's year of a client-derived count, suppressed. Totals are suppressed
    together with the count's first breakdown that adds up to them, so a reader holding both
    tables cannot combine them; any other breakdown keeps that pattern for its totals. Kept
    until the read model moves on (a cube takes a while to suppress; tables cut from it don't).
    """
    return await _cached(
        connection,
        (spec.name, generation, year, province, by, k),
        lambda: _suppressed_cube(connection, spec, generation, year, province, by, k),
        max_age,
    )


_CUBES: dict[tuple[object, ...], tuple[int, float, Cube]] = {}


async def _cached(
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


async def _stock_cube(
    connection: AsyncConnection, generation: int, year: int, province: str, stage: str, k: int
) -> Cube:
    villages = await unit_villages(connection, generation, province)
    leaves = await stock_leaves(connection, generation, year, province, stage)
    return cube.apply_suppression(cube.build(year, leaves, villages, flow=False), k)


async def _suppressed_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
    k: int,
) -> Cube:
    villages = await unit_villages(connection, generation, province)
    main = next((name for name, b in spec.breakdowns.items() if b.additive), None)
    leaves = await count_leaves(connection, spec, generation, year, province, main)
    base = cube.apply_suppression(
        cube.build(year, leaves, villages, parts=spec.breakdowns[main].values if main else ()),
        k,
    )
    if by is None or by == main:
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
    )


def row_of(c: Cube, cell: Cell) -> Row:
    """A cell of a suppressed cube as a row: withheld cells carry no figure and no lineage."""
    if cell in c.withheld:
        return Row(cell.region, cell.part, None, withheld=True)
    figure = c.figure(cell)
    return Row(cell.region, cell.part, figure.value, False, figure.events, figure.latest)


async def _from_cube(
    connection: AsyncConnection, spec: Count, generation: int, ask: Ask
) -> tuple[Row, list[Row]]:
    province = ask.within.split(".")[0]
    c = await suppressed_cube(
        connection, spec, generation, ask.period.year, province, ask.by, ask.k, ask.cube_max_age
    )
    period = str(ask.period)
    regions = await _regions(connection, generation, ask.level, ask.within)
    rows = [row_of(c, Cell(r, period, p)) for r in regions for p in _parts(spec, ask.by)]
    return row_of(c, Cell(ask.within, period, TOTAL)), rows


async def _direct(
    connection: AsyncConnection, spec: Count, generation: int, ask: Ask
) -> tuple[Row, list[Row]]:
    """National and province figures (or figures not derived from clients): no suppression."""
    p = ask.period
    found = await count_by_region(
        connection, spec, generation, p.start, p.end, ask.level, ask.within, ask.by
    )
    figures = {(r, part): Figure(n, e, t) for r, part, n, e, t in found}
    regions = await _regions(connection, generation, ask.level, ask.within)
    rows = []
    for region in sorted(set(regions) | {r for r, _ in figures}):
        for part in _parts(spec, ask.by):
            f = figures.get((region, part), Figure())
            rows.append(Row(region, part, f.value, False, f.events, f.latest))
    level = cube.level_of(ask.within)
    (total,) = await count_by_region(
        connection, spec, generation, p.start, p.end, level, ask.within, None
    ) or [(ask.within, TOTAL, 0, 0, None)]
    return Row(ask.within, TOTAL, total[2], False, total[3], total[4]), rows
