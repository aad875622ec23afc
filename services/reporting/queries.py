"""Tables and time series of indicators, as the API serves them: the read model's current
generation, grouped by region at the requested level, client-derived cells below province level
withheld by the cube's suppression, every figure with its lineage.
"""

from __future__ import annotations

import json
import re
import statistics
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube, db
from services.reporting.cube import TOTAL, Cell, Cube, Figure
from services.reporting.indicators import (
    CLIENT_DERIVED_SPECIAL,
    COUNTS,
    SPECIAL,
    Count,
    count_by_region,
    count_leaves,
    region_of,
    unit_villages,
)
from services.reporting.projector import serving_generation
from shared.rules import Violation, check

PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2}))?")
REGION = re.compile(r"(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?")


@dataclass(frozen=True)
class Period:
    year: int
    month: int | None = None

    @classmethod
    def parse(cls, text: str) -> Period:
        match = PERIOD.fullmatch(text)
        if match and 2000 <= int(match["year"]) <= 2100:
            month = match["month"]
            if month is None or 1 <= int(month) <= 12:
                return cls(int(match["year"]), int(month) if month else None)
        check([Violation("period", "year-or-month", "a year (2026) or a month (2026-05)")])
        raise AssertionError  # unreachable

    def __str__(self) -> str:
        return f"{self.year}" if self.month is None else f"{self.year}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month or 1, 1)

    @property
    def end(self) -> date:
        month = self.month or 12
        return date(self.year, month, monthrange(self.year, month)[1])


@dataclass
class Row:
    region: str
    part: str
    value: float | None
    withheld: bool = False
    events: int | None = None
    latest_event_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "level": cube.level_of(self.region),
            "part": self.part,
            "value": self.value,
            "withheld": self.withheld,
            "events": self.events,
            "latest_event_at": self.latest_event_at,
            **self.extra,
        }


@dataclass(frozen=True)
class Ask:
    indicator: str
    period: Period
    level: str
    within: str
    by: str | None
    k: int
    window_months: int = 1
    targets: Path | None = None


def validate(ask: Ask) -> None:
    v = []
    if not REGION.fullmatch(ask.within):
        v.append(Violation("within", "region-code", "a Kemendagri code: 74, 74.71, 74.71.01, …"))
    if ask.indicator not in COUNTS and ask.indicator not in SPECIAL:
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
    return spec.client_derived if spec else indicator in CLIENT_DERIVED_SPECIAL


async def table(connection: AsyncConnection, ask: Ask) -> tuple[Row, list[Row]]:
    """The figure for the region asked `within` and its rows at `level`."""
    validate(ask)
    generation, _ = await serving_generation(connection)
    spec = COUNTS.get(ask.indicator)
    if spec is not None:
        if spec.client_derived and ask.level in ("regency", "district", "village"):
            return await _from_cube(connection, spec, generation, ask)
        return await _direct(connection, spec, generation, ask)
    return await _special(connection, generation, ask)


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
) -> Cube:
    """The province's year of a client-derived count, suppressed. Totals are suppressed
    together with the count's first breakdown that adds up to them, so a reader holding both
    tables cannot combine them; any other breakdown keeps that pattern for its totals. Kept
    until the read model moves on (a cube takes a while to suppress; tables cut from it don't).
    """
    _, reached = await serving_generation(connection)
    key = (str(connection.engine.url), spec.name, generation, reached, year, province, by, k)
    if key in _CUBES:
        return _CUBES[key]
    built = await _suppressed_cube(connection, spec, generation, year, province, by, k)
    if len(_CUBES) >= 64:
        _CUBES.pop(next(iter(_CUBES)))
    _CUBES[key] = built
    return built


_CUBES: dict[tuple[object, ...], Cube] = {}


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


def _row(c: Cube, cell: Cell) -> Row:
    if cell in c.withheld:
        return Row(cell.region, cell.part, None, withheld=True)
    figure = c.figure(cell)
    return Row(cell.region, cell.part, figure.value, False, figure.events, figure.latest)


