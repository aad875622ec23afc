"""Screening and the case's course: enrolment, stages, closure, relapse and transfer; the
unit's cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_, select

from services.client_case import handlers
from services.client_case.api.common import (
    ON_A_CASE,
    CasePublic,
    CaseWorkerDep,
    Closure,
    ContextDep,
    Enrolment,
    RelapseReport,
    ScreeningCreate,
    StageChange,
    Transfer,
    act_on_case,
    case_row,
    keys_of,
    sees_case,
)
from services.client_case.commands import (
    ChangeStage,
    CloseCase,
    Enrol,
    ReportRelapse,
    ScreenClient,
    TransferCase,
)
from services.client_case.db import cases, referrals, screenings
from services.client_case.domain import assist
from services.client_case.handlers import execute
from services.client_case.settings import Settings
from shared.contracts.types import (
    CaseStage,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RiskLevel,
)
from shared.dependencies import QueryDep, SettingsDep
from shared.http import problem_responses

router = APIRouter()


class SubstanceScore(BaseModel):
    score: int = Field(description="The substance's ASSIST score.")
    level: RiskLevel


class ScreeningScored(BaseModel):
    """A scored WHO ASSIST screening and the case it opened or re-screened."""

    case_id: str
    rule_set_version: str = Field(examples=["assist-3.1/2026.1"])
    overall_level: RiskLevel
    overall_level_id: str = Field(description="The level in Indonesian: ringan, sedang, berat.")
    action: assist.Action
    refer_to: ReferralDestinationType | None = Field(
        description="Where the routing policy sends the client, if anywhere."
    )
    injected_recently: bool = Field(description="Injected in the past 3 months.")
    scores: dict[str, SubstanceScore] = Field(description="Each substance ever used.")


class ScreeningSummary(BaseModel):
    screening_id: str
    screened_at: datetime
    overall_level: RiskLevel
    injecting: bool
    rule_set_version: str
    screener_agent_id: str


class ReferralSummary(BaseModel):
    referral_id: str
    destination_type: ReferralDestinationType
    destination_facility: str | None
    reason: ReferralReason
    referred_on: date
    resolution: ReferralResolution | None
    resolved_on: date | None


class CaseView(CasePublic):
    """One case as its unit works it."""

    label: str | None = Field(description="For the unit's own agents: the client's label.")
    screenings: list[ScreeningSummary]
    referrals: list[ReferralSummary]


class RelapseRecorded(BaseModel):
    case_id: str
    relapse: Literal["recorded"]


@router.post(
    "/screenings",
    status_code=201,
    response_model=ScreeningScored,
    responses=problem_responses(404, 409, 410),
    tags=["cases"],
)
async def screen_client(
    body: ScreeningCreate, who: CaseWorkerDep, ctx: ContextDep
) -> dict[str, Any]:
    who.works_in(body.unit_id)
    answers = assist.AssistAnswers(
        substances={
            s: assist.SubstanceAnswers(**a.model_dump()) for s, a in body.substances.items()
        },
        injection=body.injection,
    )
    screen = ScreenClient(
        client_id=body.client_id,
        unit_id=body.unit_id,
        answers=answers,
        agent_id=body.screener_agent_id,
        programme=body.programme,
        screened_at=body.screened_at,
    )
    case, result, destination = await execute(ctx, screen)
    return {
        "case_id": case.case_id,
        "rule_set_version": result.rule_set_version,
        "overall_level": result.overall_level,
        "overall_level_id": assist.indonesian_name(result.overall_level),
        "action": result.action,
        "refer_to": destination,
        "injected_recently": result.injected_recently,
        "scores": {r.substance: {"score": r.score, "level": r.level} for r in result.substances},
    }


@router.get("/cases", response_model=list[CasePublic], tags=["cases"])
async def list_cases(
    who: CaseWorkerDep,
    db: QueryDep,
    unit_id: str | None = None,
    province: str | None = None,
    stage: CaseStage | None = None,
    at_risk: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CasePublic]:
    """Cases in the caller's scope; `at_risk=true`: open cases flagged at risk of dropping out."""
    conditions: list[ColumnElement[bool]] = []
    if at_risk is not None:
        conditions.append(
            cases.c.at_risk_on.is_not(None) if at_risk else cases.c.at_risk_on.is_(None)
        )
    if unit_id:
        conditions.append(cases.c.unit_id == unit_id)
    if province:
        conditions.append(cases.c.province_code == province)
    if stage:
        conditions.append(cases.c.stage == stage)
    if not who.national:  # the caller's cases in SQL, so `limit` counts only what they see
        conditions.append(
            or_(
                cases.c.unit_id.in_(who.units),
                *(cases.c.village_code.startswith(f"{r}.") for r in who.regions),
            )
        )
    rows = (
        await db.execute(select(cases).where(*conditions).order_by(cases.c.opened_on).limit(limit))
    ).mappings()
    return [
        CasePublic(**{k: r[k] for k in CasePublic.model_fields}) for r in rows if sees_case(who, r)
    ]


