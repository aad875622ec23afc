"""Scheduling's reactions to other services' facts, in the consumer's transaction: units and
agents from the registry; screenings, enrolments and closures from client-case, a run of one
type at a time. An enrolment becomes a dated, assigned plan (`CasePlanCreated`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import date

from sqlalchemy import Insert, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, replans
from services.scheduling.db import agents, cases, plans, sessions, units
from services.scheduling.domain import OPEN, SessionState, Template
from shared.contracts import client_case, registry, scheduling
from shared.contracts.types import AdmissionRoute, RiskLevel
from shared.messaging.outbox import Outbox
from shared.persistence import insert_ignoring_duplicates, update_rows

OPEN_STATES = [s.value for s in OPEN]


def _insert(db: AsyncSession, table: Table) -> Insert:
    """Insert-or-nothing: facts learned from events may arrive again."""
    dialect = db.bind.dialect.name if db.bind else "sqlite"
    return insert_ignoring_duplicates(table, dialect)


async def handle_unit_status_changed(
    db: AsyncSession,
    e: registry.UnitStatusChanged,
    *,
    today_in: Callable[[str], date],
    rotating: Collection[str],
) -> None:
    """A suspension or dissolution pauses, never destroys: the open sessions of the unit's
    open cases due from its effective date are put on hold, and what was due before stays as
    it is (it may still be recorded). A return to active re-plans each open case's sessions on
    hold from the return date, keeping their order and spacing, with one agent again. A
    dissolved unit's cases wait on hold for a transfer (`api.cases_needing_transfer`)."""
    await db.execute(
        update(units)
        .where(units.c.unit_id == e.unit_id)
        .values(status=e.to_status, status_on=e.effective_on)
    )
    open_cases = select(cases.c.case_id).where(
        cases.c.unit_id == e.unit_id, cases.c.closed.is_(False)
    )
    if e.to_status != "active":
        await db.execute(
            update(sessions)
            .where(
                sessions.c.case_id.in_(open_cases),
                sessions.c.state.in_(OPEN_STATES),
                sessions.c.due_on >= e.effective_on,
            )
            .values(state=SessionState.ON_HOLD)
        )
        return
    case_ids = list((await db.execute(open_cases)).scalars())
    held = await replans.remaining_of(db, case_ids, [SessionState.ON_HOLD.value])
    loads = (await replans.agent_loads_of(db, {e.unit_id})).get(e.unit_id, {})
    # With nobody to take them the sessions stay on hold, until an agent re-plans the case.
    await replans.replan_cases(
        db,
        held,
        loads,
        starts_on=e.effective_on,
        today=today_in(e.province_code),
        rotate=e.unit_id in rotating,
        never_earlier=True,
    )


async def handle_agent_deactivated(
    db: AsyncSession, e: registry.RecoveryAgentDeactivated, *, rotating: Collection[str]
) -> None:
    """The sessions still ahead of the cases the agent held go to one other agent per case,
    the least-loaded active agent, who becomes the case's primary agent (in a unit that
    prefers rotation: each session to the least-loaded agent)."""
    loads = (await replans.agent_loads_of(db, {e.unit_id})).get(e.unit_id, {})
    await db.execute(update(agents).where(agents.c.agent_id == e.agent_id).values(active=False))
    loads.pop(e.agent_id, None)
    if not loads:
        return  # nobody left to take them: they stay visible as the unit's open work
    held = (
        await db.execute(
            select(sessions.c.case_id)
            .where(
                sessions.c.agent_id == e.agent_id, sessions.c.state.in_(replans.REMAINING_STATES)
            )
            .union(select(cases.c.case_id).where(cases.c.primary_agent_id == e.agent_id))
        )
    ).scalars()
    remaining = await replans.remaining_of(db, set(held))
    if e.unit_id in rotating:
        remaining = {
            c: [s for s in ahead if s.agent_id == e.agent_id] for c, ahead in remaining.items()
        }
    await replans.give_to_agents(db, remaining, loads, rotate=e.unit_id in rotating)


