"""Loading units and agents, and which of a batch's ids are known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.commands import (
    RecordTraining,
)
from services.registry.db import (
    agent_trainings,
    agents,
    units,
)
from services.registry.domain import (
    Agent,
    Decree,
    NotFound,
    Unit,
)
from shared.contracts.types import AgentDeactivationReason, AgentRole, UnitFormation, UnitStatus


async def load_unit(db: AsyncSession, unit_id: str) -> Unit:
    row = (await db.execute(select(units).where(units.c.unit_id == unit_id))).mappings().first()
    if row is None:
        raise NotFound(f"no unit {unit_id}")
    return unit_of_row(row)


async def load_agent(db: AsyncSession, agent_id: str) -> Agent:
    row = (await db.execute(select(agents).where(agents.c.agent_id == agent_id))).mappings().first()
    if row is None:
        raise NotFound(f"no agent {agent_id}")
    return agent_of_row(row)


def unit_of_row(row: Any) -> Unit:
    return Unit(
        unit_id=row["unit_id"],
        village_code=row["village_code"],
        name=row["name"],
        decree=Decree(row["decree_number"], row["decree_signed_on"], row["decree_signatory"]),
        formed_on=row["formed_on"],
        formation=UnitFormation(row["formation"]),
        facilitating_office=row["facilitating_office"],
        status=UnitStatus(row["status"]),
        status_since=row["status_since"],
        version=row["version"],
    )


def agent_of_row(row: Any) -> Agent:
    return Agent(
        agent_id=row["agent_id"],
        unit_id=row["unit_id"],
        role=AgentRole(row["role"]),
        decree=Decree(row["decree_number"], row["decree_signed_on"], row["decree_signatory"]),
        appointed_on=row["appointed_on"],
        active=row["active"],
        deactivated_on=row["deactivated_on"],
        deactivation_reason=(
            AgentDeactivationReason(row["deactivation_reason"])
            if row["deactivation_reason"]
            else None
        ),
    )


async def present(db: AsyncSession, column: Any, values: set[str]) -> set[str]:
    """Which of the values the column holds (one query)."""
    if not values:
        return set()
    found = await db.execute(select(column).where(column.in_(values)))
    return set(found.scalars())


async def attended(db: AsyncSession, trainings: Sequence[RecordTraining]) -> set[str]:
    """The (batch, agent) pairs already recorded, as "<training id> <agent id>": a batch
    (angkatan) trains many agents, each once."""
    if not trainings:
        return set()
    found = await db.execute(
        select(agent_trainings.c.training_id, agent_trainings.c.agent_id).where(
            agent_trainings.c.training_id.in_({c.training.training_id for c in trainings})
        )
    )
    return {f"{training} {agent}" for training, agent in found.tuples()}
