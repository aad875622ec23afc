"""What scheduling consumes: the registry's units and agents, client-case's cases, and the
provinces' attendance and activities on their inbound topics (answered with receipts)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, handlers, records
from services.scheduling.settings import Settings
from shared.contracts import client_case, registry
from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope, Reason
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted
from shared.messaging import inbound
from shared.messaging.consumer import Handler
from shared.messaging.inbound import ApplyBatch
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations, Violation
from shared.runtime import Runtime

CONSUMES = [registry.TOPIC, client_case.TOPIC]


def event_handler(runtime: Runtime) -> Handler:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.outbox is not None
    outbox = runtime.outbox
    templates = domain.load_templates(settings.plan_templates)

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        e = envelope.data
        if isinstance(e, registry.UnitFormed):
            await handlers.handle_unit_formed(session, e)
        elif isinstance(e, registry.UnitStatusChanged):
            await handlers.handle_unit_status_changed(session, e)
        elif isinstance(e, registry.RecoveryAgentAppointed):
            await handlers.handle_agent_appointed(session, e)
        elif isinstance(e, registry.RecoveryAgentDeactivated):
            await handlers.handle_agent_deactivated(session, e)
        elif isinstance(e, client_case.ClientScreened):
            await handlers.handle_client_screened(session, e)
        elif isinstance(e, client_case.ClientEnrolled):
            today = domain.local_today(datetime.now(UTC), e.province_code)
            await handlers.handle_client_enrolled(
                session, outbox, e, templates, today, settings.missed_after_days
            )
            runtime.notify_committed()
        elif isinstance(e, client_case.CaseClosed):
            await handlers.handle_case_closed(session, e)

    return handle


def inbound_facts(_runtime: Runtime) -> ApplyBatch:
    """Provinces' attendance (by the session ids of `CasePlanCreated`) and activities."""

    async def apply(session: AsyncSession, outbox: Outbox, data: EventData, province: str) -> None:
        def today_in(province_code: str) -> date:
            return domain.local_today(datetime.now(UTC), province_code)

        if isinstance(data, ActivitySubmitted):
            await records.record_activity(
                session,
                outbox,
                unit_id=data.unit_id,
                activity_type=data.activity_type,
                held_on=data.held_on,
                agent_ids=data.agent_ids,
                participants=data.participants,
                participants_female=data.participants_female,
                people_screened=data.people_screened,
                today_in=today_in,
                submission=(province, data.submission_id),
            )
            return
        assert isinstance(data, AttendanceSubmitted)
        row = await records.session_row(session, data.session_id)
        if row["unit_id"] != data.unit_id:
            raise RuleViolations(
                [Violation("session_id", "session-of-unit", "the session is another unit's")]
            )
        await records.complete_session(
            session,
            outbox,
            row,
            held_on=data.held_on,
            agent_id=data.agent_id,
            duration_minutes=data.duration_minutes,
            today=today_in(row["province_code"]),
        )

    return inbound.one_at_a_time(apply, _explain)


def _explain(exc: Exception) -> list[Reason] | None:
    if isinstance(exc, records.NotFound):
        return [Reason(None, "exists", str(exc))]
    return None