async def _from_cube(
    connection: AsyncConnection, spec: Count, generation: int, ask: Ask
) -> tuple[Row, list[Row]]:
    province = ask.within.split(".")[0]
    c = await suppressed_cube(
        connection, spec, generation, ask.period.year, province, ask.by, ask.k
    )
    period = str(ask.period)
    regions = await _regions(connection, generation, ask.level, ask.within)
    rows = [_row(c, Cell(r, period, p)) for r in regions for p in _parts(spec, ask.by)]
    return _row(c, Cell(ask.within, period, TOTAL)), rows


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


# --- indicators that are not plain counts ---------------------------------------------------

EPOCH = date(1900, 1, 1)


async def _special(connection: AsyncConnection, generation: int, ask: Ask) -> tuple[Row, list[Row]]:
    p, v = ask.period, []
    if ask.indicator in ("sustained_units", "units_against_target") and p.month is not None:
        v.append(Violation("period", "year-only", "this indicator is yearly"))
    if ask.indicator == "units_against_target" and ask.level not in ("national", "province"):
        v.append(Violation("level", "national-or-province", "targets are national and provincial"))
    check(v)
    regions = await _regions(connection, generation, ask.level, ask.within)
    compute = {
        "units_cumulative": _cumulative,
        "units_against_target": _against_target,
        "operational_units": _operational,
        "sustained_units": _sustained,
        "median_days_to_intake": _median_days,
        "referral_completion_rate": _completion_rate,
    }[ask.indicator]
    by_region = await compute(connection, generation, ask, ask.level)
    rows = [by_region.get(r) or Row(r, TOTAL, None) for r in sorted(set(regions) | set(by_region))]
    around = await compute(connection, generation, ask, cube.level_of(ask.within))
    return around.get(ask.within) or Row(ask.within, TOTAL, None), rows


Computed = dict[str, Row]


async def _formed_by(
    connection: AsyncConnection, generation: int, end: date, level: str, within: str
) -> dict[str, tuple[int, int, Any]]:
    found = await count_by_region(
        connection, COUNTS["units_formed"], generation, EPOCH, end, level, within, None
    )
    return {r: (n, e, t) for r, _, n, e, t in found}


