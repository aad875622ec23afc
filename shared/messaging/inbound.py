"""Answering provinces: the path every service shares for facts published on the provinces'
inbound topics (`ibm.inbound.<province>`).

The owning service applies the fact in a savepoint: accepted, it is recorded and its canonical
event goes out with an `EventAccepted` receipt naming that event; refused, nothing of it stays
and an `EventRejected` receipt names every reason. A province speaks only for itself. Invalid
messages get their receipt from the service whose context their type names; messages that
name no context are answered by the service chosen as `answers_unknown` (the registry).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import TYPE_PREFIX, EventData
from shared.contracts.envelope import Envelope, InvalidEvent, Reason, header
from shared.contracts.platform import EventAccepted, EventRejected, receipts_topic
from shared.messaging.consumer import Handler, InvalidHandler
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations, Violation
from shared.runtime import Runtime

INBOUND_PATTERN = r"ibm\.inbound\.\d{2}"

Apply = Callable[[AsyncSession, Outbox, EventData, str], Awaitable[None]]
"""Apply one inbound fact for a province (its 2-digit code), staging canonical events."""
Explain = Callable[[Exception], list[Reason] | None]
"""Turn a refusal into reasons for the receipt; None: not a refusal, let it fail."""


class RecordingOutbox(Outbox):
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


def is_inbound(topic: str) -> bool:
    return ".ibm.inbound." in f".{topic}"


def rule_reasons(exc: Exception) -> list[Reason] | None:
    """The reasons of the refusals every domain raises."""
    if isinstance(exc, RuleViolations):
        return [Reason(v.field, v.rule, v.message) for v in exc.violations]
    return None


def inbound_handler(
    runtime: Runtime,
    *,
    owns: Callable[[EventData], bool],
    apply: Apply,
    explain: Explain = rule_reasons,
) -> Handler:
    outbox = runtime.outbox
    assert outbox is not None

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        topic = envelope.received_from or ""
        if not is_inbound(topic) or not owns(envelope.data):
            return  # canonical traffic, or another context's fact: its owner answers it
        province = province_of_topic(topic)
        reasons = _scope_reasons(envelope.data, province)
        recording = RecordingOutbox(outbox)
        if not reasons:
            try:
                async with session.begin_nested():  # a refusal leaves no partial change
                    await apply(session, recording, envelope.data, province)
            except Exception as exc:
                reasons = explain(exc) or rule_reasons(exc) or []
                if not reasons:
                    raise
        if reasons:
            await reject(session, outbox, province, envelope.id, envelope.type, reasons)
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


def invalid_inbound_handler(
    runtime: Runtime, *, context: str, answers_unknown: bool = False
) -> InvalidHandler:
    """Answers invalid inbound messages whose type names `context` (and, with
    `answers_unknown`, those whose type names no known context)."""
    outbox = runtime.outbox
    assert outbox is not None
    own_prefix = f"{TYPE_PREFIX}.{context}."

    async def handle(
        session: AsyncSession, record: ConsumerRecord[bytes, bytes], exc: InvalidEvent
    ) -> bool:
        if not is_inbound(record.topic):
            return False
        headers = list(record.headers or ())
        event_type = header(headers, "ce_type") or "unknown"
        unknown = not event_type.startswith(f"{TYPE_PREFIX}.") or any(
            r.rule == "known-type" for r in exc.reasons
        )
        if not (event_type.startswith(own_prefix) or (unknown and answers_unknown)):
            return True  # another service answers it
        original = header(headers, "ce_id") or f"{record.topic}:{record.partition}:{record.offset}"
        await reject(
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


async def reject(
    session: AsyncSession,
    outbox: Outbox,
    province: str,
    original_id: str,
    original_type: str,
    reasons: Sequence[Reason | Violation],
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
