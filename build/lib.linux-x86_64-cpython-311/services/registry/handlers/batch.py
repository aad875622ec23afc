"""A batch of commands and the state its rules see: loaded with one query per kind of
reference, written with one statement per table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.commands import (
    AppointAgent,
    ChangeUnitStatus,
    Command,
    DeactivateAgent,
    FormUnit,
    RecordFunding,
    RecordTraining,
)
from services.registry.db import (
    agent_trainings,
    agents,
    offices,
    regions,
    unit_funding,
    unit_status_changes,
    units,
)
from services.registry.domain import (
    Agent,
    AlreadyRecorded,
    NotFound,
    Scope,
    Unit,
)
from services.registry.handlers.loading import agent_of_row, attended, present, unit_of_row
from shared.contracts.base import EventData
from shared.contracts.types import UnitStatus
from shared.messaging.outbox import Outbox
from shared.persistence import update_rows
from shared.security.encryption import KeyRing


@dataclass(frozen=True)
class Order:
    """A command and the region its giver may act for."""

    command: Command
    scope: Scope


@dataclass
class Done:
    """What one command produced: its result (a unit or an agent), or why it was refused, and
    the id of its first canonical event once staged."""

    result: Unit | Agent | None = None
    error: Exception | None = None
    event_id: str | None = None


@dataclass
class Batch:
    """The state a batch of commands reads and changes, and the rows it will write."""

    today: date
    ring: KeyRing | None = None
    """Seals agents' display names; None where no command carries one (provinces' facts)."""
    units: dict[str, Unit] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    villages: set[str] = field(default_factory=set)
    offices: set[str] = field(default_factory=set)
    active_units: Counter[str] = field(default_factory=Counter)
    used_ids: dict[str, set[str]] = field(default_factory=dict)
    """Funding and training ids already recorded."""
    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    changed_units: dict[str, Unit] = field(default_factory=dict)
    changed_agents: dict[str, Agent] = field(default_factory=dict)
    events: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    async def load(cls, db: AsyncSession, commands: Sequence[Command], today: date) -> Batch:
        batch = cls(today)
        agent_ids = {
            c.agent_id for c in commands if isinstance(c, RecordTraining | DeactivateAgent)
        }
        agent_ids |= {c.agent_id for c in commands if isinstance(c, AppointAgent)}
        # Rows a command changes are locked (PostgreSQL) against a concurrent batch.
        lock = any(isinstance(c, ChangeUnitStatus | DeactivateAgent) for c in commands)
        if agent_ids:
            query = select(agents).where(agents.c.agent_id.in_(agent_ids))
            found = await db.execute(query.with_for_update() if lock else query)
            batch.agents = {r["agent_id"]: agent_of_row(r) for r in found.mappings()}
        unit_ids = {
            c.unit_id for c in commands if not isinstance(c, RecordTraining | DeactivateAgent)
        }
        unit_ids |= {a.unit_id for a in batch.agents.values()}
        if unit_ids:
            query = select(units).where(units.c.unit_id.in_(unit_ids))
            found = await db.execute(query.with_for_update() if lock else query)
            batch.units = {r["unit_id"]: unit_of_row(r) for r in found.mappings()}
        forming = [c for c in commands if isinstance(c, FormUnit)]
        villages = {c.village_code for c in forming}
        villages |= {u.village_code for u in batch.units.values()}
        if forming:
            batch.villages = await present(db, regions.c.code, villages)
        office_codes = {c.facilitating_office for c in forming}
        office_codes |= {c.training.provider for c in commands if isinstance(c, RecordTraining)}
        if office_codes:
            batch.offices = await present(db, offices.c.code, office_codes)
        if villages:
            found = await db.execute(
                select(units.c.village_code, func.count())
                .where(units.c.village_code.in_(villages), units.c.status == UnitStatus.ACTIVE)
                .group_by(units.c.village_code)
            )
            batch.active_units = Counter({village: int(n) for village, n in found.tuples()})
        batch.used_ids = {
            "funding": await present(
                db,
                unit_funding.c.funding_id,
                {c.funding_id for c in commands if isinstance(c, RecordFunding)}
                | {f"{c.unit_id}-{c.formed_on.year}" for c in forming if c.funding_source},
            ),
            "training": await attended(db, [c for c in commands if isinstance(c, RecordTraining)]),
        }
        return batch

    def unit(self, unit_id: str) -> Unit:
        found = self.units.get(unit_id)
        if found is None:
            raise NotFound(f"no unit {unit_id}")
        return found

    def agent(self, agent_id: str) -> Agent:
        found = self.agents.get(agent_id)
        if found is None:
            raise NotFound(f"no agent {agent_id}")
        return found

    def add(self, table: Table, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def claim_id(self, kind: str, value: str, field_name: str) -> None:
        if value in self.used_ids[kind]:
            raise AlreadyRecorded(field_name, f"a {kind} with this id is recorded")
        self.used_ids[kind].add(value)

    async def write(self, db: AsyncSession, outbox: Outbox, done: list[Done]) -> None:
        """One statement per table, in the order the foreign keys need."""
        for table in (units, unit_status_changes, unit_funding, agents, agent_trainings):
            if self.rows.get(table):
                await db.execute(insert(table), self.rows[table])
        await update_rows(
            db,
            units.c.unit_id,
            [
                {
                    "unit_id": u.unit_id,
                    "status": u.status,
                    "status_since": u.status_since,
                    "version": u.version,
                }
                for u in self.changed_units.values()
            ],
        )
        await update_rows(
            db,
            agents.c.agent_id,
            [
                {
                    "agent_id": a.agent_id,
                    "active": a.active,
                    "deactivated_on": a.deactivated_on,
                    "deactivation_reason": a.deactivation_reason,
                }
                for a in self.changed_agents.values()
            ],
        )
        for index, event_id in (await outbox.stage_batch(db, self.events)).items():
            done[index].event_id = event_id
