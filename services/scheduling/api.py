"""Scheduling's HTTP API: agents' worklists (overdue, due, upcoming), recording attendance,
misses, rescheduling and community activities, and a unit's calendar. Agents act only within
their unit; operators see the calendars of the units they oversee."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import batches, domain, records
from services.scheduling.commands import RecordActivity, RecordAttendance
from services.scheduling.db import activities, cases, sessions, units
from services.scheduling.domain import OPEN, SessionState
from services.scheduling.settings import Settings
from shared.contracts.types import ActivityType, EntityId, RescheduleReason, SessionMissReason
from shared.http import Problem, install_domain_errors
from shared.rules import Violation, check
from shared.runtime import runtime_of
from shared.security.roles import Forbidden, Role, parse_roles

router = APIRouter()


def _units_of(roles: str | None) -> set[str]:
    return {g.target for g in parse_roles(roles) if g.role is Role.UNIT_AGENT and g.target}


class Attendance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held_on: date
    agent_id: EntityId
    duration_minutes: int | None = Field(default=None, ge=1, le=600)


@router.get("/worklist", tags=["sessions"])
async def worklist(
    request: Request,
    agent_id: str,
    x_pulih_roles: Annotated[str | None, Header()] = None,
    days_ahead: Annotated[int, Query(ge=0, le=60)] = 7,
) -> dict[str, list[dict[str, Any]]]:
    """An agent's open sessions: overdue, due (this week), and upcoming within `days_ahead`."""
    mine = _units_of(x_pulih_roles)
    runtime = runtime_of(request)
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        rows = (
            (
                await session.execute(
                    records.SESSION_ROW.where(
                        sessions.c.agent_id == agent_id,
                        cases.c.unit_id.in_(mine),
                        sessions.c.state.in_([s.value for s in OPEN]),
                    ).order_by(sessions.c.due_on)
                )
            )
            .mappings()
            .all()
        )
    now = datetime.now(UTC)
    lists: dict[str, list[dict[str, Any]]] = {"overdue": [], "due": [], "upcoming": []}
    for r in rows:
        today = domain.local_today(now, r["province_code"])
        item = {
            "session_id": r["session_id"],
            "case_id": r["case_id"],
            "week": r["week"],
            "session_type": r["session_type"],
            "due_on": r["due_on"],
        }
        if r["due_on"] < today:
            lists["overdue"].append(item)
        elif r["due_on"] < today + timedelta(days=7):
            lists["due"].append(item)
        elif r["due_on"] <= today + timedelta(days=days_ahead + 7):
            lists["upcoming"].append(item)
    return lists


async def _agents_session(
    session: AsyncSession, session_id: str, roles: str | None, doing: str
) -> RowMapping:
    row = await records.session_row(session, session_id)
    if row["unit_id"] not in _units_of(roles):
        raise Forbidden(f"only an agent of the case's unit {doing}")
    return row


def _today(row: RowMapping) -> date:
    return domain.local_today(datetime.now(UTC), row["province_code"])


