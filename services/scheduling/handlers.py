"""Scheduling's reactions to other services' facts, each in the consumer's transaction:
units and agents from the registry; screenings, enrolments and closures from client-case.
An enrolment becomes a dated, assigned plan (`CasePlanCreated`)."""

from __future__ import annotations

import uuid
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


async def handle_unit_formed(session: AsyncSession, e: registry.UnitFormed) -> None:
    await session.execute(
        _insert(session, units).values(
            unit_id=e.unit_id,
            province_code=e.province_code,
            village_code=e.village_code,
            status="active",
        )
    )


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


async def handle_agent_appointed(session: AsyncSession, e: registry.RecoveryAgentAppointed) -> None:
    await session.execute(
        _insert(session, agents).values(agent_id=e.agent_id, unit_id=e.unit_id, active=True)
    )


async def agent_loads(session: AsyncSession, unit_id: str) -> dict[str, int]:
    """Active agents of the unit and how many open sessions each carries."""
    rows = await session.execute(
        select(agents.c.agent_id, func.count(sessions.c.session_id))
        .select_from(
            agents.outerjoin(
                sessions,
                (sessions.c.agent_id == agents.c.agent_id) & sessions.c.state.in_(OPEN_STATES),
            )
        )
        .where(agents.c.unit_id == unit_id, agents.c.active.is_(True))
        .group_by(agents.c.agent_id)
    )
    return {agent: int(n) for agent, n in rows.all()}


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


async def handle_client_screened(session: AsyncSession, e: client_case.ClientScreened) -> None:
    await session.execute(
        _insert(session, cases).values(
            case_id=e.case_id,
            unit_id=e.unit_id,
            client_ref=e.client_ref,
            screened_on=e.screened_at.date(),
            closed=False,
        )
    )


async def handle_client_enrolled(
    session: AsyncSession,
    outbox: Outbox,
    e: client_case.ClientEnrolled,
    templates: list[Template],
    today: date,
    grace_days: int,
) -> None:
    """The plan for the weeks still ahead, from the template for the route and risk level.
    A case has one plan: the same enrolment arriving again (under any event id) changes
    nothing."""
    planned_before = await session.execute(
        select(plans.c.plan_id).where(plans.c.case_id == e.case_id)
    )
    if planned_before.first() is not None:
        return
    screened_on = (
        await session.execute(select(cases.c.screened_on).where(cases.c.case_id == e.case_id))
    ).scalar()
    if screened_on is None:  # admitted without a screening here (e.g. aftercare)
        screened_on = e.enrolled_on
        await session.execute(
            _insert(session, cases).values(
                case_id=e.case_id,
                unit_id=e.unit_id,
                client_ref=e.client_ref,
                screened_on=screened_on,
                closed=False,
            )
        )
    template = domain.choose_template(
        templates, AdmissionRoute(e.admission_route), RiskLevel(e.risk_level)
    )
    planned = domain.plan_sessions(
        template,
        screened_on=screened_on,
        starts_on=e.enrolled_on,
        agents=await agent_loads(session, e.unit_id),
        new_id=iter(lambda: str(uuid.uuid4()), None),
    )
    plan_id = str(uuid.uuid4())
    await session.execute(
        plans.insert().values(
            plan_id=plan_id, case_id=e.case_id, template=template.name, starts_on=e.enrolled_on
        )
    )
    if planned:
        await session.execute(
            sessions.insert(),
            [
                {
                    "session_id": s.session_id,
                    "plan_id": plan_id,
                    "case_id": e.case_id,
                    "week": s.week,
                    "session_type": s.session_type,
                    "due_on": s.due_on,
                    "agent_id": s.agent_id,
                    "state": domain.sweep(s, today, grace_days=grace_days).state,
                }
                for s in planned
            ],
        )
    await outbox.add(
        session,
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
                for s in planned
            ],
        ),
    )


async def handle_case_closed(session: AsyncSession, e: client_case.CaseClosed) -> None:
    """The remaining sessions of a closed case are cancelled."""
    await session.execute(update(cases).where(cases.c.case_id == e.case_id).values(closed=True))
    await session.execute(
        update(sessions)
        .where(sessions.c.case_id == e.case_id, sessions.c.state.in_(OPEN_STATES))
        .values(state=SessionState.CANCELLED)
    )
