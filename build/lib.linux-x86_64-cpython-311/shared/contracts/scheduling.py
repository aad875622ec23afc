"""Scheduling contracts: a client's session plan and what happened to each session, and
the unit's community activities.

Produced by the `scheduling` service on ``ibm.scheduling``. Session events are keyed by
``case_id`` so a client's plan and sessions stay ordered; ``ActivityHeld`` is keyed by
``unit_id`` because an activity belongs to the unit, not to a case. Due dates are dates
local to the unit's province (WIB, WITA or WIT).
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from shared.contracts.base import contract
from shared.contracts.types import (
    ActivityType,
    CaseWeek,
    ClientRef,
    ContractPart,
    EntityId,
    RescheduleReason,
    SessionMissReason,
    SessionType,
    UnitScopedEvent,
)

CONTEXT = "scheduling"
TOPIC = "ibm.scheduling"

_CLIENT_REF_EXAMPLE = "9f2c4e7a1b3d5f6087a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f"
_CASE_ID_EXAMPLE = "01JD3K5M7P9R1T3V5X7Z9B1D3F"
_PLAN_ID_EXAMPLE = "01JDA1B3C5D7E9F1G3H5J7K9M1"
_SESSION_ID_EXAMPLE = "01JDA1B3C5D7E9F1G3H5J7K9M2"
_AGENT_ID_EXAMPLE = "01JB8A3C5E7G9J1K3M5N7P9Q1R"


class PlannedSession(ContractPart):
    """One session of a case plan: what, in which week, due when."""

    session_id: EntityId = Field(
        description="Id of the planned session; later session events refer to it.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    week: CaseWeek = Field(
        description="Week of the 16-week course the session belongs to (1-16).",
        examples=[2],
    )
    session_type: SessionType = Field(
        description="Kind of session.",
        examples=["intake"],
    )
    due_on: date = Field(
        description="Date (local to the province) by which the session is due.",
        examples=["2025-05-30"],
    )


@contract(context=CONTEXT, name="CasePlanCreated", version=1, topic=TOPIC, subject="case_id")
class CasePlanCreated(UnitScopedEvent):
    """A session plan was drawn up for an enrolled client's 16-week course. Produced by
    `scheduling` after ``ClientEnrolled``."""

    plan_id: EntityId = Field(
        description="Id of the plan.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    starts_on: date = Field(
        description="First day of the plan (local to the province).",
        examples=["2025-05-27"],
    )
    sessions: list[PlannedSession] = Field(
        min_length=1,
        max_length=200,
        description="The planned sessions, each with its own id; none due before starts_on.",
        examples=[
            [
                {
                    "session_id": _SESSION_ID_EXAMPLE,
                    "week": 2,
                    "session_type": "intake",
                    "due_on": "2025-05-30",
                },
                {
                    "session_id": "01JDA1B3C5D7E9F1G3H5J7K9M3",
                    "week": 3,
                    "session_type": "individual_counselling",
                    "due_on": "2025-06-06",
                },
            ]
        ],
    )

    @field_validator("sessions")
    @classmethod
    def _consistent(cls, value: list[PlannedSession], info: ValidationInfo) -> list[PlannedSession]:
        ids = [s.session_id for s in value]
        if len(set(ids)) != len(ids):
            raise ValueError("session ids must be unique")
        starts_on: date | None = info.data.get("starts_on")
        if starts_on is not None:
            for index, session in enumerate(value):
                if session.due_on < starts_on:
                    raise ValueError(f"session {index} is due before starts_on")
        return value


@contract(context=CONTEXT, name="SessionCompleted", version=1, topic=TOPIC, subject="case_id")
class SessionCompleted(UnitScopedEvent):
    """A planned session with a client took place. Produced by `scheduling` when an agent
    records it."""

    session_id: EntityId = Field(
        description="Id of the planned session.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    plan_id: EntityId = Field(
        description="Id of the plan the session belongs to.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    week: CaseWeek = Field(
        description="Week of the 16-week course the session belongs to (1-16).",
        examples=[2],
    )
    session_type: SessionType = Field(
        description="Kind of session held.",
        examples=["intake"],
    )
    held_on: date = Field(
        description="Date the session took place (local to the province).",
        examples=["2025-05-29"],
    )
    agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who held the session.",
        examples=[_AGENT_ID_EXAMPLE],
    )
    duration_minutes: int | None = Field(
        default=None,
        ge=1,
        le=480,
        description="Length of the session in minutes, when recorded.",
        examples=[45],
    )


@contract(context=CONTEXT, name="SessionMissed", version=1, topic=TOPIC, subject="case_id")
class SessionMissed(UnitScopedEvent):
    """An agent recorded that a planned session did not take place. Produced by
    `scheduling`."""

    session_id: EntityId = Field(
        description="Id of the planned session.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    plan_id: EntityId = Field(
        description="Id of the plan the session belongs to.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    week: CaseWeek = Field(
        description="Week of the 16-week course the session belongs to (1-16).",
        examples=[2],
    )
    session_type: SessionType = Field(
        description="Kind of session that was missed.",
        examples=["intake"],
    )
    due_on: date = Field(
        description="Date the session was due (local to the province).",
        examples=["2025-05-30"],
    )
    reason: SessionMissReason = Field(
        description="Why the session did not take place, as a code.",
        examples=["client_unreachable"],
    )
    reported_by_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who recorded the miss.",
        examples=[_AGENT_ID_EXAMPLE],
    )


@contract(context=CONTEXT, name="SessionOverdue", version=1, topic=TOPIC, subject="case_id")
class SessionOverdue(UnitScopedEvent):
    """A planned session passed its due date with nothing recorded for it. Produced by
    `scheduling` itself, at the end of the due date in the province's time zone."""

    session_id: EntityId = Field(
        description="Id of the planned session.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    plan_id: EntityId = Field(
        description="Id of the plan the session belongs to.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    week: CaseWeek = Field(
        description="Week of the 16-week course the session belongs to (1-16).",
        examples=[2],
    )
    session_type: SessionType = Field(
        description="Kind of session that is overdue.",
        examples=["intake"],
    )
    due_on: date = Field(
        description="Date the session was due (local to the province).",
        examples=["2025-05-30"],
    )
    detected_at: AwareDatetime = Field(
        description="When the scheduler found the session overdue, with its UTC offset.",
        examples=["2025-05-31T00:00:05+08:00"],
    )


