"""What agents and provinces record — attendance at planned sessions, a province's misses,
the units' community activities — set-based: a batch of commands (one from an HTTP request, or
a partition's worth from a province) is checked against state loaded with one query per kind
of reference (sessions with their case and unit, units, agents, earlier submissions), each
command in order (a session attended twice in one batch is refused the second time), then
written with one statement per table and every canonical event in one outbox insert."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain
from services.scheduling.commands import Command, RecordActivity, RecordAttendance, RecordMissed
from services.scheduling.db import activities, agents, cases, sessions, units
from services.scheduling.domain import SessionState
from services.scheduling.records import (
    OPEN_STATES,
    SESSION_ROW,
    flag_at_risk,
    miss_violations,
    session_scope,
)
from shared.contracts import scheduling as events
from shared.contracts.base import EventData
from shared.messaging.outbox import Outbox
from shared.persistence import update_rows
from shared.regions import local_today
from shared.rules import RuleViolations, Violation, check

ATTENDABLE = {*OPEN_STATES, SessionState.MISSED.value}  # a missed session may be held late


def attendance_violations(row: dict[str, Any], held_on: date, today: date) -> list[Violation]:
    """Attendance is a fact about an open (or missed, not closed) session, dated no earlier
    than the case was opened and within the session's window (`domain.attendance_window`).
    A session on hold may be recorded if it was held before its unit's suspension began."""
    v = []
    on_hold = row["state"] == SessionState.ON_HOLD.value
    hold_began = row["unit_status_on"] if row["unit_status"] != "active" else None
    if on_hold and not (hold_began is not None and held_on < hold_began):
        v.append(
            Violation(
                "session_id",
                "open-session",
                "the session is on hold: only a date before the hold may be recorded",
            )
        )
    elif not on_hold and row["state"] not in ATTENDABLE:
        v.append(Violation("session_id", "open-session", f"the session is {row['state']}"))
    elif row["closed_on"] is not None:
        v.append(Violation("session_id", "open-session", "the missed session was closed"))
    if held_on > today:
        v.append(Violation("held_on", "not-in-future", "the date is in the future"))
    if row["screened_on"] is not None and held_on < row["screened_on"]:
        v.append(
            Violation(
                "held_on", "after-case-opened", f"the case was opened on {row['screened_on']}"
            )
        )
    else:
        earliest, _ = domain.attendance_window(
            row["rescheduled_from"] or row["due_on"], row["due_on"], today
        )
        if held_on < earliest:
            v.append(
                Violation(
                    "held_on",
                    "within-session-window",
                    f"at most {domain.ATTENDANCE_EARLY_DAYS} days before the session's week "
                    f"begins: not before {earliest}",
                )
            )
    return v


@dataclass
class Done:
    error: Exception | None = None
    event_id: str | None = None
    result: str | None = None
    """The new record's id (an activity's)."""


