"""Referrals: a case referred on, what became of it, and the referrals nobody answered in
time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from services.client_case.api.common import (
    ON_A_CASE,
    CaseWorkerDep,
    ContextDep,
    ReferralAnswer,
    ReferralCreate,
    case_row,
    sees_case,
)
from services.client_case.commands import Refer, ResolveReferral
from services.client_case.db import cases, referrals
from services.client_case.domain.pathway import Referral
from services.client_case.handlers import NotFound, execute
from services.client_case.settings import Settings
from shared.contracts.types import ReferralDestinationType, ReferralResolution
from shared.dependencies import QueryDep, SettingsDep

router = APIRouter()


class ReferralCreated(BaseModel):
    referral_id: str


class ReferralResolved(BaseModel):
    referral_id: str
    resolution: ReferralResolution


class OverdueReferral(BaseModel):
    referral_id: str
    case_id: str
    unit_id: str
    destination_type: ReferralDestinationType
    referred_on: date


@router.post(
    "/cases/{case_id}/referrals",
    status_code=201,
    response_model=ReferralCreated,
    responses=ON_A_CASE,
    tags=["referrals"],
)
async def refer(
    case_id: str, body: ReferralCreate, who: CaseWorkerDep, ctx: ContextDep
) -> dict[str, str]:
    refer = Refer(
        case_id,
        body.destination_type,
        body.reason,
        body.referred_on,
        body.referred_by_agent_id,
        facility=body.destination_facility,
    )
    who.works_in((await case_row(ctx.session, case_id, who))["unit_id"])
    referral = await execute(ctx, refer)
    return {"referral_id": referral.referral_id}


@router.post(
    "/referrals/{referral_id}/resolution",
    response_model=ReferralResolved,
    responses=ON_A_CASE,
    tags=["referrals"],
)
async def resolve_referral(
    referral_id: str, body: ReferralAnswer, who: CaseWorkerDep, ctx: ContextDep
) -> dict[str, str]:
    case_id = (
        await ctx.session.execute(
            select(referrals.c.case_id).where(referrals.c.referral_id == referral_id)
        )
    ).scalar()
    if case_id is None:
        raise NotFound(f"no referral {referral_id}")
    who.works_in((await case_row(ctx.session, case_id, who))["unit_id"])
    resolved = await execute(ctx, ResolveReferral(referral_id, body.resolution, body.resolved_on))
    return {"referral_id": referral_id, "resolution": str(resolved.resolution)}


@router.get("/referrals/overdue", response_model=list[OverdueReferral], tags=["referrals"])
async def overdue_referrals(
    who: CaseWorkerDep, db: QueryDep, settings: SettingsDep[Settings]
) -> list[dict[str, Any]]:
    """Open referrals nobody has answered within the configured days."""
    days = settings.referral_answer_days
    today = datetime.now(UTC).date()
    rows = (
        (
            await db.execute(
                select(referrals, cases.c.unit_id, cases.c.village_code, cases.c.province_code)
                .join(cases)
                .where(referrals.c.resolution.is_(None))
            )
        )
        .mappings()
        .all()
    )
    return [
        {
            "referral_id": r["referral_id"],
            "case_id": r["case_id"],
            "unit_id": r["unit_id"],
            "destination_type": r["destination_type"],
            "referred_on": r["referred_on"],
        }
        for r in rows
        if sees_case(who, r)
        and Referral(
            r["referral_id"],
            r["case_id"],
            ReferralDestinationType(r["destination_type"]),
            r["referred_on"],
        ).overdue(today, days)
    ]
