"""Tables and time series of indicators, as the API serves them: the read model's current
generation, grouped by region at the requested level, client-derived cells below province level
withheld by the cube's suppression, every figure with its lineage.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube, db
from services.reporting.cube import TOTAL, Cell, Figure
from services.reporting.figures import REGION, Ask, Row
from services.reporting.generations import serving_generation
from services.reporting.indicators import (
    CLIENT_DERIVED_SPECIAL,
    CODE_LENGTH,
    COUNTS,
    SPECIAL,
    STOCKS,
    Count,
    count_by_region,
    inside,
    unit_villages,
)
from services.reporting.periods import period_cube, row_of
from services.reporting.special.tables import special_table
from services.reporting.suppressed_cubes import served, stock_key
from shared.regions import PROVINCE_CODES
from shared.rules import Violation, check

WIT = timezone(timedelta(hours=9))
"""Indonesia's easternmost zone: a period has begun once it has begun there."""


def validate(ask: Ask) -> None:
    v = future(ask.period.last_begins, "period")
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
    if ask.cohort is not None:
        if ask.indicator not in COHORTS:
            v.append(
                Violation("cohort", "cohort-indicator", f"cohorts of units: {', '.join(COHORTS)}")
            )
        v += future(ask.cohort.last_begins, "cohort")
    check(v)


COHORTS = ("operational_units", "sustained_units")
"""The indicators a cohort of units (by formation years) applies to."""


def future(start: date, field: str, today: date | None = None) -> list[Violation]:
    """A period that has not begun anywhere in Indonesia has no figures yet, not zeros."""
    today = today or datetime.now(UTC).astimezone(WIT).date()
    if start <= today:
        return []
    return [Violation(field, "not-future", f"the period must have begun (today is {today})")]


async def known_region(
    connection: AsyncConnection, generation: int, region: str, field: str
) -> list[Violation]:
    """Indonesia, its provinces, and the regions below them where a unit has been formed:
    reporting knows a region below province level by its units, and a code it does not know
    has no figures, not zeros."""
    if not region or region in PROVINCE_CODES:
        return []
    u = db.units.c
    query = select(u.village_code).where(
        u.generation == generation,
        inside(u.village_code, region),
    )
    if (await connection.execute(query.limit(1))).first() is not None:
        return []
    return [
        Violation(
            field,
            "known-region",
            f"no unit has been formed in {region!r}: reporting "
            "knows a province by its code and a region below it by its units",
        )
    ]


def is_client_derived(indicator: str) -> bool:
    spec = COUNTS.get(indicator)
    if spec is not None:
        return spec.client_derived
    return indicator in CLIENT_DERIVED_SPECIAL or indicator in STOCKS


_BELOW_PROVINCE = ("regency", "district", "village")


def cubes_read(ask: Ask) -> tuple[str | None, str] | None:
    """Which suppressed cubes `table` reads for `ask`: (the count or stage they are of, or
    None for any of the province's, the province; '' for Indonesia), or None when it reads
    none (national and province figures of counts, counts not derived from clients)."""
    province = ask.within.split(".")[0]
    spec = COUNTS.get(ask.indicator)
    if spec is not None:
        if spec.client_derived and ask.level in _BELOW_PROVINCE:
            return ask.indicator, province
        return None
    if ask.indicator in STOCKS:
        return STOCKS[ask.indicator][0], province
    return None, province


async def table(connection: AsyncConnection, ask: Ask) -> tuple[Row, list[Row]]:
    """The figure for the region asked `within` and its rows at `level`."""
    validate(ask)
    generation, _ = await serving_generation(connection)
    check(await known_region(connection, generation, ask.within, "within"))
    spec = COUNTS.get(ask.indicator)
    if spec is not None:
        if spec.client_derived and ask.level in _BELOW_PROVINCE:
            return await _from_cube(connection, spec, generation, ask)
        return await _direct(connection, spec, generation, ask)
    regions = await _regions(connection, generation, ask.level, ask.within)
    if ask.indicator in STOCKS:
        # A stock is counted at the period's end: a quarter's is its last month's, a range's
        # its last year's (December), the very cells those tables show.
        stage, end = STOCKS[ask.indicator][0], ask.period.end
        province = ask.within.split(".")[0]
        c = await served(
            connection, stock_key(stage, generation, end.year, province, ask.k, ask.min_units)
        )
        at = str(end.year) if ask.period.whole_years else f"{end.year}-{end.month:02d}"
        return row_of(c, Cell(ask.within, at, TOTAL)), [
            row_of(c, Cell(r, at, TOTAL)) for r in regions
        ]
    return await special_table(connection, generation, ask, regions)


async def _regions(
    connection: AsyncConnection, generation: int, level: str, within: str
) -> list[str]:
    villages = await unit_villages(connection, generation, within)
    length = CODE_LENGTH[level]  # a prefix, not `cube.ancestors`: 6,000 villages a request
    return sorted({v[:length] for v in villages})


def _parts(spec: Count, by: str | None) -> tuple[str, ...]:
    return spec.breakdowns[by].values if by else (TOTAL,)


async def _from_cube(
    connection: AsyncConnection, spec: Count, generation: int, ask: Ask
) -> tuple[Row, list[Row]]:
    province = ask.within.split(".")[0]
    c = await period_cube(
        connection,
        spec,
        generation,
        ask.period,
        province,
        ask.by,
        ask.k,
        ask.cube_max_age,
        ask.min_units,
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
    figures = {(r, part): Figure(n, e, t, rc) for r, part, n, e, t, rc in found}
    regions = await _regions(connection, generation, ask.level, ask.within)
    rows = []
    for region in sorted(set(regions) | {r for r, _ in figures}):
        for part in _parts(spec, ask.by):
            f = figures.get((region, part), Figure())
            rows.append(Row(region, part, f.value, False, f.events, f.latest, {}, f.received))
    if ask.by is None and not spec.measure.startswith("distinct:"):
        # Every row inside `within` falls in one region's group: the total is their sum (a
        # second count of a national table is a second pass over a million screenings).
        return _sum_of(ask.within, found), rows
    level = cube.level_of(ask.within)
    (total,) = await count_by_region(
        connection, spec, generation, p.start, p.end, level, ask.within, None
    ) or [(ask.within, TOTAL, 0, 0, None, None)]
    _, _, n, events, latest, received = total
    return Row(ask.within, TOTAL, n, False, events, latest, {}, received), rows


def _sum_of(region: str, found: list[tuple[str, str, int, int, Any, Any]]) -> Row:
    """The row of `region` from its parts' groups: values and events added, the latest of
    their latest times."""
    latest = max((t for *_, t, _ in found if t is not None), default=None)
    received = max((rc for *_, rc in found if rc is not None), default=None)
    return Row(
        region,
        TOTAL,
        sum(n for _, _, n, *_ in found),
        False,
        sum(e for _, _, _, e, *_ in found),
        latest,
        {},
        received,
    )