@router.get(
    "/cases/{case_id}", response_model=CaseView, responses=problem_responses(404), tags=["cases"]
)
async def case_view(
    case_id: str, who: CaseWorkerDep, db: QueryDep, settings: SettingsDep[Settings]
) -> dict[str, Any]:
    """One case as its unit works it: the case, its screenings and referrals, and — for the
    unit's own agents — the label the unit knows the client by (never the identity). Operators
    in scope see the same without the label; anyone else gets 404."""
    case = await case_row(db, case_id, who)
    found = await db.execute(
        select(screenings).where(screenings.c.case_id == case_id).order_by(screenings.c.screened_at)
    )
    screened = [{k: r[k] for k in _SCREENING} for r in found.mappings()]
    found = await db.execute(
        select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.referred_on)
    )
    referred = [{k: r[k] for k in _REFERRAL} for r in found.mappings()]
    label = None
    if case["unit_id"] in who.units:
        client = await handlers.client_row(db, case["client_id"])
        label = handlers.label_of(keys_of(settings), client)
    return {
        **CasePublic(**{k: case[k] for k in CasePublic.model_fields}).model_dump(),
        "label": label,
        "screenings": screened,
        "referrals": referred,
    }


_SCREENING = (
    "screening_id",
    "screened_at",
    "overall_level",
    "injecting",
    "rule_set_version",
    "screener_agent_id",
)
_REFERRAL = (
    "referral_id",
    "destination_type",
    "destination_facility",
    "reason",
    "referred_on",
    "resolution",
    "resolved_on",
)


@router.post(
    "/cases/{case_id}/enrolment", response_model=CasePublic, responses=ON_A_CASE, tags=["cases"]
)
async def enrol(case_id: str, body: Enrolment, who: CaseWorkerDep, ctx: ContextDep) -> CasePublic:
    return await act_on_case(
        ctx,
        who,
        Enrol(case_id, body.admission_route, body.enrolled_on, source=body.aftercare_source),
    )


@router.post(
    "/cases/{case_id}/stage", response_model=CasePublic, responses=ON_A_CASE, tags=["cases"]
)
async def change_stage(
    case_id: str, body: StageChange, who: CaseWorkerDep, ctx: ContextDep
) -> CasePublic:
    return await act_on_case(ctx, who, ChangeStage(case_id, body.to_stage, body.changed_on))


@router.post(
    "/cases/{case_id}/closure", response_model=CasePublic, responses=ON_A_CASE, tags=["cases"]
)
async def close_case(
    case_id: str, body: Closure, who: CaseWorkerDep, ctx: ContextDep
) -> CasePublic:
    close = CloseCase(
        case_id,
        body.outcome,
        body.closed_on,
        referral_id=body.referral_id,
        early=body.early_completion_reason,
    )
    return await act_on_case(ctx, who, close)


@router.post(
    "/cases/{case_id}/relapses",
    status_code=201,
    response_model=RelapseRecorded,
    responses=ON_A_CASE,
    tags=["cases"],
)
async def report_relapse(
    case_id: str, body: RelapseReport, who: CaseWorkerDep, ctx: ContextDep
) -> dict[str, str]:
    relapse = ReportRelapse(
        case_id,
        tuple(body.substances),
        body.source,
        body.relapsed_on,
        body.reported_by_agent_id,
    )
    who.works_in((await case_row(ctx.session, case_id, who))["unit_id"])
    await execute(ctx, relapse)
    return {"case_id": case_id, "relapse": "recorded"}


@router.post(
    "/cases/{case_id}/transfer", response_model=CasePublic, responses=ON_A_CASE, tags=["cases"]
)
async def transfer(case_id: str, body: Transfer, who: CaseWorkerDep, ctx: ContextDep) -> CasePublic:
    """The holding unit's agent, or an operator whose region holds the case, hands it over to
    another active unit: the only way a case (and the identity its unit holds) moves."""
    return await act_on_case(
        ctx,
        who,
        TransferCase(case_id, body.to_unit_id, body.transferred_on),
        operators_too=True,
    )
