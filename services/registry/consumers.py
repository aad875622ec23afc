"""Facts provincial systems publish on their inbound topics (`ibm.inbound.<province>`).

The registry takes the registry's event types: it checks that the sending province speaks
only for its own villages, applies the same use case as the API, and answers on the
province's receipts topic: `EventAccepted` naming the canonical event it became, or
`EventRejected` naming every broken rule. The registry also answers messages that are not
events of any context (no or unknown `ce_type`), so nothing a province sends goes unanswered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import handlers
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
)
from shared.contracts import registry as events
from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope, InvalidEvent, Reason, header
from shared.contracts.platform import EventAccepted, EventRejected, receipts_topic
from shared.messaging.consumer import Handler, InvalidHandler
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations, Violation
from shared.runtime import Runtime

INBOUND_PATTERN = r"ibm\.inbound\.\d{2}"
CONTEXT_PREFIX = "id.go.bnn.ibm.registry."
NOT_REPORTED = "not_reported"  # a province's UnitFormed carries no signatory


class _RecordingOutbox(Outbox):
    """The outbox, remembering the canonical events a use case staged (for the receipt)."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox.table, source=outbox.source, topics=outbox.topics)
        self.staged: list[Envelope] = []

    async def add_all(self, session: AsyncSession, items: Any, **kwargs: Any) -> list[Envelope]:
        added = await super().add_all(session, items, **kwargs)
        self.staged += added
        return added


