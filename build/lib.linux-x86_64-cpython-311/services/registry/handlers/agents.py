"""The recovery agents' use cases: appointment, training, deactivation."""

from __future__ import annotations

from typing import Any

from services.registry import domain
from services.registry.commands import (
    AppointAgent,
    DeactivateAgent,
    RecordTraining,
)
from services.registry.db import (
    agent_trainings,
    agents,
)
from services.registry.domain import (
    Agent,
    AlreadyRecorded,
    Scope,
)
from services.registry.handlers.batch import Batch
from shared.contracts import registry as events
from shared.security.encryption import KeyRing, WrappedKey, decrypt_fields, encrypt_fields


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
