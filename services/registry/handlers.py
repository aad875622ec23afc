"""The registry's use cases. Each loads what the rule needs, lets the domain decide, stores
the result and stages the fact in the outbox, all in the caller's transaction, so the API
and the provincial inbound consumer share one path."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
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
    AppointAgent,
    ChangeUnitStatus,
    Decree,
    FormUnit,
    NotFound,
    RecordFunding,
    Scope,
    Training,
    Unit,
    VillageFacts,
)
from shared.contracts import registry as events
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    UnitFormation,
    UnitStatus,
)
from shared.messaging.outbox import Outbox


async def handle_form_unit(
    session: AsyncSession, outbox: Outbox, cmd: FormUnit, *, scope: Scope, today: date
) -> Unit:
    facts = VillageFacts(
        exists=await _exists(session, regions, "code", cmd.village_code),
        active_units=await _active_units(session, cmd.village_code),
        office_exists=await _exists(session, offices, "code", cmd.facilitating_office),
    )
    unit = domain.form_unit(cmd, facts, scope=scope, today=today)
    await session.execute(
        insert(units).values(
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
    )
    await outbox.add(
        session,
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
    if cmd.funding_source is not None:
        await handle_record_funding(
            session,
            outbox,
            RecordFunding(
                funding_id=f"{unit.unit_id}-{unit.formed_on.year}",
                unit_id=unit.unit_id,
                fiscal_year=unit.formed_on.year,
                source=cmd.funding_source,
                amount_idr=0,
            ),
            scope=scope,
            today=today,
        )
    return unit


async def handle_change_unit_status(
    session: AsyncSession, outbox: Outbox, cmd: ChangeUnitStatus, *, scope: Scope, today: date
) -> Unit:
    unit = await load_unit(session, cmd.unit_id, for_update=True)
    others = 0
    if cmd.to_status is UnitStatus.ACTIVE:
        others = await _active_units(session, unit.village_code)
    changed = domain.change_status(
        unit, cmd, scope=scope, today=today, active_units_in_village=others
    )
    await session.execute(
        update(units)
        .where(units.c.unit_id == unit.unit_id)
        .values(status=changed.status, status_since=changed.status_since, version=changed.version)
    )
    await session.execute(
        insert(unit_status_changes).values(
            unit_id=unit.unit_id,
            from_status=unit.status,
            to_status=changed.status,
            reason=cmd.reason,
            effective_on=cmd.effective_on,
        )
    )
    await outbox.add(
        session,
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
    return changed


async def handle_record_funding(
    session: AsyncSession, outbox: Outbox, cmd: RecordFunding, *, scope: Scope, today: date
) -> None:
    unit = await load_unit(session, cmd.unit_id)
    domain.record_funding(unit, cmd, scope=scope, today=today)
    await session.execute(
        insert(unit_funding).values(
            funding_id=cmd.funding_id,
            unit_id=unit.unit_id,
            fiscal_year=cmd.fiscal_year,
            source=cmd.source,
            amount_idr=cmd.amount_idr,
        )
    )
    await outbox.add(
        session,
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


async def handle_appoint_agent(
    session: AsyncSession, outbox: Outbox, cmd: AppointAgent, *, scope: Scope, today: date
) -> Agent:
    unit = await load_unit(session, cmd.unit_id)
    agent = domain.appoint_agent(unit, cmd, scope=scope, today=today)
    await session.execute(
        insert(agents).values(
            agent_id=agent.agent_id,
            unit_id=unit.unit_id,
            role=agent.role,
            decree_number=agent.decree.number,
            decree_signed_on=agent.decree.signed_on,
            decree_signatory=agent.decree.signatory,
            appointed_on=agent.appointed_on,
            active=True,
        )
    )
    await outbox.add(
        session,
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
    return agent


async def handle_record_training(
    session: AsyncSession,
    outbox: Outbox,
    agent_id: str,
    training: Training,
    *,
    scope: Scope,
    today: date,
) -> Agent:
    agent = await load_agent(session, agent_id)
    unit = await load_unit(session, agent.unit_id)
    trained = domain.record_training(agent, unit, training, scope=scope, today=today)
    await session.execute(
        insert(agent_trainings).values(
            training_id=training.training_id,
            agent_id=agent.agent_id,
            kind=training.kind,
            completed_on=training.completed_on,
            provider=training.provider,
            certificate=training.certificate,
        )
    )
    await outbox.add(
        session,
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
    return trained


async def handle_deactivate_agent(
    session: AsyncSession,
    outbox: Outbox,
    agent_id: str,
    *,
    on: date,
    reason: AgentDeactivationReason,
    scope: Scope,
    today: date,
) -> Agent:
    agent = await load_agent(session, agent_id)
    unit = await load_unit(session, agent.unit_id)
    done = domain.deactivate_agent(agent, unit, on=on, reason=reason, scope=scope, today=today)
    await session.execute(
        update(agents)
        .where(agents.c.agent_id == agent_id)
        .values(active=False, deactivated_on=on, deactivation_reason=reason)
    )
    await outbox.add(
        session,
        events.RecoveryAgentDeactivated(
            unit_id=unit.unit_id,
            province_code=unit.province_code,
            village_code=unit.village_code,
            agent_id=agent_id,
            deactivated_on=on,
            reason=reason,
        ),
    )
    return done


# --- loading -----------------------------------------------------------------------------------


async def load_unit(session: AsyncSession, unit_id: str, *, for_update: bool = False) -> Unit:
    query = select(units).where(units.c.unit_id == unit_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no unit {unit_id}")
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


async def load_agent(session: AsyncSession, agent_id: str) -> Agent:
    row = (
        (await session.execute(select(agents).where(agents.c.agent_id == agent_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no agent {agent_id}")
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


async def _exists(session: AsyncSession, table: Table, key: str, value: str) -> bool:
    found = await session.execute(select(table.c[key]).where(table.c[key] == value).limit(1))
    return found.first() is not None


async def _active_units(session: AsyncSession, village_code: str) -> int:
    found = await session.execute(
        select(func.count())
        .select_from(units)
        .where(units.c.village_code == village_code, units.c.status == UnitStatus.ACTIVE)
    )
    return int(found.scalar_one())