def province_of_topic(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


Apply = Callable[[AsyncSession, Outbox, Any, Scope, date], Awaitable[object]]


async def _form(
    session: AsyncSession, outbox: Outbox, e: events.UnitFormed, scope: Scope, today: date
) -> object:
    return await handlers.handle_form_unit(
        session,
        outbox,
        FormUnit(
            unit_id=e.unit_id,
            village_code=e.village_code,
            name=e.unit_name,
            decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
            formed_on=e.formed_on,
            formation=e.formation,
            facilitating_office=e.facilitating_office,
        ),
        scope=scope,
        today=today,
    )


async def _status(
    session: AsyncSession, outbox: Outbox, e: events.UnitStatusChanged, scope: Scope, today: date
) -> object:
    return await handlers.handle_change_unit_status(
        session,
        outbox,
        ChangeUnitStatus(
            unit_id=e.unit_id, to_status=e.to_status, reason=e.reason, effective_on=e.effective_on
        ),
        scope=scope,
        today=today,
    )


async def _funding(
    session: AsyncSession, outbox: Outbox, e: events.UnitFundingRecorded, scope: Scope, today: date
) -> object:
    await handlers.handle_record_funding(
        session,
        outbox,
        RecordFunding(
            funding_id=e.funding_id,
            unit_id=e.unit_id,
            fiscal_year=e.fiscal_year,
            source=e.source,
            amount_idr=e.amount_idr,
        ),
        scope=scope,
        today=today,
    )
    return None


async def _appoint(
    session: AsyncSession,
    outbox: Outbox,
    e: events.RecoveryAgentAppointed,
    scope: Scope,
    today: date,
) -> object:
    return await handlers.handle_appoint_agent(
        session,
        outbox,
        AppointAgent(
            agent_id=e.agent_id,
            unit_id=e.unit_id,
            role=e.role,
            decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
            appointed_on=e.appointed_on,
        ),
        scope=scope,
        today=today,
    )


async def _train(
    session: AsyncSession, outbox: Outbox, e: events.RecoveryAgentTrained, scope: Scope, today: date
) -> object:
    return await handlers.handle_record_training(
        session,
        outbox,
        e.agent_id,
        Training(
            training_id=e.training_id,
            kind=e.training_kind,
            completed_on=e.completed_on,
            provider=e.trainer_office,
            certificate=None,
        ),
        scope=scope,
        today=today,
    )


async def _deactivate(
    session: AsyncSession,
    outbox: Outbox,
    e: events.RecoveryAgentDeactivated,
    scope: Scope,
    today: date,
) -> object:
    return await handlers.handle_deactivate_agent(
        session, outbox, e.agent_id, on=e.deactivated_on, reason=e.reason, scope=scope, today=today
    )


USE_CASES: dict[type[EventData], Apply] = {
    events.UnitFormed: _form,
    events.UnitStatusChanged: _status,
    events.UnitFundingRecorded: _funding,
    events.RecoveryAgentAppointed: _appoint,
    events.RecoveryAgentTrained: _train,
    events.RecoveryAgentDeactivated: _deactivate,
}


def inbound_handler(runtime: Runtime) -> Handler:
    assert runtime.outbox is not None
    outbox = runtime.outbox

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        topic = envelope.received_from or ""
        apply = USE_CASES.get(type(envelope.data))
        if apply is None or ".inbound." not in topic:
            return  # another context's event: its owning service answers it
        province = province_of_topic(topic)
        reasons = _scope_reasons(envelope.data, province)
        recording = _RecordingOutbox(outbox)
        if not reasons:
            try:
                async with session.begin_nested():  # a rejection leaves no partial change
                    await apply(
                        session,
                        recording,
                        envelope.data,
                        Scope.of_regions(province),
                        datetime.now(UTC).date(),
                    )
            except RuleViolations as exc:
                reasons = [Reason(v.field, v.rule, v.message) for v in exc.violations]
            except NotFound as exc:
                reasons = [Reason("unit_id", "exists", str(exc))]
            except Conflict as exc:
                reasons = [Reason(None, "current-version", str(exc))]
        if reasons:
            await _reject(session, outbox, province, envelope.id, envelope.type, reasons)
        else:
            await outbox.add(
                session,
                EventAccepted(
                    original_event_id=envelope.id,
                    original_type=envelope.type,
                    province_code=province,
                    canonical_event_id=recording.staged[0].id,
                    accepted_at=datetime.now(UTC),
                ),
                topic=receipts_topic(province),
            )
        runtime.notify_committed()

    return handle


def invalid_inbound_handler(runtime: Runtime) -> InvalidHandler:
    """Answers invalid messages on inbound topics whose type is the registry's or no one's."""
    assert runtime.outbox is not None
    outbox = runtime.outbox

    async def handle(
        session: AsyncSession, record: ConsumerRecord[bytes, bytes], exc: InvalidEvent
    ) -> bool:
        if ".inbound." not in record.topic:
            return False
        headers = list(record.headers or ())
        event_type = header(headers, "ce_type") or "unknown"
        known_context = event_type.startswith("id.go.bnn.ibm.") and not any(
            r.rule == "known-type" for r in exc.reasons
        )
        if known_context and not event_type.startswith(CONTEXT_PREFIX):
            return True  # another context's service answers its own events
        original = header(headers, "ce_id") or f"{record.topic}:{record.partition}:{record.offset}"
        await _reject(
            session,
            outbox,
            province_of_topic(record.topic),
            original[:512],
            event_type[:512],
            exc.reasons,
        )
        runtime.notify_committed()
        return True

    return handle


def _scope_reasons(data: EventData, province: str) -> list[Reason]:
    if getattr(data, "province_code", province) != province:
        return [
            Reason(
                "province_code",
                "own-province",
                f"the inbound topic of province {province} speaks only for it",
            )
        ]
    return []


async def _reject(
    session: AsyncSession,
    outbox: Outbox,
    province: str,
    original_id: str,
    original_type: str,
    reasons: list[Reason] | list[Violation],
) -> None:
    await outbox.add(
        session,
        EventRejected(
            original_event_id=original_id,
            original_type=original_type,
            province_code=province,
            reasons=[
                {"field": r.field, "rule": r.rule, "message": r.message[:2000]} for r in reasons
            ],
            rejected_at=datetime.now(UTC),
        ),
        topic=receipts_topic(province),
    )
