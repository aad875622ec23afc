"""The registry's commands: instructions from an operator over HTTP or a province on its
inbound topic, as plain frozen data. `handlers.HANDLERS` maps each to its use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.registry.domain import Decree, Training
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    FundingSource,
    UnitFormation,
    UnitStatus,
    UnitStatusReason,
)


@dataclass(frozen=True)
class FormUnit:
    unit_id: str
    village_code: str
    name: str
    decree: Decree
    formed_on: date
    formation: UnitFormation
    facilitating_office: str
    funding_source: FundingSource | None = None
    allow_second_unit: bool = False


@dataclass(frozen=True)
class ChangeUnitStatus:
    unit_id: str
    to_status: UnitStatus
    reason: UnitStatusReason
    effective_on: date
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordFunding:
    funding_id: str
    unit_id: str
    fiscal_year: int
    source: FundingSource
    amount_idr: int


@dataclass(frozen=True)
class AppointAgent:
    agent_id: str
    unit_id: str
    role: AgentRole
    decree: Decree
    appointed_on: date
    display_name: str | None = None
    """The short name the unit knows the agent by; sealed, never in events."""


@dataclass(frozen=True)
class RecordTraining:
    agent_id: str
    training: Training


@dataclass(frozen=True)
class DeactivateAgent:
    agent_id: str
    on: date
    reason: AgentDeactivationReason


Command = (
    FormUnit | ChangeUnitStatus | RecordFunding | AppointAgent | RecordTraining | DeactivateAgent
)
