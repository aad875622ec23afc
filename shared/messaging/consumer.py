"""The consuming side: idempotent inbox, bounded retries, dead letters, commit after effect.

For every record: parse and validate the envelope, then in ONE database transaction record the
event id in the inbox and apply the handler. A redelivered event finds its id already there
and changes nothing. A failing handler is retried with backoff a bounded number of times; an
invalid message or a rejected one is not retried. Either way it then goes to the group's
dead-letter topic with the reason and its original coordinates, and the partition moves on.
Offsets are committed per partition after the batch's effects are stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry.trace import SpanKind
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts.envelope import Envelope, InvalidEvent, from_kafka
from shared.messaging.broker import Topics
from shared.persistence import insert_ignoring_duplicates, session_factory
from shared.telemetry import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    HANDLER_FAILURES,
    extract_context,
    redact,
    tracer,
)

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

DLQ_HEADERS = (
    "dlq_reason",
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_group",
    "dlq_attempts",
    "dlq_failed_at",
)


class Rejected(Exception):
    """Raised by a handler for an event that can never be applied (a broken reference, a
    province speaking outside its scope). Not retried: dead-lettered with this reason."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_seconds: float = 0.2


class EventConsumer:
    def __init__(
        self,
        *,
        group: str,
        topics: list[str],
        handler: Handler,
        engine: AsyncEngine,
        inbox: Table,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        topic_names: Topics,
        retry: RetryPolicy | None = None,
        batch_size: int = 500,
    ) -> None:
        self.group = group
        self.topics = topics
        self.handler = handler
        self.engine = engine
        self.sessions = session_factory(engine)
        self.inbox = inbox
        self.consumer = consumer
        self.producer = producer
        self.topic_names = topic_names
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.dialect = engine.dialect.name

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll_once()

    async def poll_once(self, timeout_ms: int = 500) -> int:
        """Process one batch from every assigned partition; returns the records handled."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.batch_size)
        handled = 0
        for partition, records in batches.items():
            for record in records:
                await self.process(record)
            await self.consumer.commit({partition: records[-1].offset + 1})
            handled += len(records)
            self._record_lag(partition, records[-1].offset)
        return handled

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> str:
        """Apply one record; returns the outcome: applied, duplicate or dead_lettered."""
        headers = list(record.headers or ())
        with tracer().start_as_current_span(
            f"process {record.topic}",
            context=extract_context(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.partition": record.partition,
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self.group,
            },
        ):
            outcome = await self._apply_with_retries(record)
        EVENTS_CONSUMED.labels(self.group, record.topic, outcome).inc()
        return outcome

    async def _apply_with_retries(self, record: ConsumerRecord[bytes, bytes]) -> str:
        try:
            envelope = from_kafka(record.headers or (), record.key, record.value)
        except InvalidEvent as exc:
            await self.dead_letter(record, reason=f"invalid event: {exc}", attempts=1)
            return "dead_lettered"
        reason = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self._apply(envelope, record)
            except Rejected as exc:
                await self.dead_letter(record, reason=f"rejected: {exc}", attempts=attempt)
                return "dead_lettered"
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
                HANDLER_FAILURES.labels(self.group, record.topic).inc()
                reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "attempt %d/%d failed for event %s at %s[%d]@%d: %s",
                    attempt,
                    self.retry.max_attempts,
                    envelope.id,
                    record.topic,
                    record.partition,
                    record.offset,
                    redact(reason)[:500],
                )
                if attempt < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.backoff_seconds * 2 ** (attempt - 1))
        await self.dead_letter(
            record, reason=f"failed after retries: {reason}", attempts=self.retry.max_attempts
        )
        return "dead_lettered"

    async def _apply(self, envelope: Envelope, record: ConsumerRecord[bytes, bytes]) -> str:
        async with self.sessions.begin() as session:
            first_time = await session.execute(
                insert_ignoring_duplicates(self.inbox, self.dialect).values(
                    event_id=envelope.id,
                    event_type=envelope.type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    processed_at=datetime.now(UTC),
                )
            )
            if first_time.rowcount == 0:  # type: ignore[attr-defined]
                return "duplicate"
            await self.handler(session, envelope)
        return "applied"

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, attempts: int
    ) -> None:
        original = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
        coordinates = {
            "dlq_reason": redact(reason)[:2000],
            "dlq_original_topic": record.topic,
            "dlq_original_partition": str(record.partition),
            "dlq_original_offset": str(record.offset),
            "dlq_group": self.group,
            "dlq_attempts": str(attempts),
            "dlq_failed_at": datetime.now(UTC).isoformat(),
        }
        await self.producer.send_and_wait(
            self.topic_names.dead_letter(self.group),
            value=record.value,
            key=record.key,
            headers=original + [(k, v.encode()) for k, v in coordinates.items()],
        )
        log.error(
            "dead-lettered %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            coordinates["dlq_reason"][:500],
        )

    def _record_lag(self, partition: TopicPartition, last_offset: int) -> None:
        end = self.consumer.highwater(partition)
        if end is not None:
            CONSUMER_LAG.labels(self.group, partition.topic, str(partition.partition)).set(
                max(end - last_offset - 1, 0)
            )