async def _cumulative(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    formed = await _formed_by(connection, generation, ask.period.end, level, ask.within)
    return {r: Row(r, TOTAL, n, False, e, t) for r, (n, e, t) in formed.items()}


async def _against_target(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p = ask.period
    found = await count_by_region(
        connection, COUNTS["units_formed"], generation, p.start, p.end, level, ask.within, None
    )
    targets = json.loads(ask.targets.read_text()) if ask.targets else {}
    rows = {}
    for region, _, n, e, t in found:
        yearly = (
            targets.get("national", {})
            if not region
            else targets.get("provinces", {}).get(region, {})
        )
        target = yearly.get(str(p.year))
        share = round(n / target, 4) if target else None
        rows[region] = Row(region, TOTAL, n, False, e, t, {"target": target, "share": share})
    return rows


def _active_units(generation: int, start: date, end: date, within: str) -> Any:
    """Units that held an activity, delivered a service or screened someone between the dates."""
    parts = []
    for table, column in (
        (db.activities, "held_on"),
        (db.services_held, "held_on"),
        (db.screenings, "screened_on"),
    ):
        query = select(
            table.c.unit_id, table.c.village_code, table.c.events, table.c.last_event_at
        ).where(table.c.generation == generation, table.c[column].between(start, end))
        if within:
            query = query.where(table.c.village_code.startswith(f"{within}."))
        parts.append(query)
    return union_all(*parts).subquery()


async def _operational_between(
    connection: AsyncConnection,
    generation: int,
    start: date,
    end: date,
    level: str,
    within: str,
    formed_before: date | None = None,
) -> dict[str, tuple[int, int, Any]]:
    active = _active_units(generation, start, end, within)
    query = select(
        region_of(active.c.village_code, level),
        func.count(distinct(active.c.unit_id)),
        func.sum(active.c.events),
        func.max(active.c.last_event_at),
    )
    if formed_before is not None:
        query = query.join(
            db.units,
            (db.units.c.unit_id == active.c.unit_id) & (db.units.c.generation == generation),
        ).where(db.units.c.formed_on < formed_before)
    query = query.group_by(region_of(active.c.village_code, level))
    return {str(r): (int(n), int(e), t) for r, n, e, t in (await connection.execute(query)).all()}


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


async def _operational(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p = ask.period
    start = p.start
    if p.month is not None:  # the window: this month and the ones before it
        month_index = p.year * 12 + p.month - 1 - (ask.window_months - 1)
        start = date(month_index // 12, month_index % 12 + 1, 1)
    active = await _operational_between(connection, generation, start, p.end, level, ask.within)
    formed = await _formed_by(connection, generation, p.end, level, ask.within)
    return {
        r: Row(
            r,
            TOTAL,
            n,
            False,
            e,
            t,
            {"formed": formed.get(r, (0,))[0], "share": _share(n, formed.get(r, (0,))[0])},
        )
        for r, (n, e, t) in active.items()
    }


async def _sustained(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p = ask.period
    sustained = await _operational_between(
        connection, generation, p.start, p.end, level, ask.within, formed_before=p.start
    )
    earlier = await _formed_by(connection, generation, date(p.year - 1, 12, 31), level, ask.within)
    return {
        r: Row(
            r,
            TOTAL,
            n,
            False,
            e,
            t,
            {"formed_before": earlier.get(r, (0,))[0], "share": _share(n, earlier.get(r, (0,))[0])},
        )
        for r, (n, e, t) in sustained.items()
    }


async def _median_days(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    c, s = db.cases.c, db.screenings.c
    query = (
        select(c.village_code, c.enrolled_on, s.screened_on, c.events, c.last_event_at)
        .join(db.screenings, (s.case_id == c.case_id) & (s.generation == c.generation))
        .where(c.generation == generation, c.enrolled_on.between(ask.period.start, ask.period.end))
    )
    if ask.within:
        query = query.where(c.village_code.startswith(f"{ask.within}."))
    groups: dict[str, list[tuple[int, int, Any]]] = {}
    depth = cube.LEVELS.index(level)
    for village, enrolled, screened, events, latest in (await connection.execute(query)).all():
        days = (_day(enrolled) - _day(screened)).days
        groups.setdefault(cube.ancestors(village)[depth], []).append((max(days, 0), events, latest))
    rows = {}
    for region, items in groups.items():
        n = len(items)
        if cube.below_province(Cell(region, "", TOTAL)) and n < ask.k:
            rows[region] = Row(region, TOTAL, None, withheld=True)
            continue
        rows[region] = Row(
            region,
            TOTAL,
            float(statistics.median(d for d, _, _ in items)),
            False,
            sum(e for _, e, _ in items),
            max(t for _, _, t in items),
            {"clients": n},
        )
    return rows


async def _completion_rate(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    r = db.referrals.c
    attended = func.sum(func.cast(r.resolution == "attended", db.cases.c.events.type))
    query = select(
        region_of(r.village_code, level),
        func.count(),
        attended,
        func.sum(r.events),
        func.max(r.last_event_at),
    ).where(
        r.generation == generation,
        r.referred_on.between(ask.period.start, ask.period.end),
    )
    if ask.within:
        query = query.where(r.village_code.startswith(f"{ask.within}."))
    rows = {}
    for region, total, done, events, latest in (
        await connection.execute(query.group_by(region_of(r.village_code, level)))
    ).all():
        done = int(done or 0)
        small = any(0 < n < ask.k for n in (total, done, total - done))
        if small and cube.below_province(Cell(region, "", TOTAL)):
            rows[region] = Row(region, TOTAL, None, withheld=True)
            continue
        rows[region] = Row(
            region,
            TOTAL,
            _share(done, total),
            False,
            events,
            latest,
            {"referred": total, "attended": done},
        )
    return rows


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
