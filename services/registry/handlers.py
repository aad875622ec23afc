"""The registry's use cases, set-based. A batch of commands — one from an HTTP request, or a
partition's worth from a province — is handled in three steps:

1. `Batch.load`: everything the rules need, one query per kind of reference (agents, units,
   villages, offices, active units per village, used ids);
2. each command in order against that in-memory state: the domain decides, and an accepted
   command changes the state the next one sees (a unit formed, then its agent appointed);
3. `Batch.write`: one statement per table, and every canonical event in one outbox insert.

`HANDLERS` maps each command type to its use case; the API and the inbound consumer both go
through `handle`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
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
    Decree,
    NotFound,
    Scope,
    Unit,
    VillageFacts,
)
from shared.contracts import registry as events
from shared.contracts.base import EventData
from shared.contracts.types import AgentDeactivationReason, AgentRole, UnitFormation, UnitStatus
from shared.messaging.outbox import Outbox
from shared.persistence import update_rows
from shared.rules import RuleViolations
from shared.security.encryption import KeyRing, WrappedKey, decrypt_fields, encrypt_fields
from shared.security.roles import Forbidden


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
            batch.agents = {r["agent_id"]: _agent(r) for r in found.mappings()}
        unit_ids = {
            c.unit_id for c in commands if not isinstance(c, RecordTraining | DeactivateAgent)
        }
        unit_ids |= {a.unit_id for a in batch.agents.values()}
        if unit_ids:
            query = select(units).where(units.c.unit_id.in_(unit_ids))
            found = await db.execute(query.with_for_update() if lock else query)
            batch.units = {r["unit_id"]: _unit(r) for r in found.mappings()}
        forming = [c for c in commands if isinstance(c, FormUnit)]
        villages = {c.village_code for c in forming}
        villages |= {u.village_code for u in batch.units.values()}
        if forming:
            batch.villages = await _present(db, regions.c.code, villages)
        office_codes = {c.facilitating_office for c in forming}
        office_codes |= {c.training.provider for c in commands if isinstance(c, RecordTraining)}
        if office_codes:
            batch.offices = await _present(db, offices.c.code, office_codes)
        if villages:
            found = await db.execute(
                select(units.c.village_code, func.count())
                .where(units.c.village_code.in_(villages), units.c.status == UnitStatus.ACTIVE)
                .group_by(units.c.village_code)
            )
            batch.active_units = Counter({village: int(n) for village, n in found.tuples()})
        batch.used_ids = {
            "funding": await _present(
                db,
                unit_funding.c.funding_id,
                {c.funding_id for c in commands if isinstance(c, RecordFunding)}
                | {f"{c.unit_id}-{c.formed_on.year}" for c in forming if c.funding_source},
            ),
            "training": await _attended(db, [c for c in commands if isinstance(c, RecordTraining)]),
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


# --- the use cases: each decides one command against the batch's state -------------------------


def form_unit(batch: Batch, index: int, cmd: FormUnit, scope: Scope) -> Unit:
    if cmd.unit_id in batch.units:
        raise AlreadyRecorded("unit_id", "a unit with this id is recorded")
    facts = VillageFacts(
        exists=cmd.village_code in batch.villages,
        active_units=batch.active_units[cmd.village_code],
        office_exists=cmd.facilitating_office in batch.offices,
    )
    unit = domain.form_unit(cmd, facts, scope=scope, today=batch.today)
    funding = f"{unit.unit_id}-{unit.formed_on.year}"
    if cmd.funding_source is not None:
        batch.claim_id("funding", funding, "funding_source")
    batch.units[unit.unit_id] = unit
    batch.active_units[unit.village_code] += 1
    batch.add(
        units,
        unit_id=unit.unit_id,
        village_code=unit.village_code,
        province_code=unit.province_code,
        regency_code=unit.village_code[:5],
        name=unit.name,
        decree_number=unit.decree.number,
        decree_signed_on=unit.decree.signed_on,
        decree_signatory=unit.decree.signatory,
        formed_on=unit.formed_on,
        formation=unit.formation,
        facilitating_office=unit.facilitating_office,
        status=unit.status,
        status_since=unit.status_since,
        version=unit.version,
    )
    batch.events.append(
        (
            index,
            events.UnitFormed(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                unit_name=unit.name,
                formed_on=unit.formed_on,
                decree_number=unit.decree.number,
                decree_date=unit.decree.signed_on,
                formation=unit.formation,
                facilitating_office=unit.facilitating_office,
            ),
        )
    )
    if cmd.funding_source is not None:
        _fund(
            batch,
            index,
            unit,
            RecordFunding(funding, unit.unit_id, unit.formed_on.year, cmd.funding_source, 0),
        )
    return unit


def change_unit_status(batch: Batch, index: int, cmd: ChangeUnitStatus, scope: Scope) -> Unit:
    unit = batch.unit(cmd.unit_id)
    others = batch.active_units[unit.village_code] if cmd.to_status is UnitStatus.ACTIVE else 0
    changed = domain.change_status(
        unit, cmd, scope=scope, today=batch.today, active_units_in_village=others
    )
    batch.active_units[unit.village_code] += (changed.status is UnitStatus.ACTIVE) - (
        unit.status is UnitStatus.ACTIVE
    )
    batch.units[unit.unit_id] = batch.changed_units[unit.unit_id] = changed
    batch.add(
        unit_status_changes,
        unit_id=unit.unit_id,
        from_status=unit.status,
        to_status=changed.status,
        reason=cmd.reason,
        effective_on=cmd.effective_on,
    )
    batch.events.append(
        (
            index,
            events.UnitStatusChanged(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                from_status=unit.status,
                to_status=changed.status,
                reason=cmd.reason,
                effective_on=cmd.effective_on,
            ),
        )
    )
    return changed


def record_funding(batch: Batch, index: int, cmd: RecordFunding, scope: Scope) -> Unit:
    unit = batch.unit(cmd.unit_id)
    domain.record_funding(unit, cmd, scope=scope, today=batch.today)
    batch.claim_id("funding", cmd.funding_id, "funding_id")
    _fund(batch, index, unit, cmd)
    return unit


def _fund(batch: Batch, index: int, unit: Unit, cmd: RecordFunding) -> None:
    batch.add(
        unit_funding,
        funding_id=cmd.funding_id,
        unit_id=unit.unit_id,
        fiscal_year=cmd.fiscal_year,
        source=cmd.source,
        amount_idr=cmd.amount_idr,
    )
    batch.events.append(
        (
            index,
            events.UnitFundingRecorded(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                funding_id=cmd.funding_id,
                fiscal_year=cmd.fiscal_year,
                source=cmd.source,
                amount_idr=cmd.amount_idr,
            ),
        )
    )


def appoint_agent(batch: Batch, index: int, cmd: AppointAgent, scope: Scope) -> Agent:
    if cmd.agent_id in batch.agents:
        raise AlreadyRecorded("agent_id", "an agent with this id is recorded")
    unit = batch.unit(cmd.unit_id)
    agent = domain.appoint_agent(unit, cmd, scope=scope, today=batch.today)
    batch.agents[agent.agent_id] = agent
    batch.add(
        agents,
        agent_id=agent.agent_id,
        unit_id=unit.unit_id,
        role=agent.role,
        decree_number=agent.decree.number,
        decree_signed_on=agent.decree.signed_on,
        decree_signatory=agent.decree.signatory,
        appointed_on=agent.appointed_on,
        active=True,
        **_sealed_name(batch.ring, agent.agent_id, cmd.display_name),
    )
    batch.events.append(
        (
            index,
            events.RecoveryAgentAppointed(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                agent_id=agent.agent_id,
                role=agent.role,
                appointed_on=agent.appointed_on,
                decree_number=agent.decree.number,
                decree_date=agent.decree.signed_on,
            ),
        )
    )
    return agent


def _sealed_name(ring: KeyRing | None, agent_id: str, name: str | None) -> dict[str, Any]:
    """The agent's display name sealed under a data key of its own (never in an event)."""
    if not name:
        return {"master_key_id": None, "wrapped_data_key": None, "display_name_sealed": None}
    assert ring is not None, "a display name needs the key ring"
    data_key, wrapped = ring.new_data_key()
    return {
        "master_key_id": wrapped.master_key_id,
        "wrapped_data_key": wrapped.wrapped,
        "display_name_sealed": encrypt_fields(data_key, {"name": name}, subject=agent_id),
    }


