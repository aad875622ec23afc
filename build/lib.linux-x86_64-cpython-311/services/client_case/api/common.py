"""What every client-case route shares: who may work with cases and where, the command's
context, acting on a case, and the request and response schemas."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.commands import Actor, ChangeStage, CloseCase, Enrol, TransferCase
from services.client_case.db import cases
from services.client_case.domain import assist
from services.client_case.handlers import Context, Keys, NotFound, execute
from services.client_case.settings import Settings
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AgeBand,
    AssistSubstance,
    CaseStage,
    ClosureOutcome,
    EarlyCompletion,
    EntityId,
    FacilityCode,
    Programme,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RelapseSource,
    Sex,
)
from shared.dependencies import CallerDep, CommandDep, SettingsDep
from shared.http import problem_responses
from shared.regions import latest_today
from shared.security.roles import Caller, Forbidden, Role

CaseCommand = Enrol | ChangeStage | CloseCase | TransferCase
"""The commands on a case that answer with the case as it is after."""


async def case_worker(who: CallerDep) -> Caller:
    """Agents and operators work with cases; reporting consumers and provincial systems not."""
    if not who.roles - {Role.REPORTING_CONSUMER, Role.PROVINCE_SYSTEM}:
        raise Forbidden("reporting consumers read aggregates, provincial systems ingest")
    return who


CaseWorkerDep = Annotated[Caller, Depends(case_worker)]


def sees_case(who: Caller, row: Any) -> bool:
    """The case's unit's agents and the operators over its village."""
    return row["unit_id"] in who.units or who.oversees(row["village_code"])


def actor_of(who: Caller) -> Actor:
    return Actor(actor=who.subject, units=who.units)


def keys_of(settings: Settings) -> Keys:
    return Keys(settings.key_ring, settings.pseudonym_key_bytes)


async def context(tx: CommandDep, settings: SettingsDep[Settings]) -> Context:
    """A transaction to run commands in (`handlers.execute`), committed when the route returns."""
    return Context(
        tx.db,
        tx.outbox,
        keys_of(settings),
        latest_today(tx.now),  # an agent's date is judged by Indonesia's latest day
        settings.routing_for,
    )


ContextDep = Annotated[Context, Depends(context)]
ON_A_CASE = problem_responses(404, 409, 410)


async def case_row(db: AsyncSession, case_id: str, who: Caller) -> Any:
    row = (await db.execute(select(cases).where(cases.c.case_id == case_id))).mappings().first()
    if row is None or not sees_case(who, row):
        raise NotFound(f"no case {case_id}")
    return row


async def act_on_case(
    ctx: Context, who: Caller, cmd: CaseCommand, *, operators_too: bool = False
) -> CasePublic:
    """Run a command on a case of the caller's unit (`operators_too`: or of an operator whose
    region holds the case) and return the case as it is after."""
    case = await case_row(ctx.session, cmd.case_id, who)
    if not (operators_too and (who.national or who.regions)):
        who.works_in(case["unit_id"])
    await execute(ctx, cmd)
    row = (
        (await ctx.session.execute(select(cases).where(cases.c.case_id == cmd.case_id)))
        .mappings()
        .one()
    )
    return CasePublic(**{k: row[k] for k in CasePublic.model_fields})


# --- schemas ---------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityIn(Schema):
    """Everything optional: a person may be served anonymously."""

    nik: str | None = Field(default=None, max_length=30, description="16-digit NIK.")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=500)
    label: str | None = Field(
        default=None,
        max_length=40,
        description="A short label the unit knows the person by on its lists (encrypted like "
        "the identity; shown to the unit's agents in the case view).",
    )


class ClientCreate(Schema):
    unit_id: EntityId
    identity: IdentityIn = IdentityIn()
    age_band: AgeBand | None = None
    sex: Sex | None = None


class SubstanceAnswersIn(Schema):
    ever_used: bool = Field(description="Q1")
    frequency: assist.Frequency | None = Field(default=None, description="Q2")
    urge: assist.Frequency | None = Field(default=None, description="Q3")
    problems: assist.Frequency | None = Field(default=None, description="Q4")
    failed_duties: assist.Frequency | None = Field(default=None, description="Q5")
    concern: assist.Recency | None = Field(default=None, description="Q6")
    cut_down: assist.Recency | None = Field(default=None, description="Q7")


class ScreeningCreate(Schema):
    client_id: EntityId
    unit_id: EntityId
    programme: Programme = Programme.SIL
    screened_at: AwareDatetime
    screener_agent_id: EntityId
    substances: dict[AssistSubstance, SubstanceAnswersIn]
    injection: assist.Recency | None = Field(default=None, description="Q8")


class Enrolment(Schema):
    admission_route: AdmissionRoute
    aftercare_source: AftercareSource | None = None
    enrolled_on: date


class StageChange(Schema):
    to_stage: CaseStage
    changed_on: date


class ReferralCreate(Schema):
    destination_type: ReferralDestinationType
    destination_facility: FacilityCode | None = None
    reason: ReferralReason
    referred_on: date
    referred_by_agent_id: EntityId


class ReferralAnswer(Schema):
    resolution: ReferralResolution
    resolved_on: date


class Closure(Schema):
    outcome: ClosureOutcome
    closed_on: date
    referral_id: EntityId | None = None
    early_completion_reason: EarlyCompletion | None = Field(
        default=None,
        description="Required to complete a case before week 16; only with `completed`.",
    )


class RelapseReport(Schema):
    substances: list[AssistSubstance] = Field(min_length=1, max_length=10)
    source: RelapseSource
    relapsed_on: date
    reported_by_agent_id: EntityId


class Transfer(Schema):
    to_unit_id: EntityId
    transferred_on: date


class CasePublic(BaseModel):
    """A case as operators see it: no identity, and not the person's pseudonym either (it
    would tell which cases in different units are the same person)."""

    case_id: str
    unit_id: str
    province_code: str
    village_code: str
    stage: CaseStage
    opened_on: date
    risk_level: str | None
    admission_route: str | None
    enrolled_on: date | None
    closed_on: date | None
    outcome: str | None
    at_risk_on: date | None = None
    """The day scheduling reported enough missed sessions in a row (drop-out policy)."""
    injecting_risk_on: date | None = None
    """The latest screening that found injecting in the past 3 months."""
