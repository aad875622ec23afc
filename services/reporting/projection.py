"""From canonical events to fact rows: what each event says about which row of the read model.

Pure functions, no I/O. An event becomes zero or more `Fact`s (table, natural key, the columns
it knows); a batch folds its facts per row, later events overriding earlier ones column by
column, so one upsert per row and table goes to the database however many events touched it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table

from services.reporting import db
from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.platform import EventRejected
from shared.regions import time_zone_of


@dataclass(frozen=True)
class Fact:
    table: Table
    key: tuple[str, ...]
    values: dict[str, Any]


Where = dict[str, Any]
Rule = Callable[[Any, str, Where], list[Fact]]
_RULES: dict[type[EventData], Rule] = {}
_WHEN: dict[type[EventData], str] = {}


def _rule(cls: type[EventData], when: str) -> Callable[[Rule], Rule]:
    """Register how an event becomes facts; `when` names its field saying when it happened."""

    def register(rule: Rule) -> Rule:
        _RULES[cls] = rule
        _WHEN[cls] = when
        return rule

    return register


def happened_at(data: EventData) -> datetime | None:
    """When the fact an event reports happened: its own instant (a screening's, with the
    unit's offset), or the start of its day in the province's time zone for facts dated by
    day (an activity held on 10 March happened on the 10th, wherever the platform was when
    it heard)."""
    field = _WHEN.get(type(data))
    if field is None:
        return None
    value = getattr(data, field)
    if isinstance(value, datetime):
        return value
    zone = ZoneInfo(time_zone_of(data.province_code))  # type: ignore[attr-defined]
    return datetime.combine(value, time(), zone)


def facts_of(data: EventData, event_id: str) -> list[Fact]:
    """The rows an event touches (unit-scoped fields included), or none for events that feed
    no indicator (plans, overdue notices: the work, not the outcome)."""
    rule = _RULES.get(type(data))
    if rule is None:
        return []
    return rule(data, event_id, {"unit_id": data.unit_id, "village_code": data.village_code})  # type: ignore[attr-defined]


@_rule(registry.UnitFormed, "formed_on")
def _unit_formed(data: registry.UnitFormed, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.units,
            (data.unit_id,),
            {
                **where,
                "formed_on": data.formed_on,
                "formation": data.formation,
                "status": "active",
            },
        )
    ]


@_rule(registry.UnitStatusChanged, "effective_on")
def _unit_status_changed(
    data: registry.UnitStatusChanged, event_id: str, where: Where
) -> list[Fact]:
    return [
        Fact(
            db.units,
            (data.unit_id,),
            {**where, "status": data.to_status, "status_on": data.effective_on},
        )
    ]


@_rule(registry.RecoveryAgentAppointed, "appointed_on")
def _recovery_agent_appointed(
    data: registry.RecoveryAgentAppointed, event_id: str, where: Where
) -> list[Fact]:
    return [Fact(db.agents, (data.agent_id,), {**where, "appointed_on": data.appointed_on})]


@_rule(registry.RecoveryAgentDeactivated, "deactivated_on")
def _recovery_agent_deactivated(
    data: registry.RecoveryAgentDeactivated, event_id: str, where: Where
) -> list[Fact]:
    return [Fact(db.agents, (data.agent_id,), {**where, "deactivated_on": data.deactivated_on})]


@_rule(registry.RecoveryAgentTrained, "completed_on")
def _recovery_agent_trained(
    data: registry.RecoveryAgentTrained, event_id: str, where: Where
) -> list[Fact]:
    return [
        Fact(
            db.trainings,
            (data.agent_id, data.training_id),
            {
                **where,
                "completed_on": data.completed_on,
                "training_kind": data.training_kind,
            },
        )
    ]


@_rule(scheduling.ActivityHeld, "held_on")
def _activity_held(data: scheduling.ActivityHeld, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.activities,
            (data.activity_id,),
            {
                **where,
                "held_on": data.held_on,
                "activity_type": data.activity_type,
                "participants": data.participants,
                "people_screened": data.people_screened,
            },
        )
    ]


@_rule(scheduling.SessionCompleted, "held_on")
def _session_completed(
    data: scheduling.SessionCompleted, event_id: str, where: Where
) -> list[Fact]:
    return [
        Fact(
            db.services_held,
            (data.session_id,),
            {**where, "held_on": data.held_on, "session_type": data.session_type},
        )
    ]


@_rule(client_case.ClientScreened, "screened_at")
def _client_screened(data: client_case.ClientScreened, event_id: str, where: Where) -> list[Fact]:
    # The unit's day is what counts; the instant carries its own UTC offset.
    screened_on = data.screened_at.date()
    return [
        Fact(
            db.screenings,
            (data.case_id,),
            {
                **where,
                "screened_on": screened_on,
                "risk_level": data.overall_level,
                "injecting": data.injecting,
            },
        ),
        *(
            Fact(
                db.screened_substances,
                (data.case_id, score.substance),
                {**where, "screened_on": screened_on, "risk_level": score.level},
            )
            for score in data.scores
        ),
    ]


@_rule(client_case.ClientEnrolled, "enrolled_on")
def _client_enrolled(data: client_case.ClientEnrolled, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.cases,
            (data.case_id,),
            {
                **where,
                "enrolled_on": data.enrolled_on,
                "admission_route": data.admission_route,
                "aftercare_source": data.aftercare_source,
                "risk_level": data.risk_level,
            },
        ),
        Fact(
            db.stage_entries,
            (data.case_id, "intake"),
            {**where, "entered_on": data.enrolled_on},
        ),
    ]


@_rule(client_case.CaseStageChanged, "changed_on")
def _case_stage_changed(
    data: client_case.CaseStageChanged, event_id: str, where: Where
) -> list[Fact]:
    return [
        Fact(
            db.stage_entries,
            (data.case_id, data.to_stage),
            {**where, "entered_on": data.changed_on},
        )
    ]


@_rule(client_case.CaseClosed, "closed_on")
def _case_closed(data: client_case.CaseClosed, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.cases,
            (data.case_id,),
            {**where, "closed_on": data.closed_on, "outcome": data.outcome},
        ),
        Fact(
            db.stage_entries,
            (data.case_id, "closed"),
            {**where, "entered_on": data.closed_on},
        ),
    ]


@_rule(client_case.ClientReferred, "referred_on")
def _client_referred(data: client_case.ClientReferred, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.referrals,
            (data.referral_id,),
            {
                **where,
                "referred_on": data.referred_on,
                "destination_type": data.destination_type,
            },
        )
    ]


@_rule(client_case.ReferralResolved, "resolved_on")
def _referral_resolved(
    data: client_case.ReferralResolved, event_id: str, where: Where
) -> list[Fact]:
    return [
        Fact(
            db.referrals,
            (data.referral_id,),
            {
                **where,
                "destination_type": data.destination_type,
                "resolved_on": data.resolved_on,
                "resolution": data.resolution,
            },
        )
    ]


@_rule(client_case.RelapseReported, "relapsed_on")
def _relapse_reported(data: client_case.RelapseReported, event_id: str, where: Where) -> list[Fact]:
    return [
        Fact(
            db.relapses,
            (event_id,),
            {
                **where,
                "case_id": data.case_id,
                "relapsed_on": data.relapsed_on,
                "source": data.source,
            },
        )
    ]


def rejection_of(data: EventData, received: datetime) -> dict[str, Any] | None:
    """The `rejections` row of a province's refused submission (its receipt, `received` the
    receipt's time), or None for any other event. Ids, type and time only: a receipt's reasons
    name fields and rules, and none of them is kept."""
    if not isinstance(data, EventRejected):
        return None
    zone = ZoneInfo(time_zone_of(data.province_code))
    return {
        "province_code": data.province_code,
        "original_event_id": data.original_event_id,
        "original_type": data.original_type,
        "month": received.astimezone(zone).strftime("%Y-%m"),
        "rejected_at": received.astimezone(UTC),
    }


class Batch:
    """Facts of one batch folded per row: one upsert per row however many events touched it.
    Each row's lineage: how many distinct events fed it, when the latest fact among them
    happened (`last_event_at`) and when the latest of them reached the platform
    (`last_received_at`, the event's CloudEvents time)."""

    def __init__(self) -> None:
        self.rows: dict[Table, dict[tuple[str, ...], dict[str, Any]]] = {}
        self.rejections: dict[tuple[str, str], dict[str, Any]] = {}
        """Refused submissions by (province, the id it gave): the first receipt counts."""
        self.events = 0
        self.touched: set[tuple[str, int]] = set()
        """(province, year) of the facts folded: the suppressed cubes they change (year 0:
        every year's, for units, which place villages in every year's cubes, and for facts
        that carry no date of their own)."""

    def add(self, facts: Iterable[Fact], happened: datetime | None, received: datetime) -> None:
        self.events += 1
        # Stored as UTC: SQLite keeps no offset (the API gives the province's zone back).
        received = received.astimezone(UTC)
        happened = happened.astimezone(UTC) if happened else received
        for fact in facts:
            self._touch(fact)
            row = self.rows.setdefault(fact.table, {}).get(fact.key)
            if row is None:
                self.rows[fact.table][fact.key] = {
                    **fact.values,
                    "events": 1,
                    "last_event_at": happened,
                    "last_received_at": received,
                }
                continue
            row.update(fact.values)
            row["events"] += 1
            row["last_event_at"] = max(row["last_event_at"], happened)
            row["last_received_at"] = max(row["last_received_at"], received)

    def reject(self, rejection: dict[str, Any]) -> None:
        self.events += 1
        key = (rejection["province_code"], rejection["original_event_id"])
        self.rejections.setdefault(key, rejection)

    def _touch(self, fact: Fact) -> None:
        village = fact.values.get("village_code")
        if not village:
            return  # no village, no cell below province level
        year = 0
        if fact.table is not db.units:
            for column in _DATES[fact.table]:
                value = fact.values.get(column)
                if value is not None and (year == 0 or value.year < year):
                    year = value.year
        self.touched.add((village[:2], year))


_DATES = {t: [c.name for c in t.columns if isinstance(c.type, Date)] for t in db.FACT_TABLES}
"""Each fact table's date columns: the years a fact about a row touches."""