def display_name(ring: KeyRing, row: Any) -> str | None:
    if row["display_name_sealed"] is None:
        return None
    data_key = ring.unwrap(WrappedKey(row["master_key_id"], row["wrapped_data_key"]))
    return str(
        decrypt_fields(data_key, row["display_name_sealed"], subject=row["agent_id"])["name"]
    )


def record_training(batch: Batch, index: int, cmd: RecordTraining, scope: Scope) -> Agent:
    agent = batch.agent(cmd.agent_id)
    unit = batch.unit(agent.unit_id)
    training = cmd.training
    trained = domain.record_training(
        agent,
        unit,
        training,
        scope=scope,
        today=batch.today,
        provider_exists=training.provider in batch.offices,
    )
    batch.claim_id("training", f"{training.training_id} {agent.agent_id}", "training_id")
    batch.agents[agent.agent_id] = trained
    batch.add(
        agent_trainings,
        training_id=training.training_id,
        agent_id=agent.agent_id,
        kind=training.kind,
        completed_on=training.completed_on,
        provider=training.provider,
        certificate=training.certificate,
    )
    batch.events.append(
        (
            index,
            events.RecoveryAgentTrained(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                agent_id=agent.agent_id,
                training_id=training.training_id,
                training_kind=training.kind,
                trainer_office=training.provider,
                completed_on=training.completed_on,
            ),
        )
    )
    return trained


