"""The client-case HTTP API. A unit agent works with their own unit's clients; operators
above unit level see cases without identities; every identity read needs a reason and is
audited. Thin: parse, check scope, call a handler, map the result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case import handlers
from services.client_case.db import cases, clients, referrals
from services.client_case.domain import assist
from services.client_case.domain.pathway import Referral
from services.client_case.handlers import Gone, Identity, Keys, NotFound
from services.client_case.settings import Settings
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AgeBand,
    AssistSubstance,
    CaseStage,
    ClosureOutcome,
    EntityId,
    FacilityCode,
    Programme,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RelapseSource,
    Sex,
)
from shared.http import Problem, install_domain_errors
from shared.messaging.outbox import Outbox
from shared.runtime import runtime_of
from shared.security.encryption import CannotDecrypt
from shared.security.roles import Forbidden, Role, parse_roles

router = APIRouter()


@dataclass(frozen=True)
class Caller:
    """Who is asking, from the gateway's roles header."""

    header: str
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


def caller(x_pulih_roles: Annotated[str | None, Header()] = None) -> Caller:
    grants = parse_roles(x_pulih_roles)
    assert x_pulih_roles is not None
    roles = {g.role for g in grants}
    if roles == {Role.REPORTING_CONSUMER}:
        raise Forbidden("reporting consumers read aggregates only")
    return Caller(
        header=x_pulih_roles,
        national=Role.NATIONAL_OPERATOR in roles,
        regions=tuple(
            g.target
            for g in grants
            if g.target and g.role in (Role.PROVINCE_OPERATOR, Role.DISTRICT_OPERATOR)
        ),
        units=tuple(g.target for g in grants if g.target and g.role is Role.UNIT_AGENT),
    )


CallerDep = Annotated[Caller, Depends(caller)]


def _settings(request: Request) -> Settings:
    settings = runtime_of(request).settings
    assert isinstance(settings, Settings)
    return settings


def _keys(request: Request) -> Keys:
    settings = _settings(request)
    return Keys(settings.key_ring, settings.pseudonym_key_bytes)


@asynccontextmanager
async def command(request: Request) -> AsyncIterator[tuple[AsyncSession, Outbox, date]]:
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        yield session, runtime.outbox, datetime.now(UTC).date()
    runtime.notify_committed()


async def _case_row(session: AsyncSession, case_id: str, who: Caller) -> Any:
    row = (
        (await session.execute(select(cases).where(cases.c.case_id == case_id))).mappings().first()
    )
    if row is None or not who.sees_case(row):
        raise NotFound(f"no case {case_id}")
    return row


CaseAction = Callable[[AsyncSession, Outbox, date], Awaitable[object]]