@dataclass
class Batch:
    now: datetime
    drop_out_after: int
    """Misses in a row that flag a case (`PULIH_DROP_OUT_AFTER_MISSES`)."""
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents_of: dict[str, str] = field(default_factory=dict)
    """Agent id → its unit."""
    submitted: set[tuple[str, str]] = field(default_factory=set)
    """Activities recorded before: (province, submission id)."""
    attended: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    new_activities: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    async def load(
        cls, db: AsyncSession, commands: Sequence[Command], drop_out_after: int
    ) -> Batch:
        state = cls(datetime.now(UTC), drop_out_after)
        facts = commands
        on_sessions = [f for f in facts if isinstance(f, RecordAttendance | RecordMissed)]
        session_ids = {f.session_id for f in on_sessions}
        if session_ids:
            found = await db.execute(SESSION_ROW.where(sessions.c.session_id.in_(session_ids)))
            state.sessions = {r["session_id"]: dict(r) for r in found.mappings()}
        unit_ids = {f.unit_id for f in facts if isinstance(f, RecordActivity)}
        if unit_ids:
            found = await db.execute(select(units).where(units.c.unit_id.in_(unit_ids)))
            state.units = {r["unit_id"]: dict(r) for r in found.mappings()}
        agent_ids = {f.agent_id for f in on_sessions}
        agent_ids |= {a for f in facts if isinstance(f, RecordActivity) for a in f.agent_ids}
        if agent_ids:
            found = await db.execute(
                select(agents.c.agent_id, agents.c.unit_id).where(agents.c.agent_id.in_(agent_ids))
            )
            state.agents_of = dict(found.tuples().all())
        wanted = {f.submission for f in facts if isinstance(f, RecordActivity) and f.submission}
        for province in {p for p, _ in wanted}:
            found = await db.execute(
                select(activities.c.submission_id).where(
                    activities.c.province_code == province,
                    activities.c.submission_id.in_({sid for p, sid in wanted if p == province}),
                )
            )
            state.submitted |= {(province, sid) for sid in found.scalars()}
        return state

    def today_in(self, province: str) -> date:
        return local_today(self.now, province)

    def not_the_units(
        self, unit_id: str, agent_ids: Sequence[str], field_name: str
    ) -> list[Violation]:
        return [
            Violation(field_name, "agent-of-unit", f"agent {a} is not an agent of unit {unit_id}")
            for a in agent_ids
            if self.agents_of.get(a) != unit_id
        ]

    def session_for(self, fact: RecordAttendance | RecordMissed) -> dict[str, Any]:
        row = self.sessions.get(fact.session_id)
        if row is None:
            raise RuleViolations([Violation("session_id", "exists", "no session has this id")])
        if row["unit_id"] != fact.unit_id:
            raise RuleViolations(
                [Violation("session_id", "session-of-unit", "the session is another unit's")]
            )
        if fact.province is not None and row["province_code"] != fact.province:
            raise RuleViolations(
                [Violation("unit_id", "own-province", f"the unit is not in {fact.province}")]
            )
        return row

    async def write(self, db: AsyncSession, outbox: Outbox, done: list[Done]) -> None:
        await update_rows(
            db,
            sessions.c.session_id,
            [
                {
                    "session_id": r["session_id"],
                    "state": r["state"],
                    "miss_reason": r["miss_reason"],
                }
                for r in self.missed
            ],
        )
        await update_rows(
            db,
            sessions.c.session_id,
            [
                {
                    "session_id": r["session_id"],
                    "state": SessionState.DONE,
                    "miss_reason": None,
                    "held_on": r["held_on"],
                }
                for r in self.attended
            ],
        )
        # Attendance breaks a run of misses: a later run flags the case again.
        await update_rows(
            db,
            cases.c.case_id,
            [{"case_id": c, "at_risk_on": None} for c in {r["case_id"] for r in self.attended}],
        )
        if self.new_activities:
            await db.execute(activities.insert(), self.new_activities)
        for index, event_id in (await outbox.stage_batch(db, self.events)).items():
            done[index].event_id = event_id
        # Misses may make a run: the cases missed in this batch are looked at together.
        await flag_at_risk(
            db,
            outbox,
            [r for r in self.missed if r["state"] == "missed"],
            today_of=self.today_in,
            threshold=self.drop_out_after,
        )


def attend(state: Batch, index: int, fact: RecordAttendance) -> None:
    row = state.session_for(fact)
    today = state.today_in(row["province_code"])
    v = attendance_violations(row, fact.held_on, today)
    v += state.not_the_units(row["unit_id"], [fact.agent_id], "agent_id")
    check(v)
    row["state"] = SessionState.DONE.value
    row["held_on"] = fact.held_on
    state.attended.append(row)
    state.events.append(
        (
            index,
            events.SessionCompleted(
                **session_scope(row),
                week=row["week"],
                session_type=row["session_type"],
                held_on=fact.held_on,
                agent_id=fact.agent_id,
                duration_minutes=fact.duration_minutes,
            ),
        )
    )


