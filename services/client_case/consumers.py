"""What the client-case service consumes: the registry's units (so a screening is recorded only
in a unit that exists and is active), and provincial screenings on the inbound topics."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case import handlers
from services.client_case.db import cases, known_units, submissions
from services.client_case.domain import assist
from services.client_case.handlers import Identity, Keys
from services.client_case.settings import Settings
from shared.contracts import registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.client_case_inbound import (
    ClosureSubmitted,
    EnrolmentSubmitted,
    ScreeningSubmitted,
)
from shared.contracts.envelope import Envelope, Reason
from shared.contracts.types import ClosureOutcome
from shared.messaging import inbound
from shared.messaging.consumer import Handler
from shared.messaging.inbound import ApplyBatch
from shared.messaging.outbox import Outbox
from shared.persistence import insert_ignoring_duplicates
from shared.rules import RuleViolations, Violation
from shared.runtime import Runtime
from shared.security.encryption import CannotDecrypt, open_identity

CONSUMES = [registry.TOPIC, scheduling.TOPIC]


def canonical_facts(runtime: Runtime) -> Handler:
    """Canonical facts from other services: the registry's units, and scheduling's word on
    clients who stop coming (the drop-out policy) or come back."""
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.outbox is not None
    outbox = runtime.outbox

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.data
        if isinstance(data, registry.UnitFormed):
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            await session.execute(
                insert_ignoring_duplicates(known_units, dialect).values(
                    unit_id=data.unit_id,
                    province_code=data.province_code,
                    village_code=data.village_code,
                    status="active",
                )
            )
        elif isinstance(data, registry.UnitStatusChanged):
            await session.execute(
                update(known_units)
                .where(known_units.c.unit_id == data.unit_id)
                .values(status=data.to_status)
            )
        elif isinstance(data, scheduling.CaseAtRiskOfDropOut):
            await _at_risk(session, outbox, data, settings.drop_out_policy)
            runtime.notify_committed()
        elif isinstance(data, scheduling.SessionCompleted):
            await session.execute(
                update(cases).where(cases.c.case_id == data.case_id).values(at_risk_on=None)
            )

    return handle


async def _at_risk(
    session: AsyncSession, outbox: Outbox, data: scheduling.CaseAtRiskOfDropOut, policy: str
) -> None:
    """Flag the open case; under the `close` policy, close it as dropped out that day."""
    flagged = await session.execute(
        update(cases)
        .where(cases.c.case_id == data.case_id, cases.c.closed_on.is_(None))
        .values(at_risk_on=data.flagged_on)
    )
    if policy == "close" and flagged.rowcount == 1:  # type: ignore[attr-defined]
        await handlers.handle_close(
            session,
            outbox,
            data.case_id,
            outcome=ClosureOutcome.DROPPED_OUT,
            on=data.flagged_on,
            referral_id=None,
            today=datetime.now(UTC).date(),
        )


def inbound_facts(runtime: Runtime) -> ApplyBatch:
    """Provincial screenings on `ibm.inbound.<province>`: identity opened from its sealed box,
    the client found or registered, the answers scored with this service's rule set; the
    canonical `ClientScreened` and the receipt go out together. Enrolments and closures follow
    their screening by the province's submission id."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    keys = Keys(settings.key_ring, settings.pseudonym_key_bytes)
    private_key = settings.identity_private_key.get_secret_value()

    async def apply(session: AsyncSession, outbox: Outbox, data: EventData, province: str) -> None:
        if isinstance(data, EnrolmentSubmitted | ClosureSubmitted):
            await apply_case_fact(session, outbox, data, province)
            return
        assert isinstance(data, ScreeningSubmitted)
        if await _case_of(session, province, data.submission_id) is not None:
            raise RuleViolations(
                [
                    Violation(
                        "submission_id", "unique-submission", "this submission was recorded before"
                    )
                ]
            )
        unit = await handlers.require_active_unit(session, data.unit_id)
        if unit["province_code"] != province:
            raise RuleViolations(
                [Violation("unit_id", "own-province", f"the unit is not in province {province}")]
            )
        identity = Identity()
        if data.identity_sealed:
            identity = Identity(
                **{
                    k: v
                    for k, v in open_identity(private_key, data.identity_sealed).items()
                    if k in Identity.__dataclass_fields__
                }
            )
        today = datetime.now(UTC).date()
        client_id, _ref, _new = await handlers.handle_register_client(
            session,
            keys,
            unit_id=data.unit_id,
            identity=identity,
            age_band=data.age_band,
            sex=data.sex,
            today=today,
            external_key=(
                f"{province}:{data.province_client_key}" if data.province_client_key else None
            ),
        )
        answers = assist.AssistAnswers(
            substances={
                s: assist.SubstanceAnswers(**a.model_dump()) for s, a in data.substances.items()
            },
            injection=data.injection,
        )
        case, _result, _refer_to = await handlers.handle_screen_client(
            session,
            outbox,
            client_id=client_id,
            unit_id=data.unit_id,
            answers=answers,
            agent_id=data.screener_agent_id,
            programme=data.programme,
            screened_at=data.screened_at,
            routing=settings.routing_for(province),
        )
        await session.execute(
            insert(submissions).values(
                province_code=province, submission_id=data.submission_id, case_id=case.case_id
            )
        )

    async def apply_case_fact(
        session: AsyncSession,
        outbox: Outbox,
        data: EnrolmentSubmitted | ClosureSubmitted,
        province: str,
    ) -> None:
        case_id = await _case_of(session, province, data.submission_id)
        if case_id is None:
            raise RuleViolations(
                [
                    Violation(
                        "submission_id",
                        "known-submission",
                        "no screening of this province has this id",
                    )
                ]
            )
        today = datetime.now(UTC).date()
        if isinstance(data, EnrolmentSubmitted):
            await handlers.handle_enrol(
                session,
                outbox,
                case_id,
                route=data.admission_route,
                source=data.aftercare_source,
                on=data.enrolled_on,
                today=today,
            )
        else:
            await handlers.handle_close(
                session,
                outbox,
                case_id,
                outcome=data.outcome,
                on=data.closed_on,
                referral_id=None,
                today=today,
            )

    return inbound.one_at_a_time(apply, _explain)


async def _case_of(session: AsyncSession, province: str, submission_id: str) -> str | None:
    found = await session.execute(
        select(submissions.c.case_id).where(
            submissions.c.province_code == province, submissions.c.submission_id == submission_id
        )
    )
    case_id = found.scalar()
    return str(case_id) if case_id is not None else None


def _explain(exc: Exception) -> list[Reason] | None:
    if isinstance(exc, CannotDecrypt):
        return [
            Reason(
                "identity_sealed",
                "sealed-to-client-case",
                "the identity block is not sealed to client-case's public key",
            )
        ]
    if isinstance(exc, handlers.NotFound):
        return [Reason(None, "exists", str(exc))]
    return None
