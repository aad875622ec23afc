"""What every registry route shares: who is asking, the command and query transactions,
the schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

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
from shared.messaging.outbox import Outbox
from shared.runtime import Runtime, runtime_of
from shared.security.bearer import Grants, PrincipalDep
from shared.security.encryption import KeyRing
from shared.security.keys import MasterKeys
from shared.security.roles import Forbidden, Grant, Role

T = TypeVar("T")


# --- who is asking ---------------------------------------------------------------------------


def scope_of(grants: Sequence[Grant]) -> Scope:
    """The regions the caller may change: national, province and district operators only."""
    if any(g.role is Role.NATIONAL_OPERATOR for g in grants):
        return Scope.national()
    regions_ = [
        g.target
        for g in grants
        if g.target and g.role in (Role.PROVINCE_OPERATOR, Role.DISTRICT_OPERATOR)
    ]
    if not regions_:
        raise Forbidden("registry changes need an operator role")
    return Scope.of_regions(*regions_)


# Dependencies are `async def`: FastAPI runs a plain `def` in its thread pool, a thread hop on
# every request (a profile at 200 requests/s found a sixth of the registry's time there).


async def operator_scope(grants: Grants) -> Scope:
    return scope_of(grants)


async def reader(grants: Grants) -> None:
    """Master data (regions, units, agents' pseudonymous ids) is readable by people in any
    role; `grants` itself refuses a provincial system's token."""


async def region_reader(_caller: PrincipalDep) -> None:
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


async def viewer(grants: Grants) -> Viewer:
    try:
        scope: Scope | None = scope_of(grants)
    except Forbidden:
        scope = None
    return Viewer(scope, tuple(g.target for g in grants if g.target and g.role is Role.UNIT_AGENT))


OperatorScope = Annotated[Scope, Depends(operator_scope)]
Reader = Depends(reader)
RegionReader = Depends(region_reader)
ViewerDep = Annotated[Viewer, Depends(viewer)]


def key_ring(request: Request) -> KeyRing:
    settings = runtime_of(request).settings
    assert isinstance(settings, MasterKeys)
    return settings.key_ring


@asynccontextmanager
async def command(request: Request) -> AsyncIterator[tuple[AsyncSession, Outbox, date]]:
    """One transaction for the change and its events; the relay is woken after commit."""
    runtime: Runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        yield session, runtime.outbox, datetime.now(UTC).date()
    runtime.notify_committed()


async def query(request: Request, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
    runtime = runtime_of(request)
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        return await read(session)


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
