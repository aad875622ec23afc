"""What agents record through the API about a session, one request at a time: a session
missed or moved. Each use case checks its rules, changes the session and stages the event,
inside the caller's transaction. A miss may flag the case at risk of dropping out.
(Attendance and activities, from agents and provinces alike: `batches`.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import RowMapping, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, replans
from services.scheduling.db import agents, cases, sessions, units
from services.scheduling.domain import OPEN, SessionState
from shared.contracts import scheduling as events
from shared.contracts.base import EventData
from shared.contracts.types import (
    RescheduleReason,
    SessionMissReason,
)
from shared.messaging.outbox import Outbox
from shared.rules import Violation, check

OPEN_STATES = [s.value for s in OPEN]
MOVABLE = {*OPEN_STATES, SessionState.MISSED.value}
RESCHEDULE_WINDOW_DAYS = 28  # a session moves at most four weeks from where it was planned
REPLAN_AHEAD_DAYS = 28  # a case is re-planned from a day at most four weeks ahead


class NotFound(LookupError):
    pass


SESSION_ROW: Select[Any] = (
    select(
        sessions,
        cases.c.client_ref,
        cases.c.unit_id,
        cases.c.screened_on,
        cases.c.primary_agent_id,
        units.c.province_code,
        units.c.village_code,
        units.c.status.label("unit_status"),
        units.c.status_on.label("unit_status_on"),
    )
    .join(cases, cases.c.case_id == sessions.c.case_id)
    .join(units, units.c.unit_id == cases.c.unit_id)
)


async def session_row(db: AsyncSession, session_id: str) -> RowMapping:
    row = (
        (await db.execute(SESSION_ROW.where(sessions.c.session_id == session_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no session {session_id}")
    return row


def session_scope(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The fields every session event repeats."""
    return {
        "unit_id": row["unit_id"],
        "province_code": row["province_code"],
        "village_code": row["village_code"],
        "session_id": row["session_id"],
        "plan_id": row["plan_id"],
        "case_id": row["case_id"],
        "client_ref": row["client_ref"],
    }


async def _agent_violations(
    db: AsyncSession, unit_id: str, agent_ids: list[str], field: str
) -> list[Violation]:
    known = set(
        (
            await db.execute(
                select(agents.c.agent_id).where(
                    agents.c.agent_id.in_(agent_ids), agents.c.unit_id == unit_id
                )
            )
        ).scalars()
    )
    return [
        Violation(field, "agent-of-unit", f"agent {a} is not an agent of unit {unit_id}")
        for a in agent_ids
        if a not in known
    ]


def miss_violations(row: Mapping[Any, Any], today: date) -> list[Violation]:
    """A miss is recorded for an open session whose week has begun."""
    v = []
    if row["state"] not in OPEN_STATES:
        v.append(Violation("session_id", "open-session", f"the session is {row['state']}"))
    if row["due_on"] - timedelta(days=7) >= today:
        v.append(Violation("session_id", "week-begun", "the session's week has not begun"))
    return v


async def miss_session(
    db: AsyncSession,
    outbox: Outbox,
    row: RowMapping,
    *,
    reason: SessionMissReason,
    agent_id: str,
    today: date,
    drop_out_after: int,
) -> None:
    """An agent records why a session did not take place (before the sweeper would)."""
    v = miss_violations(row, today)
    v += await _agent_violations(db, row["unit_id"], [agent_id], "agent_id")
    check(v)
    await db.execute(
        update(sessions)
        .where(sessions.c.session_id == row["session_id"])
        .values(state=SessionState.MISSED, miss_reason=reason)
    )
    await outbox.add(
        db,
        events.SessionMissed(
            **session_scope(row),
            week=row["week"],
            session_type=row["session_type"],
            due_on=row["due_on"],
            reason=reason,
            reported_by_agent_id=agent_id,
        ),
    )
    await flag_at_risk(db, outbox, [row], today_of=lambda _: today, threshold=drop_out_after)