async def _act_on_case(request: Request, who: Caller, case_id: str, act: CaseAction) -> CasePublic:
    """Run a use case on a case of the caller's unit and return the case as it is after."""
    async with command(request) as (session, outbox, today):
        who.works_in((await _case_row(session, case_id, who))["unit_id"])
        await act(session, outbox, today)
        row = (
            (await session.execute(select(cases).where(cases.c.case_id == case_id)))
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


class RelapseReport(Schema):
    substances: list[AssistSubstance] = Field(min_length=1, max_length=10)
    source: RelapseSource
    relapsed_on: date
    reported_by_agent_id: EntityId


class Transfer(Schema):
    to_unit_id: EntityId
    transferred_on: date


class CasePublic(BaseModel):
    """A case as operators see it: no identity, the pseudonym only."""

    case_id: str
    client_ref: str
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


# --- identity --------------------------------------------------------------------------------


@router.get("/identity-key", tags=["identity"])
async def identity_key(request: Request) -> dict[str, str]:
    """The public key provinces seal identity blocks to (libsodium sealed box, X25519)."""
    import base64

    from nacl.public import PrivateKey

    private = base64.b64decode(_settings(request).identity_private_key.get_secret_value())
    public = bytes(PrivateKey(private).public_key)
    return {
        "algorithm": "libsodium-sealed-box-x25519",
        "public_key": base64.b64encode(public).decode(),
    }


@router.post("/clients", status_code=201, tags=["identity"])
async def register_client(body: ClientCreate, who: CallerDep, request: Request) -> dict[str, Any]:
    who.works_in(body.unit_id)
    identity = Identity(**body.identity.model_dump())
    async with command(request) as (session, _outbox, today):
        client_id, ref, new = await handlers.handle_register_client(
            session,
            _keys(request),
            unit_id=body.unit_id,
            identity=identity,
            age_band=body.age_band,
            sex=body.sex,
            today=today,
        )
    return {"client_id": client_id, "client_ref": ref, "new": new}


@router.get("/clients/{client_id}/identity", tags=["identity"])
async def read_identity(
    client_id: str,
    who: CallerDep,
    request: Request,
    reason: Annotated[
        str, Query(min_length=5, max_length=200, description="Why the identity is needed; audited.")
    ],
) -> dict[str, Any]:
    async with command(request) as (session, _outbox, _today):
        unit = (
            await session.execute(
                select(clients.c.registered_unit_id).where(clients.c.client_id == client_id)
            )
        ).scalar()
        served_in = set(
            (
                await session.execute(select(cases.c.unit_id).where(cases.c.client_id == client_id))
            ).scalars()
        )
        if unit is None:
            raise NotFound(f"no client {client_id}")
        if not {unit, *served_in} & set(who.units):
            raise Forbidden("identity is readable only by agents of a unit serving the client")
        try:
            identity = await handlers.handle_read_identity(
                session, _keys(request), client_id, actor=who.header, reason=reason
            )
        except Gone:
            await session.commit()  # the refused read is audited too
            raise
    return identity


@router.post("/clients/{client_id}/erasure", tags=["identity"])
async def erase_client(client_id: str, who: CallerDep, request: Request) -> dict[str, str]:
    """Right to erasure (UU 27/2022): destroys the person's data key."""
    if not who.national:
        raise Forbidden("erasure is done by a national operator")
    async with command(request) as (session, _outbox, _today):
        await handlers.handle_erase_client(session, client_id)
    return {"client_id": client_id, "identity": "erased"}


# --- screening and cases ---------------------------------------------------------------------


@router.post("/screenings", status_code=201, tags=["cases"])
async def screen_client(body: ScreeningCreate, who: CallerDep, request: Request) -> dict[str, Any]:
    who.works_in(body.unit_id)
    answers = assist.AssistAnswers(
        substances={
            s: assist.SubstanceAnswers(**a.model_dump()) for s, a in body.substances.items()
        },
        injection=body.injection,
    )
    async with command(request) as (session, outbox, _today):
        unit = await handlers.require_active_unit(session, body.unit_id)
        case, result, destination = await handlers.handle_screen_client(
            session,
            outbox,
            client_id=body.client_id,
            unit_id=body.unit_id,
            answers=answers,
            agent_id=body.screener_agent_id,
            programme=body.programme,
            screened_at=body.screened_at,
            routing=_settings(request).routing_for(unit["province_code"]),
        )
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
    who: CallerDep,
    request: Request,
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
    runtime = runtime_of(request)
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(cases).where(*conditions).order_by(cases.c.opened_on).limit(limit)
            )
        ).mappings()
        return [
            CasePublic(**{k: r[k] for k in CasePublic.model_fields})
            for r in rows
            if who.sees_case(r)
        ]


@router.post("/cases/{case_id}/enrolment", response_model=CasePublic, tags=["cases"])
async def enrol(case_id: str, body: Enrolment, who: CallerDep, request: Request) -> CasePublic:
    return await _act_on_case(
        request,
        who,
        case_id,
        lambda session, outbox, today: handlers.handle_enrol(
            session,
            outbox,
            case_id,
            route=body.admission_route,
            source=body.aftercare_source,
            on=body.enrolled_on,
            today=today,
        ),
    )


@router.post("/cases/{case_id}/stage", response_model=CasePublic, tags=["cases"])
async def change_stage(
    case_id: str, body: StageChange, who: CallerDep, request: Request
) -> CasePublic:
    return await _act_on_case(
        request,
        who,
        case_id,
        lambda session, outbox, today: handlers.handle_change_stage(
            session, outbox, case_id, to=body.to_stage, on=body.changed_on, today=today
        ),
    )


