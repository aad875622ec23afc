"""Scheduling's unit routes: community activities, a unit's calendar, and the cases a
suspended or dissolved unit must hand over."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping, func, select

from services.scheduling import batches
from services.scheduling.api.access import seen_unit
from services.scheduling.commands import RecordActivity
from services.scheduling.db import activities, cases, sessions
from services.scheduling.domain import SessionState
from shared.contracts.types import ActivityType, EntityId
from shared.dependencies import CommandDep, PersonDep, QueryDep
from shared.http import problem_responses
from shared.rules import Violation, check

router = APIRouter()


class ActivityCreate(BaseModel):
    """A community activity of the unit: awareness, mapping, outreach or a screening day."""

    model_config = ConfigDict(extra="forbid")
    unit_id: EntityId
    activity_type: ActivityType
    held_on: date
    agent_ids: list[EntityId] = Field(min_length=1, max_length=50)
    participants: int = Field(ge=0, le=100_000)
    participants_female: int | None = Field(default=None, ge=0, le=100_000)
    people_screened: int | None = Field(default=None, ge=0, le=100_000)


class ActivityRecorded(BaseModel):
    activity_id: str


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityRecorded,
    responses=problem_responses(404, 409),
    tags=["activities"],
)
async def record_activity(body: ActivityCreate, who: PersonDep, tx: CommandDep) -> dict[str, str]:
    """What makes a unit count as operational: its activities, recorded by its agents."""
    who.works_in(body.unit_id, "only an agent of the unit records its activities")
    activity_id = await batches.execute(
        tx.db,
        tx.outbox,
        RecordActivity(**{**body.model_dump(), "agent_ids": tuple(body.agent_ids)}),
    )
    assert activity_id is not None
    return {"activity_id": activity_id}


CALENDAR_MAX_DAYS = 92


class CalendarSession(BaseModel):
    session_id: str
    case_id: str
    week: int
    session_type: str
    state: SessionState
    agent_id: str | None = Field(description="The agent the session is given to.")
    primary_agent_id: str | None = Field(description="The case's primary agent.")
    held_on: date | None = Field(description="The day it was held, once done.")
    miss_reason: str | None
    closed_on: date | None = Field(description="A missed session closed: not made up.")
    rescheduled_from: date | None
    reschedule_reason: str | None


class CalendarActivity(BaseModel):
    activity_id: str
    activity_type: ActivityType
    participants: int
    people_screened: int | None


class CalendarDay(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    day: date = Field(alias="date")
    sessions: list[CalendarSession] = Field(description="Sessions due this day, in any state.")
    activities: list[CalendarActivity] = Field(description="Activities held this day.")


class Calendar(BaseModel):
    """A unit's days with sessions or activities, from `from` to `to`."""

    model_config = ConfigDict(populate_by_name=True)
    unit_id: str
    from_: date = Field(alias="from")
    to: date
    days: list[CalendarDay]


class CaseToTransfer(BaseModel):
    case_id: str
    primary_agent_id: str | None
    sessions_on_hold: int
    next_due_on: date | None = Field(description="The earliest session on hold.")


class CasesNeedingTransfer(BaseModel):
    unit_id: str
    status: str = Field(description="The unit's status, as the registry published it.")
    status_on: date | None
    cases: list[CaseToTransfer] = Field(description="Its open cases; none while it is active.")


@router.get(
    "/units/{unit_id}/calendar",
    response_model=Calendar,
    responses=problem_responses(404),
    tags=["sessions", "activities"],
)
async def calendar(
    unit_id: str,
    who: PersonDep,
    db: QueryDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> dict[str, Any]:
    """A unit's days from `from` to `to` (at most 92): every session due on each day, in any
    state, with its agent, the case's primary agent, the day it was held (once done), any
    rescheduling, and the activities held."""
    v = []
    if end < start:
        v.append(Violation("to", "after-from", "the range ends before it starts"))
    elif (end - start).days >= CALENDAR_MAX_DAYS:
        v.append(Violation("to", "range-limit", f"at most {CALENDAR_MAX_DAYS} days at a time"))
    check(v)
    await seen_unit(db, unit_id, who)
    due = (
        (
            await db.execute(
                select(sessions, cases.c.primary_agent_id)
                .join(cases, cases.c.case_id == sessions.c.case_id)
                .where(cases.c.unit_id == unit_id, sessions.c.due_on.between(start, end))
                .order_by(sessions.c.due_on, sessions.c.session_id)
            )
        )
        .mappings()
        .all()
    )
    held = (
        (
            await db.execute(
                select(activities)
                .where(activities.c.unit_id == unit_id, activities.c.held_on.between(start, end))
                .order_by(activities.c.held_on, activities.c.activity_id)
            )
        )
        .mappings()
        .all()
    )
    days: dict[date, dict[str, list[dict[str, Any]]]] = {}
    for r in due:
        days.setdefault(r["due_on"], {"sessions": [], "activities": []})["sessions"].append(
            {
                "session_id": r["session_id"],
                "case_id": r["case_id"],
                "week": r["week"],
                "session_type": r["session_type"],
                "state": r["state"],
                "agent_id": r["agent_id"],
                "primary_agent_id": r["primary_agent_id"],
                "held_on": r["held_on"],
                "miss_reason": r["miss_reason"],
                "closed_on": r["closed_on"],
                "rescheduled_from": r["rescheduled_from"],
                "reschedule_reason": r["reschedule_reason"],
            }
        )
    for a in held:
        days.setdefault(a["held_on"], {"sessions": [], "activities": []})["activities"].append(
            {
                "activity_id": a["activity_id"],
                "activity_type": a["activity_type"],
                "participants": a["participants"],
                "people_screened": a["people_screened"],
            }
        )
    return {
        "unit_id": unit_id,
        "from": start,
        "to": end,
        "days": [{"date": day, **days[day]} for day in sorted(days)],
    }


@router.get(
    "/units/{unit_id}/cases-needing-transfer",
    response_model=CasesNeedingTransfer,
    responses=problem_responses(404),
    tags=["sessions"],
)
async def cases_needing_transfer(unit_id: str, who: PersonDep, db: QueryDep) -> dict[str, Any]:
    """The open cases of a suspended or dissolved unit, each with its sessions on hold, so
    the operators over it can move them to another unit (client-case's transfer). An active
    unit lists none."""
    unit = await seen_unit(db, unit_id, who)
    rows: Sequence[RowMapping] = []
    if unit["status"] != "active":
        on_hold = sessions.c.state == SessionState.ON_HOLD
        rows = (
            (
                await db.execute(
                    select(
                        cases.c.case_id,
                        cases.c.primary_agent_id,
                        func.count(sessions.c.session_id).label("sessions_on_hold"),
                        func.min(sessions.c.due_on).label("next_due_on"),
                    )
                    .select_from(
                        cases.outerjoin(sessions, (sessions.c.case_id == cases.c.case_id) & on_hold)
                    )
                    .where(cases.c.unit_id == unit_id, cases.c.closed.is_(False))
                    .group_by(cases.c.case_id, cases.c.primary_agent_id)
                    .order_by(cases.c.case_id)
                )
            )
            .mappings()
            .all()
        )
    return {
        "unit_id": unit_id,
        "status": unit["status"],
        "status_on": unit["status_on"],
        "cases": [dict(r) for r in rows],
    }
