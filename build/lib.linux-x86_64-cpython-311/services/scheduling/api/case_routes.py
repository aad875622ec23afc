"""Scheduling's session routes: an agent's worklist (missed, overdue, due, upcoming),
attendance, misses, closing a missed session, rescheduling and re-planning a case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.scheduling import agent_work, batches, commands, records
from services.scheduling.api.access import reads_plan, reads_plans
from services.scheduling.commands import RecordAttendance
from services.scheduling.db import cases, sessions
from services.scheduling.domain import OPEN, SessionState
from services.scheduling.settings import Settings
from shared.contracts.types import EntityId, RescheduleReason, SessionMissReason
from shared.dependencies import CallerDep, CommandDep, PersonDep, QueryDep, SettingsDep
from shared.http import problem_responses
from shared.regions import local_today

router = APIRouter()
ON_A_SESSION = problem_responses(404, 409)


async def agent_work_context(tx: CommandDep, settings: SettingsDep[Settings]) -> agent_work.Context:
    """An agent's command's transaction (`agent_work.execute`), committed when the route returns."""
    return agent_work.Context(tx.db, tx.outbox, settings)


AgentWork = Annotated[agent_work.Context, Depends(agent_work_context)]


class WorklistItem(BaseModel):
    session_id: str
    case_id: str
    week: int = Field(description="The pathway week the session belongs to.")
    session_type: str
    due_on: date
    primary_agent_id: str | None = Field(description="The case's primary agent.")
    miss_reason: SessionMissReason | None = Field(
        default=None, description="Missed sessions only: why it was missed."
    )


class Worklist(BaseModel):
    """An agent's sessions to deal with, by what they need."""

    missed: list[WorklistItem]
    overdue: list[WorklistItem]
    due: list[WorklistItem]
    upcoming: list[WorklistItem]
    on_hold: list[WorklistItem] = Field(description="Sessions whose case needs a re-plan.")


class SessionChanged(BaseModel):
    session_id: str
    state: SessionState = Field(description="The session's state now.")


class SessionMoved(SessionChanged):
    due_on: date


class SessionClosed(SessionChanged):
    closed_on: date


class PlannedSession(BaseModel):
    session_id: str
    week: int
    session_type: str
    due_on: date
    state: SessionState
    agent_id: str | None


class CaseSession(PlannedSession):
    held_on: date | None = Field(default=None, description="Done sessions: when it was held.")
    miss_reason: SessionMissReason | None = Field(default=None, description="Missed sessions: why.")


class Plan(BaseModel):
    """A case's sessions: the ids a province names in `AttendanceSubmitted` and
    `MissSubmitted`."""

    case_id: str
    unit_id: str
    sessions: list[CaseSession] = Field(
        description="Every session of the case's plans, by due date (re-planned ones cancelled)."
    )


class Replanned(BaseModel):
    case_id: str
    sessions: list[PlannedSession] = Field(description="The case's remaining sessions.")


class Attendance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held_on: date
    agent_id: EntityId
    duration_minutes: int | None = Field(default=None, ge=1, le=600)


@router.get(
    "/worklist", response_model=Worklist, response_model_exclude_unset=True, tags=["sessions"]
)
async def worklist(
    agent_id: str,
    who: PersonDep,
    db: QueryDep,
    days_ahead: Annotated[int, Query(ge=0, le=60)] = 7,
) -> dict[str, list[dict[str, Any]]]:
    """An agent's sessions to deal with: missed ones not yet attended late, rescheduled or
    closed; overdue; due (this week); upcoming within `days_ahead`; and, in an active unit,
    sessions still on hold, whose case needs a re-plan (`POST /cases/{case_id}/replan`). Each
    names the case's primary agent."""
    rows = (
        (
            await db.execute(
                records.SESSION_ROW.where(
                    sessions.c.agent_id == agent_id,
                    cases.c.unit_id.in_(who.units),
                    sessions.c.state.in_([*(s.value for s in OPEN), SessionState.ON_HOLD])
                    | ((sessions.c.state == SessionState.MISSED) & sessions.c.closed_on.is_(None)),
                ).order_by(sessions.c.due_on)
            )
        )
        .mappings()
        .all()
    )
    now = datetime.now(UTC)
    lists: dict[str, list[dict[str, Any]]] = {
        "missed": [],
        "overdue": [],
        "due": [],
        "upcoming": [],
        "on_hold": [],
    }
    for r in rows:
        today = local_today(now, r["province_code"])
        item = {
            "session_id": r["session_id"],
            "case_id": r["case_id"],
            "week": r["week"],
            "session_type": r["session_type"],
            "due_on": r["due_on"],
            "primary_agent_id": r["primary_agent_id"],
        }
        if r["state"] == SessionState.ON_HOLD:
            if r["unit_status"] == "active":  # a stopped unit's cases wait for a transfer
                lists["on_hold"].append(item)
        elif r["state"] == SessionState.MISSED:
            lists["missed"].append({**item, "miss_reason": r["miss_reason"]})
        elif r["due_on"] < today:
            lists["overdue"].append(item)
        elif r["due_on"] < today + timedelta(days=7):
            lists["due"].append(item)
        elif r["due_on"] <= today + timedelta(days=days_ahead + 7):
            lists["upcoming"].append(item)
    return lists


