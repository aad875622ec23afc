"""The registry's rules: regions, units IBM and recovery agents. Plain Python, no frameworks.

Commands come in as plain data; the functions here decide, and either return the new state
(plus the fact to publish) or raise `RuleViolations` naming every broken rule at once, so a
user or a province gets the whole list in one answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    TrainingKind,
    UnitFormation,
    UnitStatus,
)
from shared.rules import Violation, check

if TYPE_CHECKING:
    from services.registry.commands import AppointAgent, ChangeUnitStatus, FormUnit, RecordFunding

# --- Regions ---------------------------------------------------------------------------------


class RegionLevel(StrEnum):
    PROVINCE = "province"
    REGENCY = "regency"  # kabupaten (01-69) or kota (71-99)
    DISTRICT = "district"  # kecamatan
    VILLAGE = "village"  # desa (suffix 2xxx) or kelurahan (suffix 1xxx)


_LEVELS = tuple(RegionLevel)


def level_of(code: str) -> RegionLevel:
    """The level a Kemendagri code names, from its shape (74 / 74.71 / 74.71.01 / …1001)."""
    parts = code.split(".")
    if (
        not 1 <= len(parts) <= 4
        or not all(p.isdigit() for p in parts)
        or [len(p) for p in parts] != [2, 2, 2, 4][: len(parts)]
    ):
        raise ValueError(f"not a Kemendagri region code: {code!r}")
    return _LEVELS[len(parts) - 1]


def parent_of(code: str) -> str | None:
    head, _, _ = code.rpartition(".")
    return head or None


def province_of(code: str) -> str:
    return code[:2]


def is_kelurahan(village_code: str) -> bool:
    """Village codes whose last part starts with 1 are kelurahan (urban), 2 desa (rural)."""
    return village_code.rsplit(".", 1)[-1].startswith("1")


# --- Errors ----------------------------------------------------------------------------------


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The entity changed since the caller read it (optimistic concurrency)."""


class AlreadyRecorded(Exception):
    """An id the caller chose is taken: the fact was recorded before, or the id is reused."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --- Scope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where an actor may act: the whole country, or a set of regions (provinces, regencies)."""

    regions: tuple[str, ...] | None  # None: the whole country

    @classmethod
    def national(cls) -> Scope:
        return cls(None)

    @classmethod
    def of_regions(cls, *codes: str) -> Scope:
        for code in codes:
            level_of(code)
        return cls(tuple(codes))

    @cached_property
    def _prefixes(self) -> tuple[str, ...]:
        return tuple(f"{r}." for r in self.regions or ())

    def covers(self, code: str) -> bool:
        if self.regions is None:
            return True
        return code in self.regions or code.startswith(self._prefixes)


# --- Units -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decree:
    """A Surat Keputusan: its number, the date signed, and the signing office (not a name)."""

    number: str
    signed_on: date
    signatory: str  # the office that signed: "kepala_desa", "lurah", "camat", …


@dataclass(frozen=True)
class Unit:
    unit_id: str
    village_code: str
    name: str
    decree: Decree
    formed_on: date
    formation: UnitFormation
    facilitating_office: str
    status: UnitStatus = UnitStatus.ACTIVE
    status_since: date | None = None
    version: int = 1

    @property
    def province_code(self) -> str:
        return province_of(self.village_code)


@dataclass(frozen=True)
class VillageFacts:
    """What the registry knows around a village when a unit is formed there."""

    exists: bool
    active_units: int
    office_exists: bool


def office_region(office: str) -> str | None:
    """The region an office code names: BNNP-74 → 74, BNNK-74.71 → 74.71."""
    kind, _, code = office.partition("-")
    if kind == "BNNP" and len(code) == 2 and code.isdigit():
        return code
    if kind == "BNNK" and level_of_or_none(code) is RegionLevel.REGENCY:
        return code
    return None


def level_of_or_none(code: str) -> RegionLevel | None:
    try:
        return level_of(code)
    except ValueError:
        return None