@router.post("/cases/{case_id}/referrals", status_code=201, tags=["referrals"])
async def refer(
    case_id: str, body: ReferralCreate, who: CallerDep, request: Request
) -> dict[str, str]:
    async with command(request) as (session, outbox, today):
        who.works_in((await _case_row(session, case_id, who))["unit_id"])
        referral = await handlers.handle_refer(
            session,
            outbox,
            case_id,
            destination=body.destination_type,
            facility=body.destination_facility,
            reason=body.reason,
            on=body.referred_on,
            agent_id=body.referred_by_agent_id,
            today=today,
        )
    return {"referral_id": referral.referral_id}


@router.post("/referrals/{referral_id}/resolution", tags=["referrals"])
async def resolve_referral(
    referral_id: str, body: ReferralAnswer, who: CallerDep, request: Request
) -> dict[str, str]:
    async with command(request) as (session, outbox, today):
        case_id = (
            await session.execute(
                select(referrals.c.case_id).where(referrals.c.referral_id == referral_id)
            )
        ).scalar()
        if case_id is None:
            raise NotFound(f"no referral {referral_id}")
        who.works_in((await _case_row(session, case_id, who))["unit_id"])
        resolved = await handlers.handle_resolve_referral(
            session,
            outbox,
            referral_id,
            resolution=body.resolution,
            on=body.resolved_on,
            today=today,
        )
    return {"referral_id": referral_id, "resolution": str(resolved.resolution)}


@router.get("/referrals/overdue", tags=["referrals"])
async def overdue_referrals(who: CallerDep, request: Request) -> list[dict[str, Any]]:
    """Open referrals nobody has answered within the configured days."""
    days = _settings(request).referral_answer_days
    today = datetime.now(UTC).date()
    runtime = runtime_of(request)
    assert runtime.sessions is not None
    async with runtime.sessions() as session:
        rows = (
            (
                await session.execute(
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
        if who.sees_case(r)
        and Referral(
            r["referral_id"],
            r["case_id"],
            ReferralDestinationType(r["destination_type"]),
            r["referred_on"],
        ).overdue(today, days)
    ]


@router.post("/cases/{case_id}/closure", response_model=CasePublic, tags=["cases"])
async def close_case(case_id: str, body: Closure, who: CallerDep, request: Request) -> CasePublic:
    return await _act_on_case(
        request,
        who,
        case_id,
        lambda session, outbox, today: handlers.handle_close(
            session,
            outbox,
            case_id,
            outcome=body.outcome,
            on=body.closed_on,
            referral_id=body.referral_id,
            today=today,
        ),
    )


@router.post("/cases/{case_id}/relapses", status_code=201, tags=["cases"])
async def report_relapse(
    case_id: str, body: RelapseReport, who: CallerDep, request: Request
) -> dict[str, str]:
    async with command(request) as (session, outbox, today):
        who.works_in((await _case_row(session, case_id, who))["unit_id"])
        await handlers.handle_report_relapse(
            session,
            outbox,
            case_id,
            substances=body.substances,
            source=body.source,
            on=body.relapsed_on,
            agent_id=body.reported_by_agent_id,
            today=today,
        )
    return {"case_id": case_id, "relapse": "recorded"}


@router.post("/cases/{case_id}/transfer", response_model=CasePublic, tags=["cases"])
async def transfer(case_id: str, body: Transfer, who: CallerDep, request: Request) -> CasePublic:
    """The sending unit's agent hands the case over to another active unit."""
    return await _act_on_case(
        request,
        who,
        case_id,
        lambda session, outbox, today: handlers.handle_transfer(
            session,
            outbox,
            case_id,
            to_unit_id=body.to_unit_id,
            on=body.transferred_on,
            today=today,
        ),
    )


# --- errors ----------------------------------------------------------------------------------


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app,
        rules_of="client-case",
        problems={
            NotFound: Problem(404, "Not found"),
            Gone: Problem(410, "Identity erased"),
            CannotDecrypt: Problem(500, "Identity cannot be decrypted"),
        },
    )
