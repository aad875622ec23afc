"""A case's remaining sessions re-dated and given to one agent again, inside the caller's
transaction: when its unit returns from a suspension or dissolution, when the case moves to
another unit, when an agent leaves (agents only), and when the unit's agent asks for it.
One query per kind of reference, one statement per table."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain
from services.scheduling.db import agents, cases, sessions
from services.scheduling.domain import OPEN, REMAINING, Session
from shared.persistence import update_rows

OPEN_STATES = [s.value for s in OPEN]
REMAINING_STATES = [s.value for s in REMAINING]


async def agent_loads_of(db: AsyncSession, unit_ids: Collection[str]) -> dict[str, dict[str, int]]:
    """Unit → its active agents → how many open sessions each carries."""
    rows = await db.execute(
        select(agents.c.unit_id, agents.c.agent_id, func.count(sessions.c.session_id))
        .select_from(
            agents.outerjoin(
                sessions,
                (sessions.c.agent_id == agents.c.agent_id) & sessions.c.state.in_(OPEN_STATES),
            )
        )
        .where(agents.c.unit_id.in_(unit_ids), agents.c.active.is_(True))
        .group_by(agents.c.unit_id, agents.c.agent_id)
    )
    loads: dict[str, dict[str, int]] = {}
    for unit_id, agent_id, n in rows.tuples():
        loads.setdefault(unit_id, {})[agent_id] = int(n)
    return loads


async def remaining_of(
    db: AsyncSession, case_ids: Collection[str], states: Collection[str] = REMAINING_STATES
) -> dict[str, list[Session]]:
    """Case → its sessions in `states` (by default all still ahead: open or on hold)."""
    rows = await db.execute(
        select(sessions).where(sessions.c.case_id.in_(case_ids), sessions.c.state.in_(states))
    )
    found: dict[str, list[Session]] = {}
    for r in rows.mappings():
        found.setdefault(r["case_id"], []).append(domain.session_of(r))
    return found


async def primaries_of(db: AsyncSession, case_ids: Collection[str]) -> dict[str, str | None]:
    rows = await db.execute(
        select(cases.c.case_id, cases.c.primary_agent_id).where(cases.c.case_id.in_(case_ids))
    )
    return dict(rows.tuples().all())


async def give_to_agents(
    db: AsyncSession,
    remaining: Mapping[str, Sequence[Session]],
    loads: Mapping[str, int],
    *,
    rotate: bool,
    before: Mapping[str, Sequence[Session]] | None = None,
    new_baseline: bool = False,
) -> list[Session]:
    """Agents for the cases' sessions (`domain.assign`) among the unit's active agents and
    their `loads`, written with each session's date and state as given. `before`: the same
    sessions as stored, when their dates or states changed (their open ones are in `loads`).
    `new_baseline`: the dates are a new plan, so the date first planned and the reason a
    session moved are cleared. Returns the sessions as written."""
    stored = before if before is not None else remaining
    load = domain.loads_without(loads, [s for ahead in stored.values() for s in ahead])
    primaries = await primaries_of(db, list(remaining))
    moved, new_primaries = domain.assign(remaining, primaries, load, rotate=rotate)
    agent_of = {s.session_id: s.agent_id for s in moved}
    written = [
        replace(s, agent_id=agent_of.get(s.session_id, s.agent_id))
        for ahead in remaining.values()
        for s in ahead
    ]
    await update_rows(
        db,
        sessions.c.session_id,
        [
            {
                "session_id": s.session_id,
                "due_on": s.due_on,
                "state": s.state,
                "agent_id": s.agent_id,
                **({"rescheduled_from": None, "reschedule_reason": None} if new_baseline else {}),
            }
            for s in written
        ],
    )
    await update_rows(
        db,
        cases.c.case_id,
        [{"case_id": c, "primary_agent_id": a} for c, a in new_primaries.items()],
    )
    return written


async def replan_cases(
    db: AsyncSession,
    remaining: Mapping[str, Sequence[Session]],
    loads: Mapping[str, int],
    *,
    starts_on: date,
    today: date,
    rotate: bool,
    never_earlier: bool,
) -> dict[str, list[Session]]:
    """Each case's sessions re-dated from `starts_on` (`domain.replan`), planned or due by
    `today`, and given to the unit's agents. A re-plan is a new baseline: the date a session
    was first planned and the reason it moved are cleared (the calendar shows the new plan).
    Returns case → its sessions as written; nothing when the unit has no active agent."""
    if not loads or not remaining:
        return {}
    replanned = {
        case_id: [
            replace(s, state=domain.opened_state(s, today))
            for s in domain.replan(ahead, starts_on, never_earlier=never_earlier)
        ]
        for case_id, ahead in remaining.items()
    }
    written = await give_to_agents(
        db, replanned, loads, rotate=rotate, before=remaining, new_baseline=True
    )
    by_id = {s.session_id: s for s in written}
    return {case_id: [by_id[s.session_id] for s in ahead] for case_id, ahead in replanned.items()}
