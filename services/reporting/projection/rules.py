"""The rules: what each canonical event says about which row of the read model (one
`@_rule` per event type that feeds an indicator), and the `rejections` row of a province's
refused submission."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting import db
from services.reporting.projection.decoders import fast_reader
from services.reporting.projection.reading import _READINGS, Fact, Read, Reading, _reader, _rule
from shared.contracts import client_case, registry, scheduling
from shared.contracts.platform import EventRejected
from shared.regions import time_zone_of


def _where(d: Read) -> dict[str, Any]:
    """A fact's unit and village (a dict literal each time: every rule's values are a row)."""
    return {"unit_id": d["unit_id"], "village_code": d["village_code"]}


# Each fact's values hold its row's key columns too: a new row is its values.


@_rule(registry.UnitFormed, "formed_on", "formation")
def _unit_formed(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["formed_on"] = d["formed_on"]
    values["formation"] = d["formation"]
    values["status"] = "active"
    return [(db.units, (d["unit_id"],), values)]


@_rule(registry.UnitStatusChanged, "effective_on", "to_status")
def _unit_status_changed(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["status"] = d["to_status"]
    values["status_on"] = d["effective_on"]
    return [(db.units, (d["unit_id"],), values)]


@_rule(registry.RecoveryAgentAppointed, "appointed_on", "agent_id")
def _recovery_agent_appointed(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["agent_id"] = d["agent_id"]
    values["appointed_on"] = d["appointed_on"]
    return [(db.agents, (d["agent_id"],), values)]


@_rule(registry.RecoveryAgentDeactivated, "deactivated_on", "agent_id")
def _recovery_agent_deactivated(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["agent_id"] = d["agent_id"]
    values["deactivated_on"] = d["deactivated_on"]
    return [(db.agents, (d["agent_id"],), values)]


@_rule(registry.RecoveryAgentTrained, "completed_on", "agent_id", "training_id", "training_kind")
def _recovery_agent_trained(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["agent_id"] = d["agent_id"]
    values["training_id"] = d["training_id"]
    values["completed_on"] = d["completed_on"]
    values["training_kind"] = d["training_kind"]
    return [(db.trainings, (d["agent_id"], d["training_id"]), values)]


@_rule(
    scheduling.ActivityHeld,
    "held_on",
    "activity_id",
    "activity_type",
    "participants",
    "people_screened",
)
def _activity_held(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["activity_id"] = d["activity_id"]
    values["held_on"] = d["held_on"]
    values["activity_type"] = d["activity_type"]
    values["participants"] = d["participants"]
    values["people_screened"] = d.get("people_screened")
    return [(db.activities, (d["activity_id"],), values)]


@_rule(scheduling.SessionCompleted, "held_on", "session_id", "session_type")
def _session_completed(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["session_id"] = d["session_id"]
    values["held_on"] = d["held_on"]
    values["session_type"] = d["session_type"]
    return [(db.services_held, (d["session_id"],), values)]


@_rule(client_case.ClientScreened, "screened_at", "case_id", "overall_level", "injecting", "scores")
def _client_screened(d: Read, event_id: str) -> list[Fact]:
    # The unit's day is what counts; the instant carries its own UTC offset.
    screened_on = d["screened_at"].date()
    case_id, unit_id, village_code = d["case_id"], d["unit_id"], d["village_code"]
    facts: list[Fact] = [
        (
            db.screenings,
            (case_id,),
            {
                "unit_id": unit_id,
                "village_code": village_code,
                "case_id": case_id,
                "screened_on": screened_on,
                "risk_level": d["overall_level"],
                "injecting": d["injecting"],
            },
        )
    ]
    for score in d["scores"]:
        facts.append(
            (
                db.screened_substances,
                (case_id, score.substance),
                {
                    "unit_id": unit_id,
                    "village_code": village_code,
                    "case_id": case_id,
                    "substance": score.substance,
                    "screened_on": screened_on,
                    "risk_level": score.level,
                },
            )
        )
    return facts


@_rule(
    client_case.ClientEnrolled,
    "enrolled_on",
    "case_id",
    "admission_route",
    "aftercare_source",
    "risk_level",
)
def _client_enrolled(d: Read, event_id: str) -> list[Fact]:
    return _case_entering(
        d,
        "intake",
        "enrolled_on",
        admission_route=d["admission_route"],
        aftercare_source=d.get("aftercare_source"),
        risk_level=d["risk_level"],
    )


@_rule(client_case.CaseStageChanged, "changed_on", "case_id", "to_stage")
def _case_stage_changed(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["case_id"] = d["case_id"]
    values["stage"] = d["to_stage"]
    values["entered_on"] = d["changed_on"]
    return [(db.stage_entries, (d["case_id"], d["to_stage"]), values)]


@_rule(client_case.CaseClosed, "closed_on", "case_id", "outcome")
def _case_closed(d: Read, event_id: str) -> list[Fact]:
    return _case_entering(d, "closed", "closed_on", outcome=d["outcome"])


def _case_entering(d: Read, stage: str, day: str, **known: Any) -> list[Fact]:
    """A case's row (its `day` field, as the column of the same name, and what else is
    `known`) and its entry into `stage` that day: enrolment enters intake, closure closed."""
    case_id, on = d["case_id"], d[day]
    case = _where(d)
    entry = _where(d)
    case["case_id"] = entry["case_id"] = case_id
    case[day] = entry["entered_on"] = on
    case.update(known)
    entry["stage"] = stage
    return [(db.cases, (case_id,), case), (db.stage_entries, (case_id, stage), entry)]


@_rule(client_case.ClientReferred, "referred_on", "referral_id", "destination_type")
def _client_referred(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["referral_id"] = d["referral_id"]
    values["referred_on"] = d["referred_on"]
    values["destination_type"] = d["destination_type"]
    return [(db.referrals, (d["referral_id"],), values)]


@_rule(client_case.ReferralResolved, "resolved_on", "referral_id", "destination_type", "resolution")
def _referral_resolved(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["referral_id"] = d["referral_id"]
    values["destination_type"] = d["destination_type"]
    values["resolved_on"] = d["resolved_on"]
    values["resolution"] = d["resolution"]
    return [(db.referrals, (d["referral_id"],), values)]


@_rule(client_case.RelapseReported, "relapsed_on", "case_id", "source")
def _relapse_reported(d: Read, event_id: str) -> list[Fact]:
    values = _where(d)
    values["event_id"] = event_id
    values["case_id"] = d["case_id"]
    values["relapsed_on"] = d["relapsed_on"]
    values["source"] = d["source"]
    return [(db.relapses, (event_id,), values)]


_REJECTION = ("province_code", "original_event_id", "original_type")
_READINGS[EventRejected.event_type] = Reading(
    EventRejected,
    None,
    "",
    _reader(EventRejected, _REJECTION),
    fast_reader(EventRejected, _REJECTION),
)


def rejection_of(fields: Read, received: datetime) -> dict[str, Any]:
    """The `rejections` row of a province's refused submission (its receipt's fields,
    `received` the receipt's time). Ids, type and time only: a receipt's reasons name fields
    and rules, and none of them is kept."""
    zone = ZoneInfo(time_zone_of(fields["province_code"]))
    return {
        "province_code": fields["province_code"],
        "original_event_id": fields["original_event_id"],
        "original_type": fields["original_type"],
        "month": received.astimezone(zone).strftime("%Y-%m"),
        "rejected_at": received.astimezone(UTC),
    }
