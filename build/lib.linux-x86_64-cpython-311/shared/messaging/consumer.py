"""The consuming side: idempotent inbox, bounded retries, dead letters, commit after effect.

A partition's batch of canonical events is applied in one database transaction: the events'
ids are claimed in the inbox (a redelivered event finds its id already there and changes
nothing) and the service's batch handler applies the new events at once (set-based, in runs
of one type: `runs_of`), or its handler one at a time. When that fails, the batch is rolled
back and applied one event at a time, each retried with backoff a bounded number of times
(an infrastructure failure is not the event's fault: the consumer stalls and rewinds
instead); an invalid or rejected event is not retried. A failing event ends on the group's
dead-letter topic with the reason (no submitted value) and its original coordinates, and the
partition moves on. What provinces publish on their inbound topics is answered by
`inbound.InboundAnswerer` instead. Offsets are committed per partition after the batch's
effects are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry.trace import SpanKind
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope, InvalidEvent, from_kafka_lean
from shared.messaging.broker import Topics
from shared.messaging.dlq import send_to_dead_letter
from shared.messaging.failures import describe, is_infrastructure
from shared.messaging.inbound.answerer import InboundAnswerer
from shared.messaging.inbound.origin import inbound_origin
from shared.metrics import EVENTS_CONSUMED, HANDLER_FAILURES, forget_lag, observe_batch, record_lag
from shared.persistence import insert_ignoring_duplicates, session_factory
from shared.telemetry import batch_span, extract_context, redact, tracer

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]
"""Applies a partition's new events at once, in order (set-based); `Handler` one at a time."""


def runs_of(
    envelopes: Sequence[Envelope], together: Sequence[type[EventData]] = ()
) -> list[list[Envelope]]:
    """The batch cut where the event type changes: a run of one type can be applied at once
    and the runs in order, so every key keeps its order.

    `together`: types whose facts the handler may apply in another order than they came,
    as long as each type's keep theirs and the types come in the order given (each kind a
    row inserted if absent, a later kind needing at most an earlier one's: a unit before its
    agents; or a fact the handler ignores). A stretch of the batch holding only those types
    is one run of each: a registry's villages, each a unit, its agents and their trainings,
    are then a statement of units and one of agents, not two for every village."""
    runs: list[list[Envelope]] = []
    stretch: dict[type[EventData], list[Envelope]] = {}
    for envelope in envelopes:
        kind = type(envelope.data)
        if kind in together:
            stretch.setdefault(kind, []).append(envelope)
            continue
        runs += [stretch[k] for k in together if k in stretch]
        stretch.clear()
        if runs and runs[-1][0].type == envelope.type:
            runs[-1].append(envelope)
        else:
            runs.append([envelope])
    runs += [stretch[k] for k in together if k in stretch]
    return runs


