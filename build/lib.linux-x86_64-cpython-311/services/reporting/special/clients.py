"""The two special indicators derived from clients: the median days from screening to intake
and the referral completion rate, computed by region, and below province level cut from the
admissions and referrals cubes."""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube, db
from services.reporting.cube import TOTAL, Cell, Cube
from services.reporting.figures import Ask, Row
from services.reporting.indicators import COUNTS, aware, count_by_region, inside, lineage, region_of
from services.reporting.periods import row_of
from services.reporting.special.common import Computed, _share
from services.reporting.suppressed_cubes import ATTENDED, NOT_ATTENDED


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
