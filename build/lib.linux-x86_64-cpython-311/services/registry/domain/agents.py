"""Recovery agents: appointment, training and deactivation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from services.registry.domain.regions import Scope, office_region
from services.registry.domain.units import Decree, Unit
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    TrainingKind,
    UnitStatus,
)
from shared.rules import Violation, check

if TYPE_CHECKING:
    from services.registry.commands import AppointAgent


@dataclass(frozen=True)
class Training:
    training_id: str
    kind: TrainingKind
    completed_on: date
    provider: str  # an office code, e.g. BNNP-74
    certificate: str | None


@dataclass(frozen=True)
class Agent:
    agent_id: str
    unit_id: str
    role: AgentRole
    decree: Decree
    appointed_on: date
    active: bool = True
    deactivated_on: date | None = None
    deactivation_reason: AgentDeactivationReason | None = None
    trainings: tuple[Training, ...] = field(default_factory=tuple)


def appoint_agent(unit: Unit, cmd: AppointAgent, *, scope: Scope, today: date) -> Agent:
    """Team size is not limited (5 is common, 15 seen); the unit must be active."""
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("unit_id", "in-scope", "the unit is outside your region"))
    if unit.status is not UnitStatus.ACTIVE:
        v.append(Violation("unit_id", "unit-active", f"the unit is {unit.status}"))
    if not cmd.decree.number.strip():
        v.append(Violation("decree.number", "required", "the appointing decree's number"))
    if cmd.decree.signed_on > today:
        v.append(Violation("decree.signed_on", "not-in-future", "the decree date is in the future"))
    if cmd.appointed_on > today:
        v.append(Violation("appointed_on", "not-in-future", "the appointment is in the future"))
    if cmd.appointed_on < unit.formed_on:
        v.append(
            Violation(
                "appointed_on", "not-before-formation", f"the unit was formed on {unit.formed_on}"
            )
        )
    check(v)
    return Agent(
        agent_id=cmd.agent_id,
        unit_id=unit.unit_id,
        role=cmd.role,
        decree=cmd.decree,
        appointed_on=cmd.appointed_on,
    )


def record_training(
    agent: Agent,
    unit: Unit,
    training: Training,
    *,
    scope: Scope,
    today: date,
    provider_exists: bool,
) -> Agent:
    """The training was given by an office that exists, to an active agent, by today."""
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("agent_id", "in-scope", "the agent's unit is outside your region"))
    if not agent.active:
        v.append(Violation("agent_id", "agent-active", "the agent was deactivated"))
    if training.completed_on > today:
        v.append(Violation("completed_on", "not-in-future", "the training is not finished yet"))
    if office_region(training.provider) is None:
        v.append(Violation("provider", "office-code", "BNNP-<prov> or BNNK-<regency>"))
    elif not provider_exists:
        v.append(Violation("provider", "exists", "no such office"))
    check(v)
    return replace(agent, trainings=(*agent.trainings, training))


def deactivate_agent(
    agent: Agent,
    unit: Unit,
    *,
    on: date,
    reason: AgentDeactivationReason,
    scope: Scope,
    today: date,
) -> Agent:
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("agent_id", "in-scope", "the agent's unit is outside your region"))
    if not agent.active:
        v.append(Violation("agent_id", "agent-active", "the agent is already deactivated"))
    if on > today:
        v.append(Violation("deactivated_on", "not-in-future", "the date is in the future"))
    if on < agent.appointed_on:
        v.append(
            Violation(
                "deactivated_on",
                "not-before-appointment",
                f"the agent was appointed on {agent.appointed_on}",
            )
        )
    check(v)
    return replace(agent, active=False, deactivated_on=on, deactivation_reason=reason)