APPLIED, DUPLICATE, DEAD_LETTERED, REFUSED = "applied", "duplicate", "dead_lettered", "refused"


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
        inbound: InboundAnswerer | None = None,
        batch_handler: BatchHandler | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.group = group
        self.on_commit = on_commit
        """Called once a poll's batches are committed, when any event was applied (e.g. to
        wake the outbox relay: a handler's own call would come before its commit)."""
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
        self.inbound = inbound
        self.batch_handler = batch_handler
        self.committed: dict[TopicPartition, int] = {}
        """The next offset of each partition whose batch this consumer committed (for lag)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until stopped. When the database itself fails (an outage, not a bad event),
        the batch is not committed: rewind to the committed offsets and try again later,
        rather than dead-letter every event that arrives while it is down."""
        backoff = 0.0
        while not stop.is_set():
            try:
                await self.poll_once()
                backoff = 0.0
            except Exception:
                backoff = min(max(backoff * 2, 0.5), 30.0)
                log.exception("consumer %s stalled; retrying in %.1fs", self.group, backoff)
                await self._rewind()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)

    async def _rewind(self) -> None:
        for partition in self.consumer.assignment():
            committed = await self.consumer.committed(partition)
            if committed is None:
                await self.consumer.seek_to_beginning(partition)
            else:
                self.consumer.seek(partition, committed)

    async def poll_once(self, timeout_ms: int = 500) -> Counter[str]:
        """Process one batch from every assigned partition, committing each partition's offset
        after its effects are stored; returns how many records had each outcome."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.batch_size)
        self._record_lag(batches)
        outcomes: Counter[str] = Counter()
        for partition, records in batches.items():
            started = time.perf_counter()
            if self.inbound is None:
                outcomes += await self.process_batch(records)
            else:
                provincial = [r for r in records if inbound_origin(r)]
                if provincial:
                    outcomes += await self.inbound.process(provincial)
                if len(provincial) < len(records):
                    outcomes += await self.process_batch(
                        [r for r in records if not inbound_origin(r)]
                    )
            await self._commit(partition, records[-1].offset + 1)
            kind = "inbound" if inbound_origin(records[0]) else "canonical"
            observe_batch(self.group, kind, started, records[0].timestamp)
            record_lag(
                self.group,
                partition.topic,
                partition.partition,
                self.consumer.highwater(partition),
                self.committed[partition],
            )
        await self._step_over_markers(batches)
        if outcomes[APPLIED]:
            self.on_commit()
        return outcomes

    async def _commit(self, partition: TopicPartition, after_last: int) -> None:
        """Commit the partition's position: past the last record taken, and past the
        transaction markers after it (so a group that has taken in everything reads no lag)."""
        position = max(after_last, await self.consumer.position(partition))
        await self.consumer.commit({partition: position})
        self.committed[partition] = position

    async def _step_over_markers(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Commit the partitions whose position moved with no record to take: a fetch that
        held only an outbox relay's commit marker."""
        for partition in self.consumer.assignment():
            if partition in batches:
                continue
            if partition not in self.committed:  # asked once per assignment
                self.committed[partition] = await self.consumer.committed(partition) or 0
            if await self.consumer.position(partition) > self.committed[partition]:
                await self._commit(partition, self.committed[partition])

    async def process_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> Counter[str]:
        """Apply a partition's batch in one transaction: claim every event id in the inbox with
        one statement, then run the handler for each newly claimed event. If any handler
        fails, the whole transaction rolls back and the batch is applied one event at a time,
        so only the failing event is retried and, in the end, dead-lettered."""
        outcomes: Counter[str] = Counter()
        valid: list[tuple[ConsumerRecord[bytes, bytes], Envelope]] = []
        for record in records:
            try:
                envelope = from_kafka_lean(record.headers or (), record.key, record.value)
                valid.append((record, replace(envelope, received_from=record.topic)))
            except InvalidEvent as exc:
                outcomes[self._count(record, await self._refuse(record, exc))] += 1
        if not valid:
            return outcomes
        batch_outcomes: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        failed: str | None = None
        try:
            async with self.sessions.begin() as session:
                claimed = await self._claim(session, valid)
                fresh: list[tuple[ConsumerRecord[bytes, bytes], Envelope]] = []
                for record, envelope in valid:
                    if envelope.id not in claimed:
                        batch_outcomes.append((record, DUPLICATE))
                        continue
                    claimed.discard(envelope.id)  # the same id twice in one batch: once
                    fresh.append((record, envelope))
                    batch_outcomes.append((record, APPLIED))
                if self.batch_handler is not None and fresh:
                    with batch_span([r for r, _ in fresh], self.group):
                        await self.batch_handler(session, [e for _, e in fresh])
                else:
                    for record, envelope in fresh:
                        failed = envelope.id
                        with self._span(record):
                            await self.handler(session, envelope)
                    failed = None
        except Exception as exc:  # noqa: BLE001 - applied one by one below
            if failed is not None:
                # The failure in the batch was that event's first attempt.
                HANDLER_FAILURES.labels(self.group, valid[0][0].topic).inc()
                log.warning("event %s failed in a batch: %s", failed, describe(exc))
            for record, envelope in valid:
                first = 2 if envelope.id == failed else 1
                outcome = await self.process(record, envelope, first_attempt=first)
                outcomes[self._count(record, outcome)] += 1
            return outcomes
        for record, outcome in batch_outcomes:
            outcomes[self._count(record, outcome)] += 1
        return outcomes

    async def process(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, *, first_attempt: int = 1
    ) -> str:
        """Apply one event in its own transaction, with bounded retries, else dead-letter it;
        returns the outcome: applied, duplicate or dead_lettered."""
        reason = "failed in its batch"
        for attempt in range(first_attempt, self.retry.max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry.backoff_seconds * 2 ** (attempt - 2))
            try:
                async with self.sessions.begin() as session:
                    if not await self._claim(session, [(record, envelope)]):
                        return DUPLICATE
                    with self._span(record):
                        if self.batch_handler is not None:
                            await self.batch_handler(session, [envelope])
                        else:
                            await self.handler(session, envelope)
                return APPLIED
            except Rejected as exc:
                await self.dead_letter(record, reason=f"rejected: {exc}", attempts=attempt)
                return DEAD_LETTERED
            except Exception as exc:
                if is_infrastructure(exc):
                    raise  # not this event's fault: the batch stays uncommitted (see `run`)
                HANDLER_FAILURES.labels(self.group, record.topic).inc()
                reason = describe(exc)
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
        await self.dead_letter(
            record, reason=f"failed after retries: {reason}", attempts=self.retry.max_attempts
        )
        return DEAD_LETTERED

    async def _refuse(self, record: ConsumerRecord[bytes, bytes], exc: InvalidEvent) -> str:
        """An invalid message on a canonical topic: its producer validated it, so this is a
        bug (ours, or a producer's): dead-lettered, never answered."""
        await self.dead_letter(record, reason=f"invalid event: {exc}", attempts=1)
        return DEAD_LETTERED

    async def _claim(
        self, session: AsyncSession, events: list[tuple[ConsumerRecord[bytes, bytes], Envelope]]
    ) -> set[str]:
        """Record the events' ids in the inbox; returns the ids that were not there before."""
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": envelope.id,
                "event_type": envelope.type,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "processed_at": now,
            }
            for record, envelope in events
        ]
        statement = insert_ignoring_duplicates(self.inbox, self.dialect).returning(
            self.inbox.c.event_id
        )
        # executemany with RETURNING ("insertmanyvalues"): one cached statement, few round trips
        return set((await session.execute(statement, rows)).scalars())

    def _span(self, record: ConsumerRecord[bytes, bytes]) -> AbstractContextManager[object]:
        """The consumer span of one event, continuing the producer's trace."""
        return tracer().start_as_current_span(
            f"process {record.topic}",
            context=extract_context(record.headers or ()),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.partition": record.partition,
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self.group,
            },
        )

    def _count(self, record: ConsumerRecord[bytes, bytes], outcome: str) -> str:
        EVENTS_CONSUMED.labels(self.group, record.topic, outcome).inc()
        return outcome

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, attempts: int
    ) -> None:
        await send_to_dead_letter(
            self.producer,
            self.topic_names.dead_letter(self.group),
            record,
            group=self.group,
            reason=reason,
            attempts=attempts,
        )

    def _record_lag(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Every assigned partition's lag after a fetch, before the batch is applied, so a
        consumer that stalls (an outage, a slow handler) shows its lag growing rather than the
        figure of its last success."""
        assigned = self.consumer.assignment()
        for partition in [p for p in self.committed if p not in assigned]:
            del self.committed[partition]  # another replica reports it now
            forget_lag(self.group, partition.topic, partition.partition)
        for partition in assigned:
            records = batches.get(partition)
            position = self.committed.get(partition, records[0].offset if records else None)
            if position is not None:
                record_lag(
                    self.group,
                    partition.topic,
                    partition.partition,
                    self.consumer.highwater(partition),
                    position,
                )
