"""What every registry route shares: where the caller may act, who sees agents' names, the
schemas. The transactions are `shared.dependencies`' `CommandDep` and `QueryDep`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from services.registry.domain import (
    Scope,
)
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    DecreeNumber,
    EntityId,
    FundingSource,
    OfficeCode,
    TrainingKind,
    UnitFormation,
    UnitStatus,
    UnitStatusReason,
    VillageCode,
)
from shared.dependencies import CallerDep, PersonDep
from shared.security.roles import Caller, Forbidden

# --- who is asking ---------------------------------------------------------------------------


def scope_of(who: Caller) -> Scope:
    """The regions the caller may change: national, province and district operators only."""
    if who.national:
        return Scope.national()
    if not who.regions:
        raise Forbidden("registry changes need an operator role")
    return Scope.of_regions(*who.regions)


async def operator_scope(who: PersonDep) -> Scope:
    return scope_of(who)


async def reader(_who: PersonDep) -> None:
    """Master data (regions, units, agents' pseudonymous ids) is readable by people in any
    role; `PersonDep` itself refuses a provincial system's token."""


async def region_reader(_who: CallerDep) -> None:
    """The official region list is readable with any valid token, a provincial system's too
    (it names villages in its facts)."""


@dataclass(frozen=True)
class Viewer:
    """Who reads a unit's team: its own agents and the operators over its region also see
    the agents' display names."""

    scope: Scope | None
    units: tuple[str, ...]

    def sees_names_in(self, unit_id: str, village_code: str) -> bool:
        return unit_id in self.units or (self.scope is not None and self.scope.covers(village_code))


async def viewer(who: PersonDep) -> Viewer:
    try:
        scope: Scope | None = scope_of(who)
    except Forbidden:
        scope = None
    return Viewer(scope, who.units)


OperatorScope = Annotated[Scope, Depends(operator_scope)]
Reader = Depends(reader)
RegionReader = Depends(region_reader)
ViewerDep = Annotated[Viewer, Depends(viewer)]


# --- schemas ---------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecreeIn(Schema):
    number: DecreeNumber = Field(
        description="Number of the Surat Keputusan.", examples=["141/07/KEL-MDG/2025"]
    )
    signed_on: date = Field(description="Date the decree was signed.", examples=["2025-03-10"])
    signatory: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z_]+$",
        description="The signing office, not a person's name.",
        examples=["lurah"],
    )


class UnitCreate(Schema):
    village_code: VillageCode = Field(examples=["74.71.01.1001"])
    name: str = Field(min_length=1, max_length=100, examples=["Sinar Madani"])
    decree: DecreeIn
    formed_on: date = Field(examples=["2025-03-14"])
    formation: UnitFormation = Field(examples=["bnn_target"])
    facilitating_office: OfficeCode = Field(examples=["BNNK-74.71"])
    funding_source: FundingSource | None = Field(default=None, examples=["bnn"])
    allow_second_unit: bool = Field(
        default=False, description="Form a unit in a village that already has an active one."
    )


class UnitPublic(BaseModel):
    unit_id: str
    village_code: str
    province_code: str
    regency_code: str
    name: str
    decree_number: str
    decree_signed_on: date
    formed_on: date
    formation: UnitFormation
    facilitating_office: str
    status: UnitStatus
    status_since: date | None
    version: int


class UnitsPublic(BaseModel):
    items: list[UnitPublic]
    total: int = Field(description="Units matching the filters, beyond this page too.")
    by_status: dict[UnitStatus, int] = Field(
        description="The matching units by status (the statuses with any), beyond this page "
        "too: a region's units at a glance with `limit=0`."
    )


class UnitStatusChange(Schema):
    to_status: UnitStatus
    reason: UnitStatusReason
    effective_on: date


class FundingCreate(Schema):
    fiscal_year: int = Field(ge=2000, le=2100, examples=[2025])
    source: FundingSource
    amount_idr: int = Field(ge=0, examples=[25_000_000])


class AgentCreate(Schema):
    role: AgentRole = Field(examples=["member"])
    decree: DecreeIn
    appointed_on: date
    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description="The short name the unit knows the agent by (e.g. 'Bu Sari'); stored "
        "sealed, never in events; shown to the unit's agents and the operators over it.",
    )


class TrainingCreate(Schema):
    training_id: EntityId | None = Field(
        default=None,
        description="The training batch (angkatan): the same id for every agent who attended "
        "it. A new one is given when left out.",
    )
    kind: TrainingKind
    completed_on: date
    provider: OfficeCode = Field(examples=["BNNP-74"])
    certificate: str | None = Field(default=None, max_length=80, pattern=r"^[0-9A-Za-z./-]+$")


class AgentDeactivation(Schema):
    deactivated_on: date
    reason: AgentDeactivationReason


class TrainingPublic(BaseModel):
    """A training an agent completed, as the team list shows it."""

    kind: TrainingKind
    completed_on: date
    provider: str = Field(description="The BNN office that gave it.", examples=["BNNP-74"])


class AgentPublic(BaseModel):
    agent_id: str
    unit_id: str
    role: AgentRole
    appointed_on: date
    active: bool
    deactivated_on: date | None
    trainings: list[TrainingPublic] = []
    """In the unit's team list (`GET /units/{unit_id}/agents`)."""
    display_name: str | None = None
    """Only for the unit's agents and the operators over its region, in its team list."""


class RegionPublic(BaseModel):
    code: str
    level: str
    name: str
    parent_code: str | None
    province_code: str
    time_zone: str | None
    edition: str


class RegionsPublic(BaseModel):
    items: list[RegionPublic]
    total: int


class FundingRecorded(BaseModel):
    funding_id: str = Field(description="The new funding record's id.")


class TrainingRecorded(BaseModel):
    training_id: str = Field(description="The new training record's id.")


class AgentDeactivated(BaseModel):
    agent_id: str
    status: Literal["deactivated"]


Limit = Annotated[int, Query(ge=0, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]  # beyond, SQLite cannot bind it
