"""Scheduling's HTTP API for recovery agents: the worklist (overdue, due, upcoming) and
recording attendance. Agents act only within their unit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from services.scheduling import domain
from services.scheduling.db import cases, sessions, units
from services.scheduling.domain import OPEN, SessionState
from shared.contracts import scheduling as events
from shared.contracts.types import ActivityType, EntityId
from shared.http import Problem, install_domain_errors
from shared.rules import Violation, check
from shared.runtime import runtime_of
from shared.security.roles import Forbidden, Role, parse_roles

router = APIRouter()


class NotFound(LookupError):
    pass


def _units_of(roles: str | None) -> set[str]:
    return {g.target for g in parse_roles(roles) if g.role is Role.UNIT_AGENT and g.target}


class Attendance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held_on: date
    agent_id: EntityId
    duration_minutes: int | None = Field(default=None, ge=1, le=600)


_SESSION_ROW = (
    select(
        sessions, cases.c.client_ref, cases.c.unit_id, units.c.province_code, units.c.village_code
    )
    .join(cases, cases.c.case_id == sessions.c.case_id)
    .join(units, units.c.unit_id == cases.c.unit_id)
)


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
                    _SESSION_ROW.where(
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


@router.post("/sessions/{session_id}/attendance", tags=["sessions"])
async def record_attendance(
    session_id: str,
    body: Attendance,
    request: Request,
    x_pulih_roles: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    mine = _units_of(x_pulih_roles)
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        row = (
            (await session.execute(_SESSION_ROW.where(sessions.c.session_id == session_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no session {session_id}")
        if row["unit_id"] not in mine:
            raise Forbidden("only an agent of the case's unit records attendance")
        today = domain.local_today(datetime.now(UTC), row["province_code"])
        v = []
        if row["state"] not in {s.value for s in OPEN} | {SessionState.MISSED.value}:
            v.append(Violation("session_id", "open-session", f"the session is {row['state']}"))
        if body.held_on > today:
            v.append(Violation("held_on", "not-in-future", "the date is in the future"))
        check(v)
        await session.execute(
            update(sessions)
            .where(sessions.c.session_id == session_id)
            .values(state=SessionState.DONE)
        )
        await runtime.outbox.add(
            session,
            events.SessionCompleted(
                unit_id=row["unit_id"],
                province_code=row["province_code"],
                village_code=row["village_code"],
                session_id=session_id,
                plan_id=row["plan_id"],
                case_id=row["case_id"],
                client_ref=row["client_ref"],
                week=row["week"],
                session_type=row["session_type"],
                held_on=body.held_on,
                agent_id=body.agent_id,
                duration_minutes=body.duration_minutes,
            ),
        )
    runtime.notify_committed()
    return {"session_id": session_id, "state": "done"}


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
        unit = (
            (await session.execute(select(units).where(units.c.unit_id == body.unit_id)))
            .mappings()
            .first()
        )
        if unit is None:
            raise NotFound(f"no unit {body.unit_id}")
        v = []
        if unit["status"] != "active":
            v.append(Violation("unit_id", "unit-active", f"the unit is {unit['status']}"))
        if body.held_on > domain.local_today(datetime.now(UTC), unit["province_code"]):
            v.append(Violation("held_on", "not-in-future", "the date is in the future"))
        for field, count in (
            ("participants_female", body.participants_female),
            ("people_screened", body.people_screened),
        ):
            if count is not None and count > body.participants:
                v.append(Violation(field, "within-participants", "cannot exceed participants"))
        check(v)
        activity_id = str(uuid.uuid4())
        await runtime.outbox.add(
            session,
            events.ActivityHeld(
                unit_id=body.unit_id,
                province_code=unit["province_code"],
                village_code=unit["village_code"],
                activity_id=activity_id,
                activity_type=body.activity_type,
                held_on=body.held_on,
                agent_ids=body.agent_ids,
                participants=body.participants,
                participants_female=body.participants_female,
                people_screened=body.people_screened,
            ),
        )
    runtime.notify_committed()
    return {"activity_id": activity_id}


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app, rules_of="scheduling", problems={NotFound: Problem(404, "Not found")}
    )