# --- set-based: a run of the same fact at once (`consumers.canonical_facts`) ---------------------


async def units_formed(db: AsyncSession, facts: Sequence[registry.UnitFormed]) -> None:
    await db.execute(
        _insert(db, units),
        [
            {
                "unit_id": e.unit_id,
                "province_code": e.province_code,
                "village_code": e.village_code,
                "status": "active",
                "formed_on": e.formed_on,
            }
            for e in facts
        ],
    )


async def agents_appointed(
    db: AsyncSession, facts: Sequence[registry.RecoveryAgentAppointed]
) -> None:
    await db.execute(
        _insert(db, agents),
        [{"agent_id": e.agent_id, "unit_id": e.unit_id, "active": True} for e in facts],
    )


async def clients_screened(db: AsyncSession, facts: Sequence[client_case.ClientScreened]) -> None:
    await db.execute(
        _insert(db, cases),
        [
            {
                "case_id": e.case_id,
                "unit_id": e.unit_id,
                "client_ref": e.client_ref,
                "screened_on": e.screened_at.date(),
                "closed": False,
            }
            for e in facts
        ],
    )


async def cases_closed(db: AsyncSession, facts: Sequence[client_case.CaseClosed]) -> None:
    """The remaining sessions of closed cases are cancelled."""
    case_ids = {e.case_id for e in facts}
    await db.execute(update(cases).where(cases.c.case_id.in_(case_ids)).values(closed=True))
    await db.execute(
        update(sessions)
        .where(sessions.c.case_id.in_(case_ids), sessions.c.state.in_(OPEN_STATES))
        .values(state=SessionState.CANCELLED)
    )


async def clients_enrolled(
    db: AsyncSession,
    outbox: Outbox,
    facts: Sequence[client_case.ClientEnrolled],
    templates: list[Template],
    today_in: Callable[[str], date],
    grace_days: int,
    rotating: Collection[str] = frozenset(),
) -> None:
    """Each enrolment becomes the plan for the weeks still ahead, from the template for its
    route and risk level, all held by the case's primary agent, the unit's least-loaded
    active agent (or spread by load in `rotating` units). A case has one plan:
    the same enrolment again (under any event id, in this run or later) changes nothing.
    One query per kind of reference; the agents' loads kept in memory as each plan takes its
    share; one insert per table. `today_in(province)` is the province's local day."""
    case_ids = {e.case_id for e in facts}
    planned = set(
        (await db.execute(select(plans.c.case_id).where(plans.c.case_id.in_(case_ids)))).scalars()
    )
    found = await db.execute(
        select(cases.c.case_id, cases.c.screened_on).where(cases.c.case_id.in_(case_ids))
    )
    screened: dict[str, date] = {case_id: on for case_id, on in found.tuples()}
    loads = await replans.agent_loads_of(db, {e.unit_id for e in facts})
    new_cases: list[dict[str, object]] = []
    primaries: list[dict[str, object]] = []
    plan_rows: list[dict[str, object]] = []
    session_rows: list[dict[str, object]] = []
    staged: list[scheduling.CasePlanCreated] = []
    for e in facts:
        if e.case_id in planned:  # one plan per case, whatever the event id
            continue
        planned.add(e.case_id)
        screened_on = screened.get(e.case_id)
        if screened_on is None:  # admitted without a screening here (e.g. aftercare)
            screened_on = screened[e.case_id] = e.enrolled_on
            new_cases.append(
                {
                    "case_id": e.case_id,
                    "unit_id": e.unit_id,
                    "client_ref": e.client_ref,
                    "screened_on": screened_on,
                    "closed": False,
                }
            )
        template = domain.choose_template(
            templates, AdmissionRoute(e.admission_route), RiskLevel(e.risk_level)
        )
        unit_loads = loads.setdefault(e.unit_id, {})
        ahead = domain.plan_sessions(
            template,
            screened_on=screened_on,
            starts_on=e.enrolled_on,
            agents=unit_loads,
            new_id=iter(lambda: str(uuid.uuid4()), None),
            rotate=e.unit_id in rotating,
        )
        if e.unit_id not in rotating and ahead:
            primaries.append({"case_id": e.case_id, "primary_agent_id": ahead[0].agent_id})
        today = today_in(e.province_code)
        plan_id = str(uuid.uuid4())
        plan_rows.append(
            {
                "plan_id": plan_id,
                "case_id": e.case_id,
                "template": template.name,
                "starts_on": e.enrolled_on,
            }
        )
        for s in ahead:
            state = domain.sweep(s, today, grace_days=grace_days).state
            if state in OPEN:
                unit_loads[s.agent_id] += 1
            session_rows.append(
                {
                    "session_id": s.session_id,
                    "plan_id": plan_id,
                    "case_id": e.case_id,
                    "week": s.week,
                    "session_type": s.session_type,
                    "due_on": s.due_on,
                    "agent_id": s.agent_id,
                    "state": state,
                }
            )
        staged.append(
            scheduling.CasePlanCreated(
                unit_id=e.unit_id,
                province_code=e.province_code,
                village_code=e.village_code,
                plan_id=plan_id,
                case_id=e.case_id,
                client_ref=e.client_ref,
                starts_on=e.enrolled_on,
                sessions=[
                    scheduling.PlannedSession(
                        session_id=s.session_id,
                        week=s.week,
                        session_type=s.session_type,
                        due_on=s.due_on,
                    )
                    for s in ahead
                ],
            )
        )
    if new_cases:
        await db.execute(_insert(db, cases), new_cases)
    await update_rows(db, cases.c.case_id, primaries)
    if plan_rows:
        await db.execute(plans.insert(), plan_rows)
    if session_rows:
        await db.execute(sessions.insert(), session_rows)
    await outbox.add_all(db, staged)


