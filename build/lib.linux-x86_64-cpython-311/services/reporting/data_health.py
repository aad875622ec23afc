"""Data health: how current and how settled each province's figures are, from the lineage
every fact row keeps (when its latest fact happened, when that fact reached the platform).

For a month, by province (or for the one region asked about): the latest fact's time and
arrival, how many facts arrived in the month, how many of those were late (they happened in an
earlier month, so they restated a month already reported) and which months they restated, the
median arrival lag, how many units had a fact arrive, and how many of the province's
submissions the platform refused in the month (from the receipts on its receipts topic,
`rejections`). Months are the province's own (WIB/WITA/WIT). Counts of facts and of
submissions, never of people, at province level and above or for a whole region: nothing here
is withheld.

A receipt names the province, not the region a refused submission was about (it may name none
that exists): below province level the rejected submissions are unknown (None), not zero."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import db
from services.reporting.indicators import inside
from shared.regions import time_zone_of

COUNTED = tuple(t for t in db.FACT_TABLES if t is not db.screened_substances)
"""Each fact once: a screening's substances are parts of the screening."""


@dataclass
class Health:
    region: str
    latest_event_at: datetime | None = None
    latest_received_at: datetime | None = None
    received: int = 0
    late: int = 0
    restated_months: set[str] = field(default_factory=set)
    lags: list[float] = field(default_factory=list)
    units: set[str] = field(default_factory=set)
    rejected: int | None = 0

    def as_dict(self) -> dict[str, Any]:
        zone = ZoneInfo(time_zone_of(self.region[:2])) if self.region else UTC
        return {
            "region": self.region,
            "latest_event_at": _local(self.latest_event_at, zone),
            "latest_received_at": _local(self.latest_received_at, zone),
            "received": self.received,
            "late": self.late,
            "restated_months": sorted(self.restated_months),
            "median_lag_hours": round(statistics.median(self.lags), 1) if self.lags else None,
            "units_reporting": len(self.units),
            "rejected": self.rejected,
        }


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive times; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _local(moment: datetime | None, zone: Any) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def _month_of(moment: datetime, province: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone_of(province))).strftime("%Y-%m")


def _key(table: Table, within: str) -> Any:
    """The row a fact counts in: its province for Indonesia, else the region asked about."""
    return func.substr(table.c.village_code, 1, 2) if within == "" else literal(within)


async def _rejected(
    connection: AsyncConnection,
    generation: int,
    within: str,
    month: str,
    of: Callable[[str], Health],
) -> None:
    """The submissions each province had refused in `month` (its own), in one statement: a
    province with refusals and no fact yet has a row too."""
    if len(within) > 2:
        return
    r = db.rejections.c
    counted = (
        select(r.province_code, func.count())
        .where(r.generation == generation, r.month == month)
        .group_by(r.province_code)
    )
    if within:
        counted = counted.where(r.province_code == within)
    for province, rejected in await connection.execute(counted):
        of(province).rejected = int(rejected)


async def data_health(
    connection: AsyncConnection, generation: int, within: str, month: date
) -> list[dict[str, Any]]:
    """Each province's health in `month` (the first of it), or the health of `within`."""
    found: dict[str, Health] = {}

    def of(region: str) -> Health:
        return found.setdefault(region, Health(region))

    for table in COUNTED:
        c = table.c
        region = _key(table, within).label("region")
        latest = select(region, func.max(c.last_event_at), func.max(c.last_received_at)).where(
            c.generation == generation, c.village_code.is_not(None)
        )
        if within:
            latest = latest.where(inside(c.village_code, within))
        for key, happened, received in await connection.execute(latest.group_by(region)):
            health = of(key)
            for name, moment in (("latest_event_at", happened), ("latest_received_at", received)):
                moment = _aware(moment)
                current = getattr(health, name)
                if moment is not None and (current is None or moment > current):
                    setattr(health, name, moment)

    # The month in every zone of Indonesia (UTC+7 to +9): the rows are sorted out by province.
    start = datetime(month.year, month.month, 1, tzinfo=UTC) - timedelta(hours=9)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    end = datetime(following.year, following.month, 1, tzinfo=UTC) - timedelta(hours=7)
    wanted = month.strftime("%Y-%m")
    per_unit: dict[str, set[str]] = defaultdict(set)
    for table in COUNTED:
        c = table.c
        arrived = select(c.village_code, c.unit_id, c.last_event_at, c.last_received_at).where(
            c.generation == generation,
            c.village_code.is_not(None),
            c.last_received_at >= start,
            c.last_received_at < end,
        )
        if within:
            arrived = arrived.where(inside(c.village_code, within))
        for village, unit, happened_at, received_at in await connection.execute(arrived):
            happened, received = _aware(happened_at), _aware(received_at)
            assert happened is not None and received is not None
            province = village[:2]
            if _month_of(received, province) != wanted:
                continue
            health = of(within or province)
            health.received += 1
            health.lags.append(max(0.0, (received - happened).total_seconds() / 3600))
            if unit:
                per_unit[health.region].add(unit)
            happened_month = _month_of(happened, province)
            if happened_month < wanted:
                health.late += 1
                health.restated_months.add(happened_month)
    for region, units in per_unit.items():
        found[region].units = units
    await _rejected(connection, generation, within, wanted, of)
    if len(within) > 2:
        for health in found.values():
            health.rejected = None
    return [found[k].as_dict() for k in sorted(found)]