def within_participants(value: int | None, info: ValidationInfo) -> int | None:
    """Counts of an activity's participants (women, people screened) are at most all of them."""
    total = info.data.get("participants")
    if value is not None and total is not None and value > total:
        raise ValueError("cannot exceed participants")
    return value


@contract(context=CONTEXT, name="ActivityHeld", version=1, topic=TOPIC, subject="unit_id")
class ActivityHeld(UnitScopedEvent):
    """A unit held a community activity: awareness, mapping, outreach or a screening day.
    Produced by `scheduling` when an agent records it; activities make a unit operational
    in the period."""

    activity_id: EntityId = Field(
        description="Id of the activity.",
        examples=["01JDB2C4D6E8F0G2H4J6K8M0N2"],
    )
    activity_type: ActivityType = Field(
        description="Kind of activity held.",
        examples=["awareness"],
    )
    held_on: date = Field(
        description="Date the activity took place (local to the province).",
        examples=["2025-06-14"],
    )
    agent_ids: list[EntityId] = Field(
        min_length=1,
        max_length=50,
        description="Pseudonymous ids of the agents who ran the activity.",
        examples=[[_AGENT_ID_EXAMPLE, "01JB8A3C5E7G9J1K3M5N7P9Q1S"]],
    )
    participants: int = Field(
        ge=0,
        le=100_000,
        description="Number of people reached (attendees, people mapped or contacted).",
        examples=[42],
    )
    participants_female: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Of the participants, how many were female, when counted.",
        examples=[19],
    )
    people_screened: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="People screened at the activity (screening days), when counted.",
        examples=[12],
    )

    _within_participants = field_validator("participants_female", "people_screened")(
        within_participants
    )


@contract(context=CONTEXT, name="SessionRescheduled", version=1, topic=TOPIC, subject="case_id")
class SessionRescheduled(UnitScopedEvent):
    """An agent moved a planned session to another date, with the reason. Produced by
    `scheduling`; the session keeps its id and its week."""

    session_id: EntityId = Field(
        description="Id of the planned session.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    plan_id: EntityId = Field(
        description="Id of the plan the session belongs to.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    session_type: SessionType = Field(
        description="Kind of session.",
        examples=["home_visit"],
    )
    from_due_on: date = Field(
        description="The date the session was due before (local to the province).",
        examples=["2025-06-13"],
    )
    to_due_on: date = Field(
        description="The date it is due now (local to the province).",
        examples=["2025-06-17"],
    )
    reason: RescheduleReason = Field(
        description="Why it moved, as a code.",
        examples=["client_request"],
    )
    agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who moved it.",
        examples=[_AGENT_ID_EXAMPLE],
    )


@contract(context=CONTEXT, name="CaseAtRiskOfDropOut", version=1, topic=TOPIC, subject="case_id")
class CaseAtRiskOfDropOut(UnitScopedEvent):
    """A client missed the configured number of sessions in a row. Produced by `scheduling`
    once per run of misses; `client-case` applies its drop-out policy."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    plan_id: EntityId = Field(
        description="Id of the client's plan.",
        examples=[_PLAN_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    consecutive_misses: int = Field(
        ge=1,
        le=200,
        description="Sessions missed in a row, the last one included.",
        examples=[3],
    )
    last_missed_session_id: EntityId = Field(
        description="The miss that reached the threshold.",
        examples=[_SESSION_ID_EXAMPLE],
    )
    flagged_on: date = Field(
        description="The day it happened (local to the province).",
        examples=["2025-07-04"],
    )
