"""Scheduling's reactions to other services' facts, in the consumer's transaction: units and
agents from the registry; screenings, enrolments and closures from client-case, a run of one
type at a time. An enrolment becomes a dated, assigned plan (`CasePlanCreated`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain
from services.scheduling.db import agents, cases, plans, sessions, units
from services.scheduling.domain import OPEN, SessionState, Template
from shared.contracts import client_case, registry, scheduling
from shared.contracts.types import AdmissionRoute, RiskLevel
from shared.messaging.outbox import Outbox
from shared.persistence import insert_ignoring_duplicates

OPEN_STATES = [s.value for s in OPEN]


def _insert(session: AsyncSession, table: Table) -> Insert:
    """Insert-or-nothing: facts learned from events may arrive again."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return insert_ignoring_duplicates(table, dialect)


async def handle_unit_status_changed(session: AsyncSession, e: registry.UnitStatusChanged) -> None:
    """A suspended or dissolved unit stops producing work: its open sessions are cancelled."""
    await session.execute(
        update(units).where(units.c.unit_id == e.unit_id).values(status=e.to_status)
    )
    if e.to_status != "active":
        await session.execute(
            update(sessions)
            .where(
                sessions.c.case_id.in_(select(cases.c.case_id).where(cases.c.unit_id == e.unit_id)),
                sessions.c.state.in_(OPEN_STATES),
            )
            .values(state=SessionState.CANCELLED)
        )


async def agent_loads(session: AsyncSession, unit_id: str) -> dict[str, int]:
    """Active agents of the unit and how many open sessions each carries."""
    return (await agent_loads_of(session, {unit_id})).get(unit_id, {})


async def handle_agent_deactivated(
    session: AsyncSession, e: registry.RecoveryAgentDeactivated
) -> None:
    """The agent's open sessions go to the unit's other active agents, by load."""
    loads = await agent_loads(session, e.unit_id)
    await session.execute(
        update(agents).where(agents.c.agent_id == e.agent_id).values(active=False)
    )
    if not set(loads) - {e.agent_id}:
        return  # nobody left to take them: they stay visible as the unit's open work
    rows = (
        await session.execute(
            select(sessions).where(
                sessions.c.agent_id == e.agent_id, sessions.c.state.in_(OPEN_STATES)
            )
        )
    ).mappings()
    held = [domain.session_of(r) for r in rows]
    for moved in domain.reassign(held, e.agent_id, loads):
        await session.execute(
            update(sessions)
            .where(sessions.c.session_id == moved.session_id)
            .values(agent_id=moved.agent_id)
        )


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
) -> None:
    """Each enrolment becomes the plan for the weeks still ahead, from the template for its
    route and risk level, assigned to the unit's active agents by load. A case has one plan:
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
    loads = await agent_loads_of(db, {e.unit_id for e in facts})
    new_cases: list[dict[str, object]] = []
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
        )
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
    if plan_rows:
        await db.execute(plans.insert(), plan_rows)
    if session_rows:
        await db.execute(sessions.insert(), session_rows)
    await outbox.add_all(db, staged)


async def agent_loads_of(db: AsyncSession, unit_ids: set[str]) -> dict[str, dict[str, int]]:
    """`agent_loads` of many units: unit → its active agents → their open sessions."""
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