async def cases_transferred(
    db: AsyncSession,
    facts: Sequence[client_case.CaseTransferred],
    today_in: Callable[[str], date],
    rotating: Collection[str],
) -> None:
    """A transferred case's sessions follow it: the receiving unit's agents record them, and
    one of its agents (the least-loaded, or by load in a rotating unit) holds those still
    ahead; sessions on hold (a suspended or dissolved unit's) are re-planned from the transfer
    date. If the receiving unit is not active or has no active agent yet, the sessions from
    the transfer date wait on hold, and its agent re-plans the case when it can."""
    for e in facts:  # rare: one at a time
        await db.execute(
            update(cases).where(cases.c.case_id == e.case_id).values(unit_id=e.unit_id)
        )
        status = (
            await db.execute(select(units.c.status).where(units.c.unit_id == e.unit_id))
        ).scalar()
        loads = (await replans.agent_loads_of(db, {e.unit_id})).get(e.unit_id, {})
        if status != "active" or not loads:
            await db.execute(
                update(sessions)
                .where(
                    sessions.c.case_id == e.case_id,
                    sessions.c.state.in_(OPEN_STATES),
                    sessions.c.due_on >= e.transferred_on,
                )
                .values(state=SessionState.ON_HOLD)
            )
            continue
        rotate = e.unit_id in rotating
        remaining = await replans.remaining_of(db, [e.case_id])
        ahead = remaining.get(e.case_id, [])
        held = [s for s in ahead if s.state is SessionState.ON_HOLD]
        if held:
            await replans.replan_cases(
                db,
                {e.case_id: held},
                loads,
                starts_on=e.transferred_on,
                today=today_in(e.province_code),
                rotate=rotate,
                never_earlier=True,
            )
            ahead = [s for s in ahead if s.state is not SessionState.ON_HOLD]
        if ahead:
            await replans.give_to_agents(db, {e.case_id: ahead}, loads, rotate=rotate)
