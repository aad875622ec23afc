"""What every client-case route shares: who is calling and where they may act, the command
transaction, acting on a case, and the request and response schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
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
from shared.regions import latest_today
from shared.runtime import runtime_of
from shared.security.bearer import PrincipalDep
from shared.security.roles import Forbidden, Role

CaseCommand = Enrol | ChangeStage | CloseCase | TransferCase
"""The commands on a case that answer with the case as it is after."""


@dataclass(frozen=True)
class Caller:
    """Who is asking, from their verified token: the subject (for the audit) and their scope."""

    subject: str
    national: bool
    regions: tuple[str, ...]
    units: tuple[str, ...]

    def sees_case(self, row: Any) -> bool:
        return (
            self.national
            or row["unit_id"] in self.units
            or any(
                row["village_code"].startswith(f"{r}.") or row["province_code"] == r
                for r in self.regions
            )
        )

    def works_in(self, unit_id: str) -> None:
        if unit_id not in self.units:
            raise Forbidden("only an agent of this unit may do this")

    @property
    def actor(self) -> Actor:
        return Actor(actor=self.subject, units=self.units)


async def caller(who: PrincipalDep) -> Caller:
    """(`async`: a plain `def` would run in FastAPI's thread pool, a thread hop per request.)"""
    roles = {g.role for g in who.grants}
    if not roles - {Role.REPORTING_CONSUMER, Role.PROVINCE_SYSTEM}:
        raise Forbidden("reporting consumers read aggregates, provincial systems ingest")
    return Caller(
        subject=who.subject,
        national=Role.NATIONAL_OPERATOR in roles,
        regions=tuple(
            g.target
            for g in who.grants
            if g.target and g.role in (Role.PROVINCE_OPERATOR, Role.DISTRICT_OPERATOR)
        ),
        units=tuple(g.target for g in who.grants if g.target and g.role is Role.UNIT_AGENT),
    )


CallerDep = Annotated[Caller, Depends(caller)]


def settings_of(request: Request) -> Settings:
    settings = runtime_of(request).settings
    assert isinstance(settings, Settings)
    return settings


def keys_of(request: Request) -> Keys:
    settings = settings_of(request)
    return Keys(settings.key_ring, settings.pseudonym_key_bytes)


@asynccontextmanager
async def command(request: Request) -> AsyncIterator[Context]:
    """A transaction to run commands in (`handlers.execute`); committed when the block ends."""
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        yield Context(
            session,
            runtime.outbox,
            keys_of(request),
            latest_today(datetime.now(UTC)),  # an agent's date is judged by Indonesia's latest day
            settings_of(request).routing_for,
        )
    runtime.notify_committed()


async def case_row(session: AsyncSession, case_id: str, who: Caller) -> Any:
    row = (
        (await session.execute(select(cases).where(cases.c.case_id == case_id))).mappings().first()
    )
    if row is None or not who.sees_case(row):
        raise NotFound(f"no case {case_id}")
    return row


async def act_on_case(
    request: Request, who: Caller, cmd: CaseCommand, *, operators_too: bool = False
) -> CasePublic:
    """Run a command on a case of the caller's unit (`operators_too`: or of an operator whose
    region holds the case) and return the case as it is after."""
    async with command(request) as ctx:
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