def deactivate_agent(batch: Batch, index: int, cmd: DeactivateAgent, scope: Scope) -> Agent:
    agent = batch.agent(cmd.agent_id)
    unit = batch.unit(agent.unit_id)
    done = domain.deactivate_agent(
        agent, unit, on=cmd.on, reason=cmd.reason, scope=scope, today=batch.today
    )
    batch.agents[agent.agent_id] = batch.changed_agents[agent.agent_id] = done
    batch.events.append(
        (
            index,
            events.RecoveryAgentDeactivated(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                agent_id=agent.agent_id,
                deactivated_on=cmd.on,
                reason=cmd.reason,
            ),
        )
    )
    return done


UseCase = Callable[[Batch, int, Any, Scope], Unit | Agent]

HANDLERS: dict[type[Command], UseCase] = {
    FormUnit: form_unit,
    ChangeUnitStatus: change_unit_status,
    RecordFunding: record_funding,
    AppointAgent: appoint_agent,
    RecordTraining: record_training,
    DeactivateAgent: deactivate_agent,
}

REFUSALS = (RuleViolations, NotFound, AlreadyRecorded, domain.Conflict)


async def handle(
    db: AsyncSession,
    outbox: Outbox,
    orders: Sequence[Order],
    *,
    today: date,
    ring: KeyRing | None = None,
) -> list[Done]:
    """Apply a batch of orders in order; a refused one changes nothing and the rest go on."""
    batch = await Batch.load(db, [o.command for o in orders], today)
    batch.ring = ring
    done: list[Done] = []
    for index, order in enumerate(orders):
        # A refusal raises before the use case touches the batch's state.
        try:
            done.append(
                Done(HANDLERS[type(order.command)](batch, index, order.command, order.scope))
            )
        except REFUSALS as exc:
            done.append(Done(error=exc))
    await batch.write(db, outbox, done)
    return done


async def execute(
    db: AsyncSession,
    outbox: Outbox,
    command: Command,
    *,
    scope: Scope,
    today: date,
    ring: KeyRing | None = None,
) -> Unit | Agent:
    """One command (an HTTP request): its result, or its refusal raised. Acting outside the
    caller's region is refused as such (403), whatever else is wrong, as in every service."""
    [done] = await handle(db, outbox, [Order(command, scope)], today=today, ring=ring)
    if isinstance(done.error, RuleViolations):
        outside = [v for v in done.error.violations if v.rule == "in-scope"]
        if outside:
            raise Forbidden(outside[0].message)
    if done.error is not None:
        raise done.error
    assert done.result is not None
    return done.result


# --- loading -----------------------------------------------------------------------------------


async def load_unit(db: AsyncSession, unit_id: str) -> Unit:
    row = (await db.execute(select(units).where(units.c.unit_id == unit_id))).mappings().first()
    if row is None:
        raise NotFound(f"no unit {unit_id}")
    return _unit(row)


async def load_agent(db: AsyncSession, agent_id: str) -> Agent:
    row = (await db.execute(select(agents).where(agents.c.agent_id == agent_id))).mappings().first()
    if row is None:
        raise NotFound(f"no agent {agent_id}")
    return _agent(row)


def _unit(row: Any) -> Unit:
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


def _agent(row: Any) -> Agent:
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


async def _present(db: AsyncSession, column: Any, values: set[str]) -> set[str]:
    """Which of the values the column holds (one query)."""
    if not values:
        return set()
    found = await db.execute(select(column).where(column.in_(values)))
    return set(found.scalars())


async def _attended(db: AsyncSession, trainings: Sequence[RecordTraining]) -> set[str]:
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
