"""The indicators: what each figure counts, from which fact table, dated by which event-time
column, with which breakdowns, and whether it is derived from clients (and so suppressed below
province level). Counting indicators share one query shape; the few that are not counts
(operational and sustained units, targets, medians, rates) have their own functions.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import db
from services.reporting.cube import TOTAL, Figure, Leaf
from shared.contracts.types import (
    ActivityType,
    AdmissionRoute,
    AftercareSource,
    AssistSubstance,
    ClosureOutcome,
    ReferralDestinationType,
    RelapseSource,
    RiskLevel,
    UnitFormation,
)


@dataclass(frozen=True)
class Breakdown:
    column: str
    values: tuple[str, ...]
    additive: bool = True
    """The parts add up to the total (each row has exactly one value)."""
    table: Table | None = None
    """Another fact table with the same key (substances of a screening)."""
    crossed: tuple[Table, str] | None = None
    """Crossed with a column of another fact table keyed by the case (the screening's risk
    level): parts `<value>,<other value>`, each refining the part `<value>` of the breakdown
    named `refines`; `<value>,unknown` where the other fact has not arrived, so the
    refinements of a part add up to it."""
    refines: str | None = None


@dataclass(frozen=True)
class Count:
    name: str
    description: str
    table: Table
    on: str  # the event-time date column
    client_derived: bool
    measure: str = "rows"  # rows | sum:<column> | distinct:<column>
    where: tuple[tuple[str, Any], ...] = ()
    breakdowns: dict[str, Breakdown] = field(default_factory=dict)


UNKNOWN = "unknown"


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(str(member.value) for member in enum)


COUNTS: dict[str, Count] = {
    c.name: c
    for c in (
        Count(
            "units_formed",
            "Units IBM formed (by the date on their decree's formation).",
            db.units,
            "formed_on",
            client_derived=False,
            breakdowns={"formation": Breakdown("formation", _values(UnitFormation))},
        ),
        Count(
            "agents_appointed",
            "Recovery agents appointed.",
            db.agents,
            "appointed_on",
            client_derived=False,
        ),
        Count(
            "agents_trained",
            "Recovery agents who completed a training (each agent once per period).",
            db.trainings,
            "completed_on",
            client_derived=False,
            measure="distinct:agent_id",
        ),
        Count(
            "activities",
            "Community activities held (awareness, mapping, outreach, screening days).",
            db.activities,
            "held_on",
            client_derived=False,
            breakdowns={"activity_type": Breakdown("activity_type", _values(ActivityType))},
        ),
        Count(
            "activity_participants",
            "People reached by the units' community activities.",
            db.activities,
            "held_on",
            client_derived=False,
            measure="sum:participants",
            breakdowns={"activity_type": Breakdown("activity_type", _values(ActivityType))},
        ),
        Count(
            "clients_screened",
            "Clients screened with WHO ASSIST (one per screening).",
            db.screenings,
            "screened_on",
            client_derived=True,
            breakdowns={
                "risk_level": Breakdown("risk_level", _values(RiskLevel)),
                "substance": Breakdown(
                    "substance",
                    _values(AssistSubstance),
                    additive=False,
                    table=db.screened_substances,
                ),
            },
        ),
        Count(
            "admissions",
            "Clients enrolled (initial intake), by admission route.",
            db.cases,
            "enrolled_on",
            client_derived=True,
            breakdowns={
                "admission_route": Breakdown("admission_route", _values(AdmissionRoute)),
                "aftercare_source": Breakdown(
                    "aftercare_source", _values(AftercareSource), additive=False
                ),
            },
        ),
        Count(
            "entered_services",
            "Clients who moved on to counselling and support.",
            db.stage_entries,
            "entered_on",
            client_derived=True,
            where=(("stage", "services"),),
        ),
        Count(
            "entered_aftercare",
            "Clients who moved on to aftercare (bina lanjut).",
            db.stage_entries,
            "entered_on",
            client_derived=True,
            where=(("stage", "aftercare"),),
        ),
        Count(
            "closures",
            "Cases closed, by outcome (completed, dropped out, referred out, ...).",
            db.cases,
            "closed_on",
            client_derived=True,
            breakdowns={
                "outcome": Breakdown("outcome", _values(ClosureOutcome)),
                "outcome,risk_level": Breakdown(
                    "outcome",
                    tuple(
                        f"{o},{r}"
                        for o in _values(ClosureOutcome)
                        for r in (*_values(RiskLevel), UNKNOWN)
                    ),
                    crossed=(db.screenings, "risk_level"),
                    refines="outcome",
                ),
            },
        ),
        Count(
            "referrals",
            "Clients referred onwards, by destination.",
            db.referrals,
            "referred_on",
            client_derived=True,
            breakdowns={
                "destination_type": Breakdown("destination_type", _values(ReferralDestinationType))
            },
        ),
        Count(
            "relapses",
            "Relapses reported, by source.",
            db.relapses,
            "relapsed_on",
            client_derived=True,
            breakdowns={"source": Breakdown("source", _values(RelapseSource))},
        ),
    )
}

STOCKS = {
    "in_services": ("services", "Clients in counselling and support at the end of the period."),
    "in_aftercare": ("aftercare", "Clients in aftercare (bina lanjut) at the end of the period."),
}
"""Stocks: how many cases are in a stage at the end of each month (derived from clients)."""
STAGE_ORDER = ("screening", "intake", "services", "aftercare", "closed")

SPECIAL = {
    "units_cumulative": "Units formed up to the end of the period.",
    "units_against_target": "Units formed in the year against the year's target (national, "
    "province).",
    "operational_units": "Units that held an activity or delivered a service in the period "
    "(or the configured window ending with it), and their share of the units formed by then.",
    "sustained_units": "Units operational in the year that were formed in an earlier year, and "
    "their share of the units formed before the year.",
    "median_days_to_intake": "Median days from screening to initial intake of the clients "
    "enrolled in the period; below province level shown where the admissions table shows the "
    "region's figure, which it carries.",
    "referral_completion_rate": "Share of the period's referrals the client attended; below "
    "province level shown where the referrals, attended and not attended are all shown.",
}
CLIENT_DERIVED_SPECIAL = {"median_days_to_intake", "referral_completion_rate"}


def month_of(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def inside(column: ColumnElement[Any], within: str) -> ColumnElement[bool]:
    """A village code in the region `within` (the village itself, for a village)."""
    return or_(column == within, column.startswith(f"{within}."))


CODE_LENGTH = {"national": 0, "province": 2, "regency": 5, "district": 8, "village": 13}
"""How much of a village code names its region at each level (74.71.01.1001)."""


def region_of(column: ColumnElement[Any], level: str) -> ColumnElement[str]:
    """The code of the region at `level` containing a village code."""
    length = CODE_LENGTH[level]
    # Constants inline, so PostgreSQL sees the same expression in SELECT and GROUP BY.
    return func.substr(column, literal_column("1"), literal_column(str(length)))


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
    rows = await connection.execute(query)
    leaves = []
    for village, month, p, n, e, t, rc, unit in rows.all():
        latest, received = aware(t, rc)
        part_of = str(p) if p is not None else UNKNOWN
        leaves.append(Leaf(village, month, part_of, int(n), int(e), latest, received, unit))
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


def lineage(table: Any) -> list[ColumnElement[Any]]:
    """How many events fed the rows, when the latest fact happened, when the latest arrived."""
    return [
        func.sum(table.c.events),
        func.max(table.c.last_event_at),
        func.max(table.c.last_received_at),
    ]


def aware(*values: Any) -> Any:
    """SQLite returns naive datetimes (stored as UTC) and strings from aggregates. One value
    in, one out; several in, a tuple out."""
    found = []
    for value in values:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        found.append(value)
    return found[0] if len(found) == 1 else tuple(found)