@router.post("/sessions/{session_id}/attendance", tags=["sessions"])
async def record_attendance(
    session_id: str,
    body: Attendance,
    request: Request,
    x_pulih_roles: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    """The session took place (`SessionCompleted`); a missed one may be recorded late."""
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        row = await _agents_session(session, session_id, x_pulih_roles, "records attendance")
        await batches.execute(
            session,
            runtime.outbox,
            RecordAttendance(
                session_id=session_id,
                unit_id=row["unit_id"],
                held_on=body.held_on,
                agent_id=body.agent_id,
                duration_minutes=body.duration_minutes,
            ),
        )
    runtime.notify_committed()
    return {"session_id": session_id, "state": SessionState.DONE}


class Miss(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: SessionMissReason
    agent_id: EntityId


@router.post("/sessions/{session_id}/miss", tags=["sessions"])
async def record_miss(
    session_id: str,
    body: Miss,
    request: Request,
    x_pulih_roles: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    """The session did not take place, and why (`SessionMissed`); enough misses in a row flag
    the case (`CaseAtRiskOfDropOut`)."""
    runtime = runtime_of(request)
    settings = runtime.settings
    assert isinstance(settings, Settings)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        row = await _agents_session(session, session_id, x_pulih_roles, "records a miss")
        await records.miss_session(
            session,
            runtime.outbox,
            row,
            reason=body.reason,
            agent_id=body.agent_id,
            today=_today(row),
            drop_out_after=settings.drop_out_after_misses,
        )
    runtime.notify_committed()
    return {"session_id": session_id, "state": SessionState.MISSED}


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_on: date
    reason: RescheduleReason
    agent_id: EntityId


@router.post("/sessions/{session_id}/reschedule", tags=["sessions"])
async def reschedule(
    session_id: str,
    body: Reschedule,
    request: Request,
    x_pulih_roles: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    """Move an open session to another day, with the reason (`SessionRescheduled`)."""
    runtime = runtime_of(request)
    settings = runtime.settings
    assert isinstance(settings, Settings)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        row = await _agents_session(session, session_id, x_pulih_roles, "moves its sessions")
        state = await records.reschedule_session(
            session,
            runtime.outbox,
            row,
            to_due_on=body.due_on,
            reason=body.reason,
            agent_id=body.agent_id,
            today=_today(row),
            grace_days=settings.missed_after_days,
        )
    runtime.notify_committed()
    return {"session_id": session_id, "state": state, "due_on": body.due_on.isoformat()}


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


@router.post("/activities", status_code=201, tags=["activities"])
async def record_activity(
    body: ActivityCreate, request: Request, x_pulih_roles: Annotated[str | None, Header()] = None
) -> dict[str, str]:
    """What makes a unit count as operational: its activities, recorded by its agents."""
    if body.unit_id not in _units_of(x_pulih_roles):
        raise Forbidden("only an agent of the unit records its activities")
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        activity_id = await batches.execute(
            session,
            runtime.outbox,
            RecordActivity(**{**body.model_dump(), "agent_ids": tuple(body.agent_ids)}),
        )
    runtime.notify_committed()
    assert activity_id is not None
    return {"activity_id": activity_id}


CALENDAR_MAX_DAYS = 92


@router.get("/units/{unit_id}/calendar", tags=["sessions", "activities"])
async def calendar(
    unit_id: str,
    request: Request,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    x_pulih_roles: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """A unit's days from `from` to `to` (at most 92): every session due on each day, in any
    state, with its agent and any rescheduling, and the activities held."""
    v = []
    if end < start:
        v.append(Violation("to", "after-from", "the range ends before it starts"))
    elif (end - start).days >= CALENDAR_MAX_DAYS:
        v.append(Violation("to", "range-limit", f"at most {CALENDAR_MAX_DAYS} days at a time"))
    check(v)
    runtime = runtime_of(request)
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        unit = (
            (await session.execute(select(units).where(units.c.unit_id == unit_id)))
            .mappings()
            .first()
        )
        if unit is None:
            raise records.NotFound(f"no unit {unit_id}")
        if not _sees(x_pulih_roles, unit):
            raise Forbidden("only the unit's agents and the operators over it see its calendar")
        due = (
            (
                await session.execute(
                    select(sessions)
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
                await session.execute(
                    select(activities)
                    .where(
                        activities.c.unit_id == unit_id, activities.c.held_on.between(start, end)
                    )
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
                "miss_reason": r["miss_reason"],
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


def _sees(roles: str | None, unit: RowMapping) -> bool:
    """The unit's agents, national operators, and the operators of its province or regency."""
    for grant in parse_roles(roles):
        if grant.role is Role.NATIONAL_OPERATOR:
            return True
        if grant.role is Role.UNIT_AGENT and grant.target == unit["unit_id"]:
            return True
        if grant.role is Role.PROVINCE_OPERATOR and grant.target == unit["province_code"]:
            return True
        if grant.role is Role.DISTRICT_OPERATOR and unit["village_code"].startswith(
            f"{grant.target}."
        ):
            return True
    return False


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app, rules_of="scheduling", problems={records.NotFound: Problem(404, "Not found")}
    )