def form_unit(cmd: FormUnit, facts: VillageFacts, *, scope: Scope, today: date) -> Unit:
    """Decide a unit's formation: the village exists and is in the actor's scope, one active
    unit per village unless explicitly allowed, decree complete, dates not in the future, the
    facilitating office exists and covers the village."""
    v: list[Violation] = []
    if level_of_or_none(cmd.village_code) is not RegionLevel.VILLAGE:
        v.append(Violation("village_code", "village-code", "must be a 10-digit village code"))
    elif not facts.exists:
        v.append(
            Violation(
                "village_code",
                "exists",
                "no such village in the official region list",
            )
        )
    if not scope.covers(cmd.village_code):
        v.append(Violation("village_code", "in-scope", "the village is outside your region"))
    if facts.active_units and not cmd.allow_second_unit:
        v.append(
            Violation(
                "village_code",
                "one-active-unit-per-village",
                "the village already has an active unit; set allow_second_unit to form another",
            )
        )
    if not cmd.name.strip():
        v.append(Violation("name", "required", "the unit needs a display name"))
    if not cmd.decree.number.strip():
        v.append(Violation("decree.number", "required", "the forming decree's number"))
    if not cmd.decree.signatory.strip():
        v.append(Violation("decree.signatory", "required", "who signed the decree"))
    if cmd.decree.signed_on > today:
        v.append(Violation("decree.signed_on", "not-in-future", "the decree date is in the future"))
    if cmd.formed_on > today:
        v.append(Violation("formed_on", "not-in-future", "the formation date is in the future"))
    if cmd.formed_on < cmd.decree.signed_on:
        v.append(
            Violation(
                "formed_on",
                "on-or-after-decree",
                "a unit is formed on or after its decree is signed",
            )
        )
    region = office_region(cmd.facilitating_office)
    if region is None:
        v.append(Violation("facilitating_office", "office-code", "BNNP-<prov> or BNNK-<regency>"))
    elif not cmd.village_code.startswith(f"{region}."):
        v.append(
            Violation(
                "facilitating_office",
                "covers-village",
                "the office does not cover the village",
            )
        )
    elif not facts.office_exists:
        v.append(Violation("facilitating_office", "exists", "no such office"))
    check(v)
    return Unit(
        unit_id=cmd.unit_id,
        village_code=cmd.village_code,
        name=cmd.name.strip(),
        decree=cmd.decree,
        formed_on=cmd.formed_on,
        formation=cmd.formation,
        facilitating_office=cmd.facilitating_office,
        status_since=cmd.formed_on,
    )


# Which status changes make sense; a revival is a change back to active.
ALLOWED_STATUS_CHANGES = {
    UnitStatus.ACTIVE: {UnitStatus.SUSPENDED, UnitStatus.DISSOLVED},
    UnitStatus.SUSPENDED: {UnitStatus.ACTIVE, UnitStatus.DISSOLVED},
    UnitStatus.DISSOLVED: {UnitStatus.ACTIVE},
}


def change_status(
    unit: Unit, cmd: ChangeUnitStatus, *, scope: Scope, today: date, active_units_in_village: int
) -> Unit:
    _check_version(unit.version, cmd.expected_version)
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("unit_id", "in-scope", "the unit is outside your region"))
    if cmd.to_status not in ALLOWED_STATUS_CHANGES[unit.status]:
        v.append(
            Violation(
                "to_status",
                "allowed-transition",
                f"a {unit.status} unit cannot become {cmd.to_status}",
            )
        )
    if cmd.effective_on > today:
        v.append(Violation("effective_on", "not-in-future", "the change cannot take effect later"))
    if unit.status_since and cmd.effective_on < unit.status_since:
        v.append(
            Violation(
                "effective_on",
                "after-last-change",
                f"the unit's status last changed on {unit.status_since}",
            )
        )
    if cmd.to_status is UnitStatus.ACTIVE and active_units_in_village:
        v.append(
            Violation(
                "to_status", "one-active-unit-per-village", "another unit is active in this village"
            )
        )
    check(v)
    return replace(
        unit, status=cmd.to_status, status_since=cmd.effective_on, version=unit.version + 1
    )


def _check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(f"the unit is at version {current}, not {expected}")


def record_funding(unit: Unit, cmd: RecordFunding, *, scope: Scope, today: date) -> None:
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("unit_id", "in-scope", "the unit is outside your region"))
    if cmd.fiscal_year > today.year + 1:
        v.append(
            Violation(
                "fiscal_year",
                "not-beyond-next-year",
                "funding is recorded for this year or the next at the latest",
            )
        )
    if cmd.fiscal_year < unit.formed_on.year:
        v.append(
            Violation(
                "fiscal_year",
                "not-before-formation",
                f"the unit was formed in {unit.formed_on.year}",
            )
        )
    if cmd.amount_idr < 0:
        v.append(Violation("amount_idr", "non-negative", "an amount cannot be negative"))
    check(v)


# --- Recovery agents -------------------------------------------------------------------------


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