def miss(state: Batch, index: int, fact: RecordMissed) -> None:
    row = state.session_for(fact)
    v = miss_violations(row, state.today_in(row["province_code"]))
    v += state.not_the_units(row["unit_id"], [fact.agent_id], "agent_id")
    check(v)
    row["state"] = SessionState.MISSED.value
    row["miss_reason"] = fact.reason
    state.missed.append(row)
    state.events.append(
        (
            index,
            events.SessionMissed(
                **session_scope(row),
                week=row["week"],
                session_type=row["session_type"],
                due_on=row["due_on"],
                reason=fact.reason,
                reported_by_agent_id=fact.agent_id,
            ),
        )
    )


def hold_activity(state: Batch, index: int, fact: RecordActivity) -> str:
    unit = state.units.get(fact.unit_id)
    if unit is None:
        raise RuleViolations([Violation("unit_id", "exists", "no unit has this id")])
    if fact.submission is not None and unit["province_code"] != fact.submission[0]:
        raise RuleViolations(
            [Violation("unit_id", "own-province", f"the unit is not in {fact.submission[0]}")]
        )
    v = []
    if unit["status"] != "active" and (
        unit["status_on"] is None or fact.held_on >= unit["status_on"]
    ):  # an activity held before the unit stopped may arrive late
        v.append(Violation("unit_id", "unit-active", f"the unit is {unit['status']}"))
    if fact.held_on > state.today_in(unit["province_code"]):
        v.append(Violation("held_on", "not-in-future", "the date is in the future"))
    if unit["formed_on"] is not None and fact.held_on < unit["formed_on"]:
        # Else the unit would count as operational in a year before it existed.
        v.append(
            Violation("held_on", "after-unit-formed", f"the unit was formed on {unit['formed_on']}")
        )
    for name, count in (
        ("participants_female", fact.participants_female),
        ("people_screened", fact.people_screened),
    ):
        if count is not None and count > fact.participants:
            v.append(Violation(name, "within-participants", "cannot exceed participants"))
    v += state.not_the_units(fact.unit_id, fact.agent_ids, "agent_ids")
    if fact.submission in state.submitted:
        v.append(
            Violation("submission_id", "unique-submission", "this activity was recorded before")
        )
    check(v)
    if fact.submission:
        state.submitted.add(fact.submission)
    activity_id = str(uuid.uuid4())
    state.new_activities.append(
        {
            "activity_id": activity_id,
            "unit_id": fact.unit_id,
            "activity_type": fact.activity_type,
            "held_on": fact.held_on,
            "participants": fact.participants,
            "people_screened": fact.people_screened,
            "province_code": fact.submission[0] if fact.submission else None,
            "submission_id": fact.submission[1] if fact.submission else None,
        }
    )
    state.events.append(
        (
            index,
            events.ActivityHeld(
                unit_id=fact.unit_id,
                province_code=unit["province_code"],
                village_code=unit["village_code"],
                activity_id=activity_id,
                activity_type=fact.activity_type,
                held_on=fact.held_on,
                agent_ids=list(fact.agent_ids),
                participants=fact.participants,
                participants_female=fact.participants_female,
                people_screened=fact.people_screened,
            ),
        )
    )
    return activity_id


HANDLERS: dict[type[Command], Callable[[Batch, int, Any], str | None]] = {
    RecordAttendance: attend,
    RecordMissed: miss,
    RecordActivity: hold_activity,
}


async def handle(
    db: AsyncSession, outbox: Outbox, commands: Sequence[Command], *, drop_out_after: int = 3
) -> list[Done]:
    """Apply a batch in order; a refused command changes nothing and the rest go on.
    `drop_out_after`: misses in a row that flag a case (the service passes its setting)."""
    state = await Batch.load(db, commands, drop_out_after)
    done: list[Done] = []
    for index, command in enumerate(commands):
        try:  # every rule is checked before a use case touches the batch's state
            done.append(Done(result=HANDLERS[type(command)](state, index, command)))
        except RuleViolations as exc:
            done.append(Done(error=exc))
    await state.write(db, outbox, done)
    return done


async def execute(db: AsyncSession, outbox: Outbox, command: Command) -> str | None:
    """One command (an HTTP request): its result, or its refusal raised."""
    [done] = await handle(db, outbox, [command])
    if done.error is not None:
        raise done.error
    return done.result
