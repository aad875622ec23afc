"""Provincial submissions for scheduling: attendance at planned sessions, sessions missed,
and the units' community activities, published by provincial systems on
``ibm.inbound.<province>``.

`scheduling` checks each one as it checks an agent's entry, publishes the canonical
`SessionCompleted`, `SessionMissed` or `ActivityHeld`, and answers on the province's receipts
topic. A session is named by the id scheduling gave it: the province reads a case's sessions at
the gateway's `GET /plans/{case_id}` (the case id is on its screening's receipt).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator

from shared.contracts.base import contract
from shared.contracts.platform import INBOUND_TOPIC
from shared.contracts.scheduling import CONTEXT, within_participants
from shared.contracts.types import ActivityType, EntityId, SessionMissReason, UnitScopedEvent

_AGENT_ID_EXAMPLE = "01JB8A3C5E7G9J1K3M5N7P9Q1R"


@contract(
    context=CONTEXT,
    name="AttendanceSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="session_id",
)
class AttendanceSubmitted(UnitScopedEvent):
    """A provincial system records that a planned session took place. `scheduling` publishes
    `SessionCompleted` and answers with a receipt. A missed session may be recorded as held
    late, within its window."""

    session_id: EntityId = Field(
        description="Id of the planned session, as the gateway's `GET /plans/{case_id}` (or "
        "`CasePlanCreated`) gives it.",
        examples=["01JDA1B3C5D7E9F1G3H5J7K9M2"],
    )
    held_on: date = Field(
        description="Date the session took place (local to the province).",
        examples=["2025-05-29"],
    )
    agent_id: EntityId = Field(
        description="Pseudonymous id of the unit's agent who held it.",
        examples=[_AGENT_ID_EXAMPLE],
    )
    duration_minutes: int | None = Field(
        default=None,
        ge=1,
        le=480,
        description="Length of the session in minutes, when recorded.",
        examples=[45],
    )


@contract(
    context=CONTEXT,
    name="MissSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="session_id",
)
class MissSubmitted(UnitScopedEvent):
    """A provincial system records that a planned session did not take place, and why, once
    the session's week has begun (its week is the seven days ending on its `due_on`, in the
    province's own time zone; rule `week-begun`). A session a week past due that nobody
    recorded is marked missed by scheduling itself (reason `other`), and may still be
    recorded as attended late. `scheduling` publishes `SessionMissed` and answers with a
    receipt; enough misses in a row flag the case (`CaseAtRiskOfDropOut`)."""

    session_id: EntityId = Field(
        description="Id of the planned session, as the gateway's `GET /plans/{case_id}` (or "
        "`CasePlanCreated`) gives it.",
        examples=["01JDA1B3C5D7E9F1G3H5J7K9M2"],
    )
    reason: SessionMissReason = Field(
        description="Why the session did not take place.", examples=["client_unreachable"]
    )
    agent_id: EntityId = Field(
        description="Pseudonymous id of the unit's agent who records the miss.",
        examples=[_AGENT_ID_EXAMPLE],
    )


@contract(
    context=CONTEXT,
    name="ActivitySubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class ActivitySubmitted(UnitScopedEvent):
    """A provincial system records a unit's community activity. `scheduling` publishes
    `ActivityHeld` and answers with a receipt; the same submission id is recorded once."""

    submission_id: EntityId = Field(
        description="The province's own id of this activity record.",
        examples=["sultra-activity-0000031"],
    )
    activity_type: ActivityType = Field(
        description="Kind of activity held.",
        examples=["outreach"],
    )
    held_on: date = Field(
        description="Date the activity took place (local to the province).",
        examples=["2025-06-14"],
    )
    agent_ids: list[EntityId] = Field(
        min_length=1,
        max_length=50,
        description="Pseudonymous ids of the unit's agents who ran it.",
        examples=[[_AGENT_ID_EXAMPLE]],
    )
    participants: int = Field(
        ge=0,
        le=100_000,
        description="Number of people reached.",
        examples=[25],
    )
    participants_female: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Of the participants, how many were female, when counted.",
        examples=[11],
    )
    people_screened: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="People screened at the activity, when counted.",
        examples=[None],
    )

    _within_participants = field_validator("participants_female", "people_screened")(
        within_participants
    )