@router.get(
    "/cases/{case_id}/sessions",
    response_model=Plan,
    response_model_exclude_none=True,
    responses=problem_responses(404),
    tags=["sessions"],
)
async def case_sessions(case_id: str, who: CallerDep, db: QueryDep) -> dict[str, Any]:
    """A case's sessions with their ids, weeks, types, due dates and states: for the unit's
    agents and the operators over it, and for the provincial system of the case's province
    (a `province-system:<p>` token), which names these session ids in its attendance and
    misses. The plan exists once scheduling has taken in the enrolment (usually within a
    second of `ClientEnrolled`): until then, 404."""
    reads_plans(who)
    case = await records.case_row(db, case_id)
    reads_plan(who, case)
    rows = (
        (
            await db.execute(
                sessions.select()
                .where(sessions.c.case_id == case_id)
                .order_by(sessions.c.due_on, sessions.c.week)
            )
        )
        .mappings()
        .all()
    )
    return {"case_id": case_id, "unit_id": case["unit_id"], "sessions": [dict(r) for r in rows]}


@router.post(
    "/sessions/{session_id}/attendance",
    response_model=SessionChanged,
    responses=ON_A_SESSION,
    tags=["sessions"],
)
async def record_attendance(
    session_id: str,
    body: Attendance,
    who: PersonDep,
    tx: CommandDep,
) -> dict[str, str]:
    """The session took place (`SessionCompleted`); a missed one may be recorded late."""
    row = await agent_work.session_of(tx.db, session_id, who.units)
    await batches.execute(
        tx.db,
        tx.outbox,
        RecordAttendance(
            session_id=session_id,
            unit_id=row["unit_id"],
            held_on=body.held_on,
            agent_id=body.agent_id,
            duration_minutes=body.duration_minutes,
        ),
    )
    return {"session_id": session_id, "state": SessionState.DONE}


class Miss(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: SessionMissReason
    agent_id: EntityId


@router.post(
    "/sessions/{session_id}/miss",
    response_model=SessionChanged,
    responses=ON_A_SESSION,
    tags=["sessions"],
)
async def record_miss(
    session_id: str,
    body: Miss,
    who: PersonDep,
    work: AgentWork,
) -> dict[str, str]:
    """The session did not take place, and why (`SessionMissed`); enough misses in a row flag
    the case (`CaseAtRiskOfDropOut`)."""
    await agent_work.execute(
        work, commands.RecordMiss(session_id, who.units, body.reason, body.agent_id)
    )
    return {"session_id": session_id, "state": SessionState.MISSED}


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_on: date
    reason: RescheduleReason
    agent_id: EntityId


@router.post(
    "/sessions/{session_id}/reschedule",
    response_model=SessionMoved,
    responses=ON_A_SESSION,
    tags=["sessions"],
)
async def reschedule(
    session_id: str,
    body: Reschedule,
    who: PersonDep,
    work: AgentWork,
) -> dict[str, str]:
    """Move an open session to another day, with the reason (`SessionRescheduled`)."""
    move = commands.Reschedule(session_id, who.units, body.due_on, body.reason, body.agent_id)
    state = await agent_work.execute(work, move)
    return {"session_id": session_id, "state": state, "due_on": body.due_on.isoformat()}


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: EntityId


@router.post(
    "/sessions/{session_id}/close",
    response_model=SessionClosed,
    responses=ON_A_SESSION,
    tags=["sessions"],
)
async def close_missed(
    session_id: str,
    body: Close,
    who: PersonDep,
    work: AgentWork,
) -> dict[str, Any]:
    """A missed session will not be made up: it leaves the worklist (it stays missed)."""
    closed_on = await agent_work.execute(
        work, commands.CloseMissed(session_id, who.units, body.agent_id)
    )
    return {"session_id": session_id, "state": SessionState.MISSED, "closed_on": closed_on}


class Replan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_on: date = Field(
        description="The first remaining session becomes due at the end of the week starting "
        "on this day; the others keep their order and spacing."
    )
    agent_id: EntityId
    reason: RescheduleReason = RescheduleReason.OTHER


@router.post(
    "/cases/{case_id}/replan",
    response_model=Replanned,
    responses=problem_responses(404, 409),
    tags=["sessions"],
)
async def replan(
    case_id: str,
    body: Replan,
    who: PersonDep,
    work: AgentWork,
) -> dict[str, Any]:
    """Re-plan a case's remaining sessions (open or on hold) from `starts_on`, with one agent
    (`SessionRescheduled` for each session that moved)."""
    planned = await agent_work.execute(
        work, commands.Replan(case_id, who.units, body.starts_on, body.agent_id, body.reason)
    )
    return {
        "case_id": case_id,
        "sessions": [
            {
                "session_id": s.session_id,
                "week": s.week,
                "session_type": s.session_type,
                "due_on": s.due_on,
                "state": s.state,
                "agent_id": s.agent_id,
            }
            for s in planned
        ],
    }
