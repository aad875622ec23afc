"""The indicators that are not plain counts: cumulative units, units against targets,
operational and sustained units, the median days from screening to intake and the referral
completion rate. Each computes its rows at a level; below province level the two derived
from clients are cut from the suppressed cubes of the counts they carry (admissions;
referrals with those attended), so they show a region exactly where those tables do and
carry only the figures those tables show."""

from __future__ import annotations

import json
import statistics
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy import distinct, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube, db
from services.reporting.cube import TOTAL, Cell, Cube
from services.reporting.figures import Ask, Row
from services.reporting.indicators import (
    COUNTS,
    aware,
    count_by_region,
    inside,
    lineage,
    region_of,
)
from services.reporting.suppressed_cubes import ATTENDED, NOT_ATTENDED, period_cube, row_of
from shared.rules import Violation, check

EPOCH = date(1900, 1, 1)


Computed = dict[str, Row]
"""Rows by region code."""
Counted = tuple[int, int, Any, Any]
"""Units counted, the events that fed them, when the latest fact happened and arrived."""


async def special_table(
    connection: AsyncConnection, generation: int, ask: Ask, regions: list[str]
) -> tuple[Row, list[Row]]:
    """The figure for the region asked `within` and its rows at `level` (`regions`: those
    with units there)."""
    p, v = ask.period, []
    if ask.indicator in ("sustained_units", "units_against_target") and not p.whole_years:
        v.append(
            Violation("period", "years-only", "this indicator is over a year or a range of years")
        )
    if ask.indicator == "sustained_units" and ask.cohort and ask.cohort.end >= p.start:
        v.append(
            Violation(
                "cohort",
                "formed-before-period",
                "sustained units are operational after the years they were formed in: "
                "the cohort must end before the period begins",
            )
        )
    if ask.indicator == "units_against_target" and ask.level not in ("national", "province"):
        v.append(Violation("level", "national-or-province", "targets are national and provincial"))
    check(v)
    rows = await _rows(connection, generation, ask, ask.level, regions)
    around = await _rows(connection, generation, ask, cube.level_of(ask.within), [ask.within])
    return next(r for r in around if r.region == ask.within), rows


async def _rows(
    connection: AsyncConnection, generation: int, ask: Ask, level: str, regions: list[str]
) -> list[Row]:
    """The rows at `level`. A figure derived from clients below province level is cut from
    the suppressed cube of the count it carries, for the regions with units (as the count's
    own table); above, every region with a figure."""
    by_region = await _COMPUTE[ask.indicator](connection, generation, ask, level)
    cut = _CUT.get(ask.indicator)
    if cut is not None and level not in ("national", "province"):
        count, row = cut
        c = await period_cube(
            connection,
            COUNTS[count],
            generation,
            ask.period,
            ask.within[:2],
            None,
            ask.k,
            ask.cube_max_age,
            ask.min_units,
        )
        return [row(c, Cell(r, str(ask.period), TOTAL), by_region.get(r), ask.k) for r in regions]
    if level in ("national", "province") and ask.indicator == "median_days_to_intake":
        await _with_admissions(connection, generation, ask, level, by_region)
    return [by_region.get(r) or Row(r, TOTAL, None) for r in sorted(set(regions) | set(by_region))]


