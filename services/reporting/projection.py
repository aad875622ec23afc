"""From canonical events to fact rows: what each event says about which row of the read model.

Pure functions, no I/O. An event becomes zero or more `Fact`s (table, natural key, the columns
it knows); a batch folds its facts per row, later events overriding earlier ones column by
column, so one upsert per row and table goes to the database however many events touched it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from services.reporting import db
from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData


@dataclass(frozen=True)
class Fact:
    table: Table
    key: tuple[str, ...]
    values: dict[str, Any]


def facts_of(data: EventData, event_id: str) -> list[Fact]:
    """The rows an event touches (unit-scoped fields included), or none for events that feed
    no indicator (plans, overdue notices: the work, not the outcome)."""
    where = {"unit_id": data.unit_id, "village_code": data.village_code}  # type: ignore[attr-defined]
    match data:
        case registry.UnitFormed():
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
        case registry.UnitStatusChanged():
            return [
                Fact(
                    db.units,
                    (data.unit_id,),
                    {**where, "status": data.to_status, "status_on": data.effective_on},
                )
            ]
        case registry.RecoveryAgentAppointed():
            return [Fact(db.agents, (data.agent_id,), {**where, "appointed_on": data.appointed_on})]
        case registry.RecoveryAgentDeactivated():
            return [
                Fact(db.agents, (data.agent_id,), {**where, "deactivated_on": data.deactivated_on})
            ]
        case registry.RecoveryAgentTrained():
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
        case scheduling.ActivityHeld():
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
        case scheduling.SessionCompleted():
            return [
                Fact(
                    db.services_held,
                    (data.session_id,),
                    {**where, "held_on": data.held_on, "session_type": data.session_type},
                )
            ]
        case client_case.ClientScreened():
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
        case client_case.ClientEnrolled():
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
        case client_case.CaseStageChanged():
            return [
                Fact(
                    db.stage_entries,
                    (data.case_id, data.to_stage),
                    {**where, "entered_on": data.changed_on},
                )
            ]
        case client_case.CaseClosed():
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
        case client_case.ClientReferred():
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
        case client_case.ReferralResolved():
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
        case client_case.RelapseReported():
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
    return []


class Batch:
    """Facts of one batch folded per row: one upsert per row however many events touched it."""

    def __init__(self) -> None:
        self.rows: dict[Table, dict[tuple[str, ...], dict[str, Any]]] = {}
        self.events = 0

    def add(self, facts: Iterable[Fact], event_time: datetime) -> None:
        self.events += 1
        for fact in facts:
            row = self.rows.setdefault(fact.table, {}).get(fact.key)
            if row is None:
                self.rows[fact.table][fact.key] = {
                    **fact.values,
                    "events": 1,
                    "last_event_at": event_time,
                }
                continue
            row.update(fact.values)
            row["events"] += 1
            row["last_event_at"] = max(row["last_event_at"], event_time)
