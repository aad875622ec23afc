"""Units IBM: forming them, their status (with If-Match/ETag) and their funding."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import func, select

from services.registry import handlers
from services.registry.api.common import (
    FundingCreate,
    FundingRecorded,
    Limit,
    Offset,
    OperatorScope,
    Reader,
    UnitCreate,
    UnitPublic,
    UnitsPublic,
    UnitStatusChange,
)
from services.registry.commands import ChangeUnitStatus, FormUnit, RecordFunding
from services.registry.db import units
from services.registry.domain import Conflict, Decree, Unit
from shared.contracts.types import (
    UnitStatus,
)
from shared.dependencies import CommandDep, QueryDep
from shared.http import problem_responses

router = APIRouter()


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


@router.post(
    "/units",
    status_code=201,
    response_model=UnitPublic,
    responses=problem_responses(409),
    tags=["units"],
)
async def form_unit(
    body: UnitCreate, scope: OperatorScope, tx: CommandDep, response: Response
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
    unit = await handlers.execute(tx.db, tx.outbox, cmd, scope=scope, today=tx.now.date())
    assert isinstance(unit, Unit)
    response.headers["Location"] = f"/units/{unit.unit_id}"
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.get("/units", response_model=UnitsPublic, dependencies=[Reader], tags=["units"])
async def list_units(
    db: QueryDep,
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
    counted = await db.execute(
        select(units.c.status, func.count()).where(*conditions).group_by(units.c.status)
    )
    by_status = {UnitStatus(state): n for state, n in counted.all()}
    items: list[UnitPublic] = []
    if limit:
        rows = await db.execute(
            select(units).where(*conditions).order_by(units.c.unit_id).limit(limit).offset(offset)
        )
        items = [
            UnitPublic(**{k: v for k, v in r.items() if k in UnitPublic.model_fields})
            for r in rows.mappings()
        ]
    return UnitsPublic(items=items, total=sum(by_status.values()), by_status=by_status)


@router.get(
    "/units/{unit_id}",
    response_model=UnitPublic,
    responses=problem_responses(404),
    dependencies=[Reader],
    tags=["units"],
)
async def get_unit(unit_id: str, db: QueryDep, response: Response) -> UnitPublic:
    unit = await handlers.load_unit(db, unit_id)
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.post(
    "/units/{unit_id}/status",
    response_model=UnitPublic,
    responses=problem_responses(404, 409, 412),
    tags=["units"],
)
async def change_unit_status(
    unit_id: str,
    body: UnitStatusChange,
    scope: OperatorScope,
    tx: CommandDep,
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
    unit = await handlers.execute(tx.db, tx.outbox, cmd, scope=scope, today=tx.now.date())
    assert isinstance(unit, Unit)
    response.headers["ETag"] = _etag(unit.version)
    return _unit_public(unit)


@router.post(
    "/units/{unit_id}/funding",
    status_code=201,
    response_model=FundingRecorded,
    responses=problem_responses(404, 409),
    tags=["units"],
)
async def record_funding(
    unit_id: str, body: FundingCreate, scope: OperatorScope, tx: CommandDep
) -> FundingRecorded:
    cmd = RecordFunding(
        funding_id=str(uuid.uuid4()),
        unit_id=unit_id,
        fiscal_year=body.fiscal_year,
        source=body.source,
        amount_idr=body.amount_idr,
    )
    await handlers.execute(tx.db, tx.outbox, cmd, scope=scope, today=tx.now.date())
    return FundingRecorded(funding_id=cmd.funding_id)