async def _cumulative(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    formed = await _formed_between(connection, generation, EPOCH, ask.period.end, level, ask.within)
    return {r: Row(r, TOTAL, n, False, e, t, {}, rc) for r, (n, e, t, rc) in formed.items()}


async def _against_target(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p = ask.period
    found = await count_by_region(
        connection, COUNTS["units_formed"], generation, p.start, p.end, level, ask.within, None
    )
    targets = json.loads(ask.targets.read_text()) if ask.targets else {}
    rows = {}
    for region, _, n, e, t, rc in found:
        yearly = (
            targets.get("national", {})
            if not region
            else targets.get("provinces", {}).get(region, {})
        )
        # A range's target is the sum of its years' (none when a year has none).
        each = [yearly.get(str(y)) for y in p.years]
        target = sum(each) if all(t is not None for t in each) else None
        share = round(n / target, 4) if target else None
        extra = {"target": target, "share": share}
        rows[region] = Row(region, TOTAL, n, False, e, t, extra, rc)
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
            table.c.unit_id,
            table.c.village_code,
            table.c.events,
            table.c.last_event_at,
            table.c.last_received_at,
        ).where(table.c.generation == generation, table.c[column].between(start, end))
        if within:
            query = query.where(inside(table.c.village_code, within))
        parts.append(query)
    return union_all(*parts).subquery()


async def _operational_between(
    connection: AsyncConnection,
    generation: int,
    start: date,
    end: date,
    level: str,
    within: str,
    formed: tuple[date, date] | None = None,
) -> dict[str, Counted]:
    """Units with at least one activity, service or screening between the dates (of those
    `formed` between two dates, when given), by region."""
    active = _active_units(generation, start, end, within)
    query = select(
        region_of(active.c.village_code, level),
        func.count(distinct(active.c.unit_id)),
        *lineage(active),
    )
    if formed is not None:
        query = query.join(
            db.units,
            (db.units.c.unit_id == active.c.unit_id) & (db.units.c.generation == generation),
        ).where(db.units.c.formed_on.between(*formed))
    query = query.group_by(region_of(active.c.village_code, level))
    return {
        str(r): (int(n), int(e), *aware(t, rc))
        for r, n, e, t, rc in (await connection.execute(query)).all()
    }


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


def _with_share(counted: dict[str, Counted], of: dict[str, Counted], label: str) -> Computed:
    """Rows of units counted in each region (the numerator), with the units they are a share
    of (the denominator); a region with units of the denominator and none counted shows 0."""
    rows = {}
    for region in counted.keys() | of.keys():
        n, events, latest, received = counted.get(region, (0, 0, None, None))
        whole = of.get(region, (0, 0, None, None))[0]
        extra = {label: whole, "numerator": n, "denominator": whole, "share": _share(n, whole)}
        rows[region] = Row(region, TOTAL, n, False, events, latest, extra, received)
    return rows


async def _formed_between(
    connection: AsyncConnection, generation: int, start: date, end: date, level: str, within: str
) -> dict[str, Counted]:
    found = await count_by_region(
        connection, COUNTS["units_formed"], generation, start, end, level, within, None
    )
    return {r: (n, e, t, rc) for r, _, n, e, t, rc in found}


def _operational_since(ask: Ask) -> date:
    """A month's operational units are those active in the configured window ending with it;
    any longer period's, those active at least once in it."""
    p = ask.period
    if p.month is None:
        return p.start
    month_index = p.year * 12 + p.month - 1 - (ask.window_months - 1)
    return date(month_index // 12, month_index % 12 + 1, 1)


async def _operational(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p, cohort = ask.period, ask.cohort
    formed = (cohort.start, cohort.end) if cohort else None
    active = await _operational_between(
        connection, generation, _operational_since(ask), p.end, level, ask.within, formed
    )
    start, end = formed or (EPOCH, p.end)
    of = await _formed_between(connection, generation, start, end, level, ask.within)
    return _with_share(active, of, "cohort" if cohort else "formed")


async def _sustained(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    p, cohort = ask.period, ask.cohort
    formed = (cohort.start, cohort.end) if cohort else (EPOCH, date(p.year - 1, 12, 31))
    sustained = await _operational_between(
        connection, generation, p.start, p.end, level, ask.within, formed
    )
    earlier = await _formed_between(connection, generation, *formed, level, ask.within)
    return _with_share(sustained, earlier, "cohort" if cohort else "formed_before")


ACTIVE = "held an activity, delivered a service or screened someone"


def definitions(ask: Ask) -> dict[str, str] | None:
    """One line each for what an operational or sustained share divides by what."""
    p, cohort = ask.period, ask.cohort
    if ask.indicator == "operational_units":
        when = (
            f"in the {ask.window_months} months ending {p}"
            if p.month is not None and ask.window_months > 1
            else f"at least once in {p.describe()}"
        )
        units = f"Units formed in {cohort.describe()}" if cohort else f"Units formed by {p.end}"
        return {"numerator": f"{units} that {ACTIVE} {when}.", "denominator": f"{units}."}
    if ask.indicator == "sustained_units":
        units = (
            f"Units formed in {cohort.describe()}" if cohort else f"Units formed before {p.year}"
        )
        return {
            "numerator": f"{units} that {ACTIVE} at least once in {p.describe()}.",
            "denominator": f"{units}.",
        }
    return None


async def _median_days(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    """The median and the clients it is over, by region (not yet suppressed)."""
    c, s = db.cases.c, db.screenings.c
    query = (
        select(
            c.village_code,
            c.enrolled_on,
            s.screened_on,
            c.events,
            c.last_event_at,
            c.last_received_at,
        )
        .join(db.screenings, (s.case_id == c.case_id) & (s.generation == c.generation))
        .where(c.generation == generation, c.enrolled_on.between(ask.period.start, ask.period.end))
    )
    if ask.within:
        query = query.where(inside(c.village_code, ask.within))
    groups: dict[str, list[tuple[int, int, Any, Any]]] = {}
    depth = cube.LEVELS.index(level)
    for village, enrolled, screened, events, latest, received in (
        await connection.execute(query)
    ).all():
        days = (_day(enrolled) - _day(screened)).days
        groups.setdefault(cube.ancestors(village)[depth], []).append(
            (max(days, 0), events, *aware(latest, received))
        )
    return {
        region: Row(
            region,
            TOTAL,
            float(statistics.median(d for d, *_ in items)),
            False,
            sum(e for _, e, *_ in items),
            max(t for _, _, t, _ in items),
            {"clients": len(items)},
            max((r for *_, r in items if r is not None), default=None),
        )
        for region, items in groups.items()
    }


async def _with_admissions(
    connection: AsyncConnection, generation: int, ask: Ask, level: str, rows: Computed
) -> None:
    """National and province medians carry the region's admissions too (published there)."""
    p = ask.period
    found = await count_by_region(
        connection, COUNTS["admissions"], generation, p.start, p.end, level, ask.within, None
    )
    admitted = {region: n for region, _, n, *_ in found}
    for region, row in rows.items():
        row.extra["admissions"] = admitted.get(region, 0)


def median_row(c: Cube, cell: Cell, found: Row | None, k: int) -> Row:
    """A median below province level, cut from the admissions cube: shown only where the
    admissions table shows the region's figure and the median is over at least `k` clients.
    It carries that figure and its lineage and nothing else (how many of those clients were
    screened would be a count of its own, unsuppressed)."""
    admitted = row_of(c, cell)
    if admitted.withheld or found is None or found.extra["clients"] < k:
        return Row(cell.region, TOTAL, None, True, extra={"clients": None, "admissions": None})
    return Row(
        cell.region,
        TOTAL,
        found.value,
        False,
        admitted.events,
        admitted.latest_event_at,
        {"clients": None, "admissions": admitted.value},
        admitted.latest_received_at,
    )


async def _completion_rate(
    connection: AsyncConnection, generation: int, ask: Ask, level: str
) -> Computed:
    r = db.referrals.c
    attended = func.sum(func.cast(r.resolution == "attended", db.cases.c.events.type))
    query = select(
        region_of(r.village_code, level),
        func.count(),
        attended,
        *lineage(db.referrals),
    ).where(
        r.generation == generation,
        r.referred_on.between(ask.period.start, ask.period.end),
    )
    if ask.within:
        query = query.where(inside(r.village_code, ask.within))
    rows = {}
    for region, total, done, events, latest, received in (
        await connection.execute(query.group_by(region_of(r.village_code, level)))
    ).all():
        done = int(done or 0)
        rows[region] = Row(
            region,
            TOTAL,
            _share(done, total),
            False,
            events,
            aware(latest),
            {"referred": total, "attended": done},
            aware(received),
        )
    return rows


def rate_row(c: Cube, cell: Cell, _found: Row | None, _k: int) -> Row:
    """A completion rate below province level, cut from the referrals cube (suppressed with
    its attended and not-attended parts): shown only where the referrals table shows the
    region's referrals and both parts are shown, carrying exactly those figures."""
    referred, attended, missed = (
        row_of(c, cell._replace(part=part)) for part in (TOTAL, ATTENDED, NOT_ATTENDED)
    )
    if referred.withheld or attended.withheld or missed.withheld:
        return Row(cell.region, TOTAL, None, True, extra={"referred": None, "attended": None})
    assert referred.value is not None and attended.value is not None
    return Row(
        cell.region,
        TOTAL,
        _share(int(attended.value), int(referred.value)),
        False,
        referred.events,
        referred.latest_event_at,
        {"referred": referred.value, "attended": attended.value},
        referred.latest_received_at,
    )


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


_CUT: dict[str, tuple[str, Callable[[Cube, Cell, Row | None, int], Row]]] = {
    "median_days_to_intake": ("admissions", median_row),
    "referral_completion_rate": ("referrals", rate_row),
}
"""The client-derived indicators below province level: the count whose cube they are cut
from, and how a row is cut."""

_COMPUTE: dict[str, Callable[[AsyncConnection, int, Ask, str], Awaitable[Computed]]] = {
    "units_cumulative": _cumulative,
    "units_against_target": _against_target,
    "operational_units": _operational,
    "sustained_units": _sustained,
    "median_days_to_intake": _median_days,
    "referral_completion_rate": _completion_rate,
}
