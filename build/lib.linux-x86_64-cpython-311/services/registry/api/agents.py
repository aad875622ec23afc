"""Recovery agents: appointment, training and deactivation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.registry import handlers
from services.registry.api.common import (
    AgentCreate,
    AgentDeactivated,
    AgentDeactivation,
    AgentPublic,
    Limit,
    Offset,
    OperatorScope,
    Reader,
    TrainingCreate,
    TrainingPublic,
    TrainingRecorded,
    ViewerDep,
)
from services.registry.commands import AppointAgent, DeactivateAgent, RecordTraining
from services.registry.db import agent_trainings, agents, units
from services.registry.domain import Agent, Decree, Training
from services.registry.settings import Settings
from shared.dependencies import CommandDep, QueryDep, SettingsDep
from shared.http import problem_responses

router = APIRouter()


@router.post(
    "/units/{unit_id}/agents",
    status_code=201,
    response_model=AgentPublic,
    responses=problem_responses(404, 409),
    tags=["agents"],
)
async def appoint_agent(
    unit_id: str,
    body: AgentCreate,
    scope: OperatorScope,
    tx: CommandDep,
    settings: SettingsDep[Settings],
) -> AgentPublic:
    cmd = AppointAgent(
        agent_id=str(uuid.uuid4()),
        unit_id=unit_id,
        role=body.role,
        decree=Decree(body.decree.number, body.decree.signed_on, body.decree.signatory),
        appointed_on=body.appointed_on,
        display_name=body.display_name,
    )
    agent = await handlers.execute(
        tx.db, tx.outbox, cmd, scope=scope, today=tx.now.date(), ring=settings.key_ring
    )
    assert isinstance(agent, Agent)
    return AgentPublic(
        agent_id=agent.agent_id,
        unit_id=agent.unit_id,
        role=agent.role,
        appointed_on=agent.appointed_on,
        active=agent.active,
        deactivated_on=None,
        display_name=body.display_name,
    )


@router.get(
    "/units/{unit_id}/agents",
    response_model=list[AgentPublic],
    responses=problem_responses(404),
    tags=["agents"],
)
async def list_agents(
    unit_id: str, who: ViewerDep, db: QueryDep, settings: SettingsDep[Settings]
) -> list[AgentPublic]:
    """A unit's team; its own agents and the operators over its region see display names."""
    village = (
        await db.execute(select(units.c.village_code).where(units.c.unit_id == unit_id))
    ).scalar()
    named = village is not None and who.sees_names_in(unit_id, village)
    rows = (
        (
            await db.execute(
                select(agents).where(agents.c.unit_id == unit_id).order_by(agents.c.appointed_on)
            )
        )
        .mappings()
        .all()
    )
    trained = (
        (await db.execute(select(agent_trainings).join(agents).where(agents.c.unit_id == unit_id)))
        .mappings()
        .all()
    )
    return [
        _agent_public(
            r,
            display_name=handlers.display_name(settings.key_ring, r) if named else None,
            trainings=[
                TrainingPublic(
                    kind=t["kind"], completed_on=t["completed_on"], provider=t["provider"]
                )
                for t in trained
                if t["agent_id"] == r["agent_id"]
            ],
        )
        for r in rows
    ]


_AGENT_COLUMNS = ("agent_id", "unit_id", "role", "appointed_on", "active", "deactivated_on")


def _agent_public(row: Any, **team_only: Any) -> AgentPublic:
    """An agent's row as the API shows it (`team_only`: its trainings and display name)."""
    return AgentPublic(
        **{k: row[k] for k in _AGENT_COLUMNS},
        **team_only,
    )


@router.get("/agents", response_model=list[AgentPublic], dependencies=[Reader], tags=["agents"])
async def search_agents(
    db: QueryDep,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    regency: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}$")] = None,
    active: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AgentPublic]:
    """Agents (pseudonymous ids only) of the units in a province or regency."""
    conditions = []
    if province:
        conditions.append(units.c.province_code == province)
    if regency:
        conditions.append(units.c.regency_code == regency)
    if active is not None:
        conditions.append(agents.c.active == active)
    rows = await db.execute(
        select(agents)
        .join(units)
        .where(*conditions)
        .order_by(agents.c.agent_id)
        .limit(limit)
        .offset(offset)
    )
    return [_agent_public(r) for r in rows.mappings()]


@router.post(
    "/agents/{agent_id}/trainings",
    status_code=201,
    response_model=TrainingRecorded,
    responses=problem_responses(404, 409),
    tags=["agents"],
)
async def record_training(
    agent_id: str, body: TrainingCreate, scope: OperatorScope, tx: CommandDep
) -> TrainingRecorded:
    training = Training(
        training_id=body.training_id or str(uuid.uuid4()),
        kind=body.kind,
        completed_on=body.completed_on,
        provider=body.provider,
        certificate=body.certificate,
    )
    await handlers.execute(
        tx.db, tx.outbox, RecordTraining(agent_id, training), scope=scope, today=tx.now.date()
    )
    return TrainingRecorded(training_id=training.training_id)


@router.post(
    "/agents/{agent_id}/deactivation",
    response_model=AgentDeactivated,
    responses=problem_responses(404, 409),
    tags=["agents"],
)
async def deactivate_agent(
    agent_id: str, body: AgentDeactivation, scope: OperatorScope, tx: CommandDep
) -> AgentDeactivated:
    await handlers.execute(
        tx.db,
        tx.outbox,
        DeactivateAgent(agent_id, on=body.deactivated_on, reason=body.reason),
        scope=scope,
        today=tx.now.date(),
    )
    return AgentDeactivated(agent_id=agent_id, status="deactivated")
