"""The units' indicators: units formed by the end of the period, against the year's target,
operational (active in the period, or the window ending with it) and sustained (operational in
the year, formed before it), and what their shares divide."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import distinct, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import db
from services.reporting.cube import TOTAL
from services.reporting.figures import Ask, Row
from services.reporting.indicators import COUNTS, aware, count_by_region, inside, lineage, region_of
from services.reporting.special.common import EPOCH, Computed, Counted, _share


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