async def flag_at_risk(
    db: AsyncSession,
    outbox: Outbox,
    missed: Sequence[Mapping[Any, Any]],
    *,
    today_of: Callable[[str], date],
    threshold: int,
) -> int:
    """After misses (`SESSION_ROW` rows just missed): flag each open case whose run of
    consecutive misses has reached `threshold`, once per run (attendance ends a run), naming
    the miss that reached it. Set-based: the cases' histories in one query, the flags in one
    UPDATE per local day. Returns how many cases were flagged."""
    scope_of = {row["case_id"]: row for row in missed}  # (a case's unit, place and plan)
    if not scope_of:
        return 0
    unflagged = select(cases.c.case_id).where(
        cases.c.case_id.in_(scope_of), cases.c.closed.is_(False), cases.c.at_risk_on.is_(None)
    )
    history: dict[str, list[domain.Session]] = defaultdict(list)
    for r in (
        await db.execute(select(sessions).where(sessions.c.case_id.in_(unflagged)))
    ).mappings():
        history[r["case_id"]].append(domain.session_of(r))
    reached: dict[str, str] = {}  # case -> the miss that made the run `threshold` long
    for case, held in history.items():
        run = domain.missed_in_a_row(held)
        if len(run) >= threshold:
            reached[case] = run[threshold - 1].session_id
    on_day: dict[date, list[str]] = defaultdict(list)
    for case in reached:
        on_day[today_of(scope_of[case]["province_code"])].append(case)
    flags: list[EventData] = []
    for today, reaching in on_day.items():
        flagged = await db.execute(  # the sweeper and a province's misses may race here
            update(cases)
            .where(cases.c.case_id.in_(reaching), cases.c.at_risk_on.is_(None))
            .values(at_risk_on=today)
            .returning(cases.c.case_id)
        )
        for case in flagged.scalars():
            row = scope_of[case]
            flags.append(
                events.CaseAtRiskOfDropOut(
                    unit_id=row["unit_id"],
                    province_code=row["province_code"],
                    village_code=row["village_code"],
                    case_id=case,
                    plan_id=row["plan_id"],
                    client_ref=row["client_ref"],
                    consecutive_misses=threshold,
                    last_missed_session_id=reached[case],
                    flagged_on=today,
                )
            )
    if flags:
        await outbox.add_all(db, flags)
    return len(flags)


async def reschedule_session(
    db: AsyncSession,
    outbox: Outbox,
    row: RowMapping,
    *,
    to_due_on: date,
    reason: RescheduleReason,
    agent_id: str,
    today: date,
    grace_days: int,
) -> SessionState:
    """Move an open or missed session to another day, keeping the date first planned and the
    reason. Its state follows the new date (an overdue or missed session moved ahead is due
    again, and leaves the missed sessions on the worklist)."""
    planned_on = row["rescheduled_from"] or row["due_on"]
    v = []
    if row["state"] not in MOVABLE or row["closed_on"] is not None:
        v.append(Violation("session_id", "open-session", f"the session is {row['state']}"))
    if to_due_on < today:
        v.append(Violation("due_on", "not-in-past", "a session cannot be moved into the past"))
    if abs((to_due_on - planned_on).days) > RESCHEDULE_WINDOW_DAYS:
        v.append(
            Violation(
                "due_on",
                "within-window",
                f"at most {RESCHEDULE_WINDOW_DAYS} days from the planned {planned_on}",
            )
        )
    if to_due_on == row["due_on"]:
        v.append(Violation("due_on", "changed", "the session is already due on that day"))
    v += await _agent_violations(db, row["unit_id"], [agent_id], "agent_id")
    check(v)
    moved = domain.sweep(
        replace(domain.session_of(row), due_on=to_due_on, state=SessionState.PLANNED),
        today,
        grace_days=grace_days,
    )
    await db.execute(
        update(sessions)
        .where(sessions.c.session_id == row["session_id"])
        .values(
            due_on=to_due_on,
            state=moved.state,
            rescheduled_from=planned_on,
            reschedule_reason=reason,
            miss_reason=None,
        )
    )
    await outbox.add(
        db,
        events.SessionRescheduled(
            **session_scope(row),
            session_type=row["session_type"],
            from_due_on=row["due_on"],
            to_due_on=to_due_on,
            reason=reason,
            agent_id=agent_id,
        ),
    )
    return moved.state


