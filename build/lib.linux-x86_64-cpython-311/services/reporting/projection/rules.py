"""The rules: what each canonical event says about which row of the read model (one
`@_rule` per event type that feeds an indicator), and the `rejections` row of a province's
refused submission."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting import db
from services.reporting.projection.reading import _READINGS, Fact, Read, Reading, _reader, _rule
from shared.contracts import client_case, registry, scheduling
from shared.contracts.platform import EventRejected
from shared.regions import time_zone_of


def _where(d: Read) -> dict[str, Any]:
    return {"unit_id": d["unit_id"], "village_code": d["village_code"]}


@_rule(registry.UnitFormed, "formed_on", "formation")
def _unit_formed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.units,
            (d["unit_id"],),
            {
                **_where(d),
                "formed_on": d["formed_on"],
                "formation": d["formation"],
                "status": "active",
            },
        )
    ]


@_rule(registry.UnitStatusChanged, "effective_on", "to_status")
def _unit_status_changed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.units,
            (d["unit_id"],),
            {**_where(d), "status": d["to_status"], "status_on": d["effective_on"]},
        )
    ]


@_rule(registry.RecoveryAgentAppointed, "appointed_on", "agent_id")
def _recovery_agent_appointed(d: Read, event_id: str) -> list[Fact]:
    return [(db.agents, (d["agent_id"],), {**_where(d), "appointed_on": d["appointed_on"]})]


@_rule(registry.RecoveryAgentDeactivated, "deactivated_on", "agent_id")
def _recovery_agent_deactivated(d: Read, event_id: str) -> list[Fact]:
    return [(db.agents, (d["agent_id"],), {**_where(d), "deactivated_on": d["deactivated_on"]})]


@_rule(registry.RecoveryAgentTrained, "completed_on", "agent_id", "training_id", "training_kind")
def _recovery_agent_trained(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.trainings,
            (d["agent_id"], d["training_id"]),
            {
                **_where(d),
                "completed_on": d["completed_on"],
                "training_kind": d["training_kind"],
            },
        )
    ]


@_rule(
    scheduling.ActivityHeld,
    "held_on",
    "activity_id",
    "activity_type",
    "participants",
    "people_screened",
)
def _activity_held(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.activities,
            (d["activity_id"],),
            {
                **_where(d),
                "held_on": d["held_on"],
                "activity_type": d["activity_type"],
                "participants": d["participants"],
                "people_screened": d.get("people_screened"),
            },
        )
    ]


@_rule(scheduling.SessionCompleted, "held_on", "session_id", "session_type")
def _session_completed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.services_held,
            (d["session_id"],),
            {**_where(d), "held_on": d["held_on"], "session_type": d["session_type"]},
        )
    ]


@_rule(client_case.ClientScreened, "screened_at", "case_id", "overall_level", "injecting", "scores")
def _client_screened(d: Read, event_id: str) -> list[Fact]:
    # The unit's day is what counts; the instant carries its own UTC offset.
    screened_on = d["screened_at"].date()
    case_id = d["case_id"]
    where = _where(d)
    return [
        (
            db.screenings,
            (case_id,),
            {
                **where,
                "screened_on": screened_on,
                "risk_level": d["overall_level"],
                "injecting": d["injecting"],
            },
        ),
        *(
            (
                db.screened_substances,
                (case_id, score.substance),
                {**where, "screened_on": screened_on, "risk_level": score.level},
            )
            for score in d["scores"]
        ),
    ]


@_rule(
    client_case.ClientEnrolled,
    "enrolled_on",
    "case_id",
    "admission_route",
    "aftercare_source",
    "risk_level",
)
def _client_enrolled(d: Read, event_id: str) -> list[Fact]:
    where = _where(d)
    return [
        (
            db.cases,
            (d["case_id"],),
            {
                **where,
                "enrolled_on": d["enrolled_on"],
                "admission_route": d["admission_route"],
                "aftercare_source": d.get("aftercare_source"),
                "risk_level": d["risk_level"],
            },
        ),
        (db.stage_entries, (d["case_id"], "intake"), {**where, "entered_on": d["enrolled_on"]}),
    ]


@_rule(client_case.CaseStageChanged, "changed_on", "case_id", "to_stage")
def _case_stage_changed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.stage_entries,
            (d["case_id"], d["to_stage"]),
            {**_where(d), "entered_on": d["changed_on"]},
        )
    ]


@_rule(client_case.CaseClosed, "closed_on", "case_id", "outcome")
def _case_closed(d: Read, event_id: str) -> list[Fact]:
    where = _where(d)
    return [
        (
            db.cases,
            (d["case_id"],),
            {**where, "closed_on": d["closed_on"], "outcome": d["outcome"]},
        ),
        (db.stage_entries, (d["case_id"], "closed"), {**where, "entered_on": d["closed_on"]}),
    ]


@_rule(client_case.ClientReferred, "referred_on", "referral_id", "destination_type")
def _client_referred(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.referrals,
            (d["referral_id"],),
            {
                **_where(d),
                "referred_on": d["referred_on"],
                "destination_type": d["destination_type"],
            },
        )
    ]


@_rule(client_case.ReferralResolved, "resolved_on", "referral_id", "destination_type", "resolution")
def _referral_resolved(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.referrals,
            (d["referral_id"],),
            {
                **_where(d),
                "destination_type": d["destination_type"],
                "resolved_on": d["resolved_on"],
                "resolution": d["resolution"],
            },
        )
    ]


@_rule(client_case.RelapseReported, "relapsed_on", "case_id", "source")
def _relapse_reported(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.relapses,
            (event_id,),
            {
                **_where(d),
                "case_id": d["case_id"],
                "relapsed_on": d["relapsed_on"],
                "source": d["source"],
            },
        )
    ]


_READINGS[EventRejected.event_type] = Reading(
    EventRejected,
    None,
    None,
    _reader(EventRejected, ("province_code", "original_event_id", "original_type")),
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
