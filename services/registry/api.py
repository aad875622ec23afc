"""The registry's HTTP API: browse regions, units and agents; form units, change their status,
record funding; appoint, train and deactivate agents. Thin: parse, call a handler, map the
result. Errors are RFC 9457 problem documents naming the field and the rule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import handlers
from services.registry.db import agent_trainings, agents, regions, units
from services.registry.domain import (
    AppointAgent,
    ChangeUnitStatus,
    Conflict,
    Decree,
    FormUnit,
    NotFound,
    RecordFunding,
    Scope,
    Training,
    Unit,
)
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    DecreeNumber,
    FundingSource,
    OfficeCode,
    TrainingKind,
    UnitFormation,
    UnitStatus,
    UnitStatusReason,
    VillageCode,
)
from shared.http import Problem, install_domain_errors
from shared.messaging.outbox import Outbox
from shared.runtime import Runtime, runtime_of
from shared.security.roles import Forbidden, Role, parse_roles

router = APIRouter()
T = TypeVar("T")


# --- who is asking ---------------------------------------------------------------------------


def operator_scope(x_pulih_roles: Annotated[str | None, Header()] = None) -> Scope:
    """The regions the caller may change: national, province and district operators only."""
    grants = parse_roles(x_pulih_roles)
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


def reader(x_pulih_roles: Annotated[str | None, Header()] = None) -> None:
    """Master data (regions, units, agents' pseudonymous ids) is readable by any known role."""
    parse_roles(x_pulih_roles)


OperatorScope = Annotated[Scope, Depends(operator_scope)]
Reader = Depends(reader)


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
    total: int


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


class TrainingCreate(Schema):
    kind: TrainingKind
    completed_on: date
    provider: OfficeCode = Field(examples=["BNNP-74"])
    certificate: str | None = Field(default=None, max_length=80, pattern=r"^[0-9A-Za-z./-]+$")


class AgentDeactivation(Schema):
    deactivated_on: date
    reason: AgentDeactivationReason


class AgentPublic(BaseModel):
    agent_id: str
    unit_id: str
    role: AgentRole
    appointed_on: date
    active: bool
    deactivated_on: date | None
    trainings: list[dict[str, Any]] = []


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


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


# --- regions ---------------------------------------------------------------------------------


@router.get("/regions", response_model=RegionsPublic, dependencies=[Reader], tags=["regions"])
async def list_regions(
    request: Request,
    level: Annotated[str | None, Query(pattern="^(province|regency|district|village)$")] = None,
    parent: Annotated[str | None, Query(max_length=13)] = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="Part of the name, any case.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RegionsPublic:
    conditions = []
    if level:
        conditions.append(regions.c.level == level)
    if parent:
        conditions.append(regions.c.parent_code == parent)
    if q:
        conditions.append(func.lower(regions.c.name).contains(q.lower()))

    async def read(session: AsyncSession) -> RegionsPublic:
        total = (
            await session.execute(select(func.count()).select_from(regions).where(*conditions))
        ).scalar_one()
        rows = await session.execute(
            select(regions).where(*conditions).order_by(regions.c.code).limit(limit).offset(offset)
        )
        return RegionsPublic(items=[RegionPublic(**r) for r in rows.mappings()], total=total)

    return await query(request, read)


@router.get("/regions/{code}", response_model=RegionPublic, dependencies=[Reader], tags=["regions"])
async def get_region(code: str, request: Request) -> RegionPublic:
    async def read(session: AsyncSession) -> RegionPublic:
        row = (
            (await session.execute(select(regions).where(regions.c.code == code)))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no region {code}")
        return RegionPublic(**row)

    return await query(request, read)


# --- units -----------------------------------------------------------------------------------


def _unit_public(unit: Unit) -> UnitPublic:
    return UnitPublic(
        unit_id=unit.unit_id,
        village_code=unit.village_code,
        province_code=unit.province_code,
        regency_code=unit.village_code[:5],
        name=unit.name,
        decree_number=unit.decree.number,
        decree_signed_on=unit.decree.signed_on,
        formed_on=unit.formed_on,
        formation=unit.formation,
        facilitating_office=unit.facilitating_office,
        status=unit.status,
        status_since=unit.status_since,
        version=unit.version,
    )


def _etag(version: int) -> str:
    return f'"{version}"'


@router.post("/units", status_code=201, response_model=UnitPublic, tags=["units"])
async def form_unit(
    body: UnitCreate, scope: OperatorScope, request: Request, response: Response
) -> UnitPublic:
    cmd = FormUnit(
        unit_id=str(uuid.uuid4()),
        village_code=body.village_code,
        name=body.name,
        decree=Decree(body.decree.number, body.decree.signed_on, body.decree.signatory),
        formed_on=body.formed_on,
        formation=body.formation,
        facilitating_office=body.facilitating_office,
        funding_source=body.funding_source,
        allow_second_unit=body.allow_second_unit,
    )
    async with command(request) as (session, outbox, today):
        unit = await handlers.handle_form_unit(session, outbox, cmd, scope=scope, today=today)
    response.headers["Location"] = f"/units/{unit.unit_id}"
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.get("/units", response_model=UnitsPublic, dependencies=[Reader], tags=["units"])
async def list_units(
    request: Request,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    regency: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}$")] = None,
    status: UnitStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UnitsPublic:
    conditions = []
    if province:
        conditions.append(units.c.province_code == province)
    if regency:
        conditions.append(units.c.regency_code == regency)
    if status:
        conditions.append(units.c.status == status)

    async def read(session: AsyncSession) -> UnitsPublic:
        total = (
            await session.execute(select(func.count()).select_from(units).where(*conditions))
        ).scalar_one()
        rows = await session.execute(
            select(units).where(*conditions).order_by(units.c.unit_id).limit(limit).offset(offset)
        )
        items = [
            UnitPublic(**{k: v for k, v in r.items() if k in UnitPublic.model_fields})
            for r in rows.mappings()
        ]
        return UnitsPublic(items=items, total=total)

    return await query(request, read)


@router.get("/units/{unit_id}", response_model=UnitPublic, dependencies=[Reader], tags=["units"])
async def get_unit(unit_id: str, request: Request, response: Response) -> UnitPublic:
    unit = await query(request, lambda s: handlers.load_unit(s, unit_id))
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.post("/units/{unit_id}/status", response_model=UnitPublic, tags=["units"])
async def change_unit_status(
    unit_id: str,
    body: UnitStatusChange,
    scope: OperatorScope,
    request: Request,
    response: Response,
    if_match: Annotated[str, Header(description="The unit's ETag, as last read.")],
) -> UnitPublic:
    try:
        expected = int(if_match.strip('W/"'))
    except ValueError:
        raise Conflict("If-Match must be the ETag of the unit") from None
    cmd = ChangeUnitStatus(
        unit_id=unit_id,
        to_status=body.to_status,
        reason=body.reason,
        effective_on=body.effective_on,
        expected_version=expected,
    )
    async with command(request) as (session, outbox, today):
        unit = await handlers.handle_change_unit_status(
            session, outbox, cmd, scope=scope, today=today
        )
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.post("/units/{unit_id}/funding", status_code=201, tags=["units"])
async def record_funding(
    unit_id: str, body: FundingCreate, scope: OperatorScope, request: Request
) -> dict[str, str]:
    cmd = RecordFunding(
        funding_id=str(uuid.uuid4()),
        unit_id=unit_id,
        fiscal_year=body.fiscal_year,
        source=body.source,
        amount_idr=body.amount_idr,
    )
    async with command(request) as (session, outbox, today):
        await handlers.handle_record_funding(session, outbox, cmd, scope=scope, today=today)
    return {"funding_id": cmd.funding_id}


# --- agents ----------------------------------------------------------------------------------


@router.post(
    "/units/{unit_id}/agents", status_code=201, response_model=AgentPublic, tags=["agents"]
)
async def appoint_agent(
    unit_id: str, body: AgentCreate, scope: OperatorScope, request: Request
) -> AgentPublic:
    cmd = AppointAgent(
        agent_id=str(uuid.uuid4()),
        unit_id=unit_id,
        role=body.role,
        decree=Decree(body.decree.number, body.decree.signed_on, body.decree.signatory),
        appointed_on=body.appointed_on,
    )
    async with command(request) as (session, outbox, today):
        agent = await handlers.handle_appoint_agent(session, outbox, cmd, scope=scope, today=today)
    return AgentPublic(
        agent_id=agent.agent_id,
        unit_id=agent.unit_id,
        role=agent.role,
        appointed_on=agent.appointed_on,
        active=agent.active,
        deactivated_on=None,
    )


@router.get(
    "/units/{unit_id}/agents",
    response_model=list[AgentPublic],
    dependencies=[Reader],
    tags=["agents"],
)
async def list_agents(unit_id: str, request: Request) -> list[AgentPublic]:
    async def read(session: AsyncSession) -> list[AgentPublic]:
        rows = (
            (
                await session.execute(
                    select(agents)
                    .where(agents.c.unit_id == unit_id)
                    .order_by(agents.c.appointed_on)
                )
            )
            .mappings()
            .all()
        )
        trained = (
            (
                await session.execute(
                    select(agent_trainings).join(agents).where(agents.c.unit_id == unit_id)
                )
            )
            .mappings()
            .all()
        )
        return [
            AgentPublic(
                agent_id=r["agent_id"],
                unit_id=r["unit_id"],
                role=r["role"],
                appointed_on=r["appointed_on"],
                active=r["active"],
                deactivated_on=r["deactivated_on"],
                trainings=[
                    {
                        "kind": t["kind"],
                        "completed_on": t["completed_on"],
                        "provider": t["provider"],
                    }
                    for t in trained
                    if t["agent_id"] == r["agent_id"]
                ],
            )
            for r in rows
        ]

    return await query(request, read)


@router.get("/agents", response_model=list[AgentPublic], dependencies=[Reader], tags=["agents"])
async def search_agents(
    request: Request,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    regency: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}$")] = None,
    active: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AgentPublic]:
    """Agents (pseudonymous ids only) of the units in a province or regency."""
    conditions = []
    if province:
        conditions.append(units.c.province_code == province)
    if regency:
        conditions.append(units.c.regency_code == regency)
    if active is not None:
        conditions.append(agents.c.active == active)

    async def read(session: AsyncSession) -> list[AgentPublic]:
        rows = await session.execute(
            select(agents)
            .join(units)
            .where(*conditions)
            .order_by(agents.c.agent_id)
            .limit(limit)
            .offset(offset)
        )
        return [
            AgentPublic(
                agent_id=r["agent_id"],
                unit_id=r["unit_id"],
                role=r["role"],
                appointed_on=r["appointed_on"],
                active=r["active"],
                deactivated_on=r["deactivated_on"],
            )
            for r in rows.mappings()
        ]

    return await query(request, read)


@router.post("/agents/{agent_id}/trainings", status_code=201, tags=["agents"])
async def record_training(
    agent_id: str, body: TrainingCreate, scope: OperatorScope, request: Request
) -> dict[str, str]:
    training = Training(
        training_id=str(uuid.uuid4()),
        kind=body.kind,
        completed_on=body.completed_on,
        provider=body.provider,
        certificate=body.certificate,
    )
    async with command(request) as (session, outbox, today):
        await handlers.handle_record_training(
            session, outbox, agent_id, training, scope=scope, today=today
        )
    return {"training_id": training.training_id}


@router.post("/agents/{agent_id}/deactivation", tags=["agents"])
async def deactivate_agent(
    agent_id: str, body: AgentDeactivation, scope: OperatorScope, request: Request
) -> dict[str, str]:
    async with command(request) as (session, outbox, today):
        await handlers.handle_deactivate_agent(
            session,
            outbox,
            agent_id,
            on=body.deactivated_on,
            reason=body.reason,
            scope=scope,
            today=today,
        )
    return {"agent_id": agent_id, "status": "deactivated"}


# --- errors ----------------------------------------------------------------------------------


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app,
        rules_of="registry",
        problems={
            NotFound: Problem(404, "Not found"),
            Conflict: Problem(
                412,
                "The unit changed since you read it",
                type_="https://pulih.id/problems/stale-version",
            ),
            IntegrityError: Problem(
                409, "Already recorded", "a record with this id already exists"
            ),
        },
    )