async def close_missed_session(
    db: AsyncSession, row: RowMapping, *, agent_id: str, today: date
) -> None:
    """An agent closes a missed session that will not be made up: it leaves the worklist
    (it stays missed in the case's history and in the figures)."""
    v = []
    if row["state"] != SessionState.MISSED.value:
        v.append(Violation("session_id", "missed-session", f"the session is {row['state']}"))
    elif row["closed_on"] is not None:
        v.append(Violation("session_id", "not-closed", f"closed on {row['closed_on']}"))
    v += await _agent_violations(db, row["unit_id"], [agent_id], "agent_id")
    check(v)
    await db.execute(
        update(sessions).where(sessions.c.session_id == row["session_id"]).values(closed_on=today)
    )


async def case_row(db: AsyncSession, case_id: str) -> RowMapping:
    """A case with its unit's place and status."""
    row = (
        (
            await db.execute(
                select(
                    cases,
                    units.c.province_code,
                    units.c.village_code,
                    units.c.status.label("unit_status"),
                )
                .join(units, units.c.unit_id == cases.c.unit_id)
                .where(cases.c.case_id == case_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no case {case_id}")
    return row


async def replan_case(
    db: AsyncSession,
    outbox: Outbox,
    case: RowMapping,
    *,
    starts_on: date,
    reason: RescheduleReason,
    agent_id: str,
    today: date,
    rotate: bool,
) -> list[domain.Session]:
    """The unit's agent re-plans a case (the client came back, the unit returned): its
    sessions still ahead (open or on hold) re-dated from `starts_on`, keeping their order and
    spacing, and held by one agent again. Each moved session is announced
    (`SessionRescheduled`). Returns the sessions as planned now."""
    v = []
    if case["closed"]:
        v.append(Violation("case_id", "open-case", "the case is closed"))
    if case["unit_status"] != "active":
        v.append(Violation("case_id", "unit-active", f"the unit is {case['unit_status']}"))
    if starts_on < today:
        v.append(Violation("starts_on", "not-in-past", "a plan cannot start in the past"))
    elif (starts_on - today).days > REPLAN_AHEAD_DAYS:
        v.append(Violation("starts_on", "within-window", f"at most {REPLAN_AHEAD_DAYS} days ahead"))
    v += await _agent_violations(db, case["unit_id"], [agent_id], "agent_id")
    check(v)
    remaining = await replans.remaining_of(db, [case["case_id"]])
    loads = (await replans.agent_loads_of(db, {case["unit_id"]})).get(case["unit_id"], {})
    if not remaining:
        check([Violation("case_id", "sessions-ahead", "the case has no session left to plan")])
    if not loads:
        check([Violation("case_id", "unit-has-agent", "the unit has no active agent")])
    before = {s.session_id: s for s in remaining[case["case_id"]]}
    written = await replans.replan_cases(
        db,
        remaining,
        loads,
        starts_on=starts_on,
        today=today,
        rotate=rotate,
        never_earlier=False,
    )
    planned = written[case["case_id"]]
    plan_id = (
        await db.execute(select(sessions.c.plan_id).where(sessions.c.case_id == case["case_id"]))
    ).scalar()
    scope = {
        "unit_id": case["unit_id"],
        "province_code": case["province_code"],
        "village_code": case["village_code"],
        "plan_id": plan_id,
        "case_id": case["case_id"],
        "client_ref": case["client_ref"],
    }
    await outbox.add_all(
        db,
        [
            events.SessionRescheduled(
                **scope,
                session_id=s.session_id,
                session_type=s.session_type,
                from_due_on=before[s.session_id].due_on,
                to_due_on=s.due_on,
                reason=reason,
                agent_id=agent_id,
            )
            for s in planned
            if s.due_on != before[s.session_id].due_on
        ],
    )
    return planned
