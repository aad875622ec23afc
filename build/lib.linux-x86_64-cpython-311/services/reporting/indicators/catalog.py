"""What each figure counts: the counting indicators (`COUNTS`: fact table, event-time column,
measure, breakdowns, whether derived from clients), the stocks and the indicators that are not
plain counts (`SPECIAL`, computed in `special/`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from services.reporting import db
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
