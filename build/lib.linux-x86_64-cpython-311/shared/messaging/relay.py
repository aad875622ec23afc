"""The outbox relay: publishes committed outbox rows in commit order, each exactly once.

One relay of a service leads at a time: on PostgreSQL the one holding the service's advisory
lock on a connection of its own (the others stand by and try again now and then); on SQLite
the one process that owns the file. The leader publishes each batch in a Kafka transaction,
together with a marker on `ibm.<service>.relayed` naming the batch's outbox rows, and then
marks the rows sent. Every reader reads committed records only, so a batch is seen whole or
not at all:

- a crash before the Kafka commit aborts the batch; its rows are still unsent and go again;
- a crash after the Kafka commit and before the rows are marked is repaired by the next
  leader, which reads the last marker and marks its rows sent instead of sending them again;
- a leader that lost its lock cannot commit again: the transactional id is the service's, so
  the new leader's producer fences the old one (and ends its open transaction at once).

Failures back off exponentially and never lose a row.

A row stays in the outbox `keep_sent_seconds` after it was published, then goes: Kafka keeps
the event, and the outbox neither grows with everything a service ever said nor keeps a copy
of it beyond its topics' retention (an erased person's events included). Rows are published
in id order, so what may go is every sent row up to an id: one range delete on the key. The
newest row always stays, so that SQLite never gives an id again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from collections import deque
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import ColumnElement, Row, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.messaging.broker import (
    PLAINTEXT,
    KafkaAuth,
    Topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, RELAY_BATCH_SECONDS
from shared.persistence import is_postgres, session_factory
from shared.telemetry import context_from_mapping, inject_headers, tracer

log = logging.getLogger(__name__)
TRACE_HEADERS = ("traceparent", "tracestate")
DELIVERY_SECONDS = 10.0
"""A batch not delivered in this time is given up (aborted, and sent again by the next lead)."""
RELAYED_TOPIC_CONFIG = {"cleanup.policy": "compact"}
"""The marker topic keeps the last marker (its key is the service's name)."""


def transactional_id(topics: Topics, service: str) -> str:
    """The service's relay's Kafka transactional id (its cluster user is granted it)."""
    return topics.name(f"pulih-relay-{service}")


@dataclass
class _Lead:
    """What the leading relay holds: the connection with the lock, the transactional producer."""

    connection: AsyncConnection
    producer: AIOKafkaProducer


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: Table,
        bootstrap_servers: str,
        topics: Topics | None = None,
        auth: KafkaAuth = PLAINTEXT,
        batch_size: int = 500,
        idle_seconds: float = 0.2,
        standby_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        measure_every_seconds: float = 5.0,
        keep_sent_seconds: float = 300.0,
    ) -> None:
        self.service = service
        self.engine = engine
        self.sessions = session_factory(engine)
        self.table = table
        self.bootstrap_servers = bootstrap_servers
        self.auth = auth
        topics = topics or Topics()
        self.marker_topic = topics.relayed(service)
        self.transactional_id = transactional_id(topics, service)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.standby_seconds = standby_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.measure_every_seconds = measure_every_seconds
        self._measured_at = float("-inf")
        self.keep_sent_seconds = keep_sent_seconds
        self._marked: deque[tuple[float, int]] = deque()
        """(when, the highest id) of each batch this relay marked sent, oldest first."""
        self.wakeup = asyncio.Event()
        self.lock_key = zlib.crc32(f"pulih.outbox.{service}".encode())
        self._lead: _Lead | None = None

    @property
    def leading(self) -> bool:
        return self._lead is not None

    def notify(self) -> None:
        """Tell the relay new rows were committed, so it need not wait for its next poll."""
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        try:
            while not stop.is_set():
                await self._measure_now_and_then()
                try:
                    published = await self.publish_batch()
                    backoff = 0.0
                except Exception:
                    backoff = min(max(backoff * 2, 0.1), self.max_backoff_seconds)
                    log.exception("outbox relay failed; retrying in %.1fs", backoff)
                    await _sleep_or_stop(stop, backoff)
                    continue
                if not self.leading:  # another replica's relay leads
                    await _sleep_or_stop(stop, self.standby_seconds)
                elif published < self.batch_size:
                    self.wakeup.clear()
                    await _sleep_or_stop(stop, self.idle_seconds, self.wakeup)
        finally:
            await self.close()

    async def publish_batch(self) -> int:
        """Publish up to one batch of pending rows, leading first if no relay does; returns
        how many were published (none while another relay leads)."""
        lead = self._lead or await self._take_lead()
        if lead is None:
            return 0
        try:
            return await self._publish(lead)
        except BaseException:
            await self.close()  # the next leader (this relay, after a pause) repairs
            raise

    async def close(self) -> None:
        """Stop leading: the producer stops, and the lock's connection is discarded (not
        handed back to the pool with the lock still held)."""
        lead, self._lead = self._lead, None
        if lead is None:
            return
        with contextlib.suppress(Exception):
            await lead.producer.stop()
        with contextlib.suppress(Exception):
            await lead.connection.invalidate()
        with contextlib.suppress(Exception):
            await lead.connection.close()

    async def _take_lead(self) -> _Lead | None:
        connection = await self.engine.connect()
        producer = None
        try:
            if is_postgres(self.engine):
                lock = select(func.pg_try_advisory_lock(self.lock_key))
                locked = bool((await connection.execute(lock)).scalar_one())
                await connection.commit()
                if not locked:
                    await connection.close()
                    return None
            await ensure_topics(  # a local broker; in clusters it is a KafkaTopic
                self.bootstrap_servers,
                {self.marker_topic: 1},
                auth=self.auth,
                configs={self.marker_topic: RELAYED_TOPIC_CONFIG},
            )
            producer = make_producer(
                self.bootstrap_servers,
                client_id=f"{self.service}-relay",
                auth=self.auth,
                transactional_id=self.transactional_id,
            )
            await producer.start()
            # Registering the id fences the last leader and ends its open transaction, so
            # the marker read next is the last one there will ever be from it.
            await producer.begin_transaction()
            await producer.abort_transaction()
            await self._repair(connection)
            await self._forget_sent_before_lead(connection)
        except BaseException:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()
            with contextlib.suppress(Exception):
                await connection.invalidate()
            raise
        self._lead = _Lead(connection, producer)
        log.info("outbox relay of %s leads", self.service)
        return self._lead

    async def _repair(self, connection: AsyncConnection) -> None:
        """Mark sent the rows of the last batch published, in case the last leader stopped
        between its Kafka commit and marking them."""
        ids = await self._last_marked()
        if not ids:
            return
        t = self.table
        async with connection.begin():
            repaired = await connection.execute(
                update(t)
                .where(t.c.id.in_(ids), t.c.sent_at.is_(None))
                .values(sent_at=datetime.now(UTC))
            )
        if repaired.rowcount:
            log.warning(
                "outbox relay of %s: %d rows were published but not marked sent; marked now",
                self.service,
                repaired.rowcount,
            )

    async def _forget_sent_before_lead(self, connection: AsyncConnection) -> None:
        """Delete the rows sent longer than `keep_sent_seconds` ago by an earlier leader (this
        relay's own are deleted by id as they come of age)."""
        t = self.table
        before = datetime.now(UTC) - timedelta(seconds=self.keep_sent_seconds)
        async with connection.begin():
            await connection.execute(delete(t).where(t.c.sent_at < before, _not_the_newest(t)))
        self._marked.clear()

    def _sent_up_to(self) -> int | None:
        """The highest id of the batches marked sent at least `keep_sent_seconds` ago."""
        horizon = time.monotonic() - self.keep_sent_seconds
        upto = None
        while self._marked and self._marked[0][0] <= horizon:
            upto = self._marked.popleft()[1]
        return upto

    async def _last_marked(self) -> list[int]:
        """The outbox ids in the last committed marker (none when there is none yet)."""
        partition = TopicPartition(self.marker_topic, 0)
        consumer = make_consumer(
            self.bootstrap_servers,
            group_id=None,
            client_id=f"{self.service}-relay-marker",
            auth=self.auth,
        )
        await consumer.start()
        try:
            consumer.assign([partition])
            end = (await consumer.end_offsets([partition]))[partition]
            back = 16  # aborted batches and commit markers also take offsets
            while end > 0:
                consumer.seek(partition, max(0, end - back))
                last = None
                while await consumer.position(partition) < end:
                    batch = await consumer.getmany(partition, timeout_ms=1000)
                    for record in batch.get(partition, []):
                        last = record
                if last is not None:
                    ids: list[int] = json.loads(last.value)["ids"]
                    return ids
                if back >= end:
                    return []
                back *= 16
            return []
        finally:
            await consumer.stop()

    async def _publish(self, lead: _Lead) -> int:
        started = time.perf_counter()
        t = self.table
        query = (
            select(t.c.id, t.c.topic, t.c.key, t.c.headers, t.c.value)
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.id)
            .limit(self.batch_size)
        )
        if (upto := self._sent_up_to()) is not None:
            # Its own short transaction: on SQLite a write holds the file's lock, and the
            # batch's below holds it from its first write to its commit.
            async with lead.connection.begin():
                await lead.connection.execute(
                    delete(t).where(t.c.id <= upto, t.c.sent_at.is_not(None), _not_the_newest(t))
                )
        async with lead.connection.begin():
            rows = (await lead.connection.execute(query)).all()
            if not rows:
                OUTBOX_BACKLOG.labels(self.service).set(0)
                OUTBOX_OLDEST_AGE.labels(self.service).set(0)
                return 0
            ids = [row.id for row in rows]
            producer = lead.producer
            for topic in {row.topic for row in rows} | {self.marker_topic}:
                # Tracked by the producer's metadata: aiokafka tracks only the topics it had to
                # look up, and once it tracks any it refreshes only those, so a topic that was
                # in its first metadata (never looked up) dropped out and its sends waited out
                # the request timeout for a leader (seen under `make bench`).
                await producer.client.add_topic(topic)
            await producer.begin_transaction()
            deliveries = [
                d for group in _by_writer(rows) for d in await self._send(producer, group)
            ]
            marker = json.dumps({"ids": ids}).encode()
            deliveries.append(
                await producer.send(self.marker_topic, value=marker, key=self.service.encode())
            )
            await asyncio.wait_for(asyncio.gather(*deliveries), DELIVERY_SECONDS)
            await producer.commit_transaction()
            await lead.connection.execute(
                update(t).where(t.c.id.in_(ids)).values(sent_at=datetime.now(UTC))
            )
        self._marked.append((time.monotonic(), ids[-1]))
        for row in rows:
            EVENTS_PUBLISHED.labels(self.service, row.topic).inc()
        RELAY_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(rows)

    async def measure(self) -> tuple[int, float]:
        """The backlog (rows not yet published) and the age in seconds of its oldest row, also
        set on the gauges. Measured apart from publishing, so that when Kafka is down the
        figures keep growing for the alerts instead of freezing at the last success."""
        t = self.table
        async with self.sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
                )
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=UTC)
            age = max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        return int(count), age

    async def _measure_now_and_then(self) -> None:
        if time.monotonic() - self._measured_at < self.measure_every_seconds:
            return
        self._measured_at = time.monotonic()
        try:
            await self.measure()
        except Exception:  # the database is down: readiness reports that, not this
            log.warning("could not measure the outbox backlog", exc_info=True)

    async def _send(
        self, producer: AIOKafkaProducer, rows: list[tuple[Row[Any], Headers]]
    ) -> list[asyncio.Future[Any]]:
        """Send rows written under one trace context. One publish span continues the writer's
        trace (a request, or a consumer's batch) and every message carries the span's context
        on to its consumers; a span per message cost a fifth of the relay's time."""
        writer = context_from_mapping({n: v for n, v in rows[0][0].headers if n in TRACE_HEADERS})
        span = (
            tracer().start_as_current_span(
                f"publish {rows[0][0].topic}",
                context=writer,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": rows[0][0].topic,
                    "messaging.batch.message_count": len(rows),
                },
            )
            if trace.get_current_span(writer).get_span_context().is_valid
            else nullcontext()
        )
        with span:
            carried = inject_headers()
            return [
                await producer.send(
                    row.topic, value=row.value, key=row.key, headers=headers + carried
                )
                for row, headers in rows
            ]


Headers = list[tuple[str, bytes]]


def _not_the_newest(t: Table) -> ColumnElement[bool]:
    """Spares the row with the highest id: SQLite gives a new row the highest id + 1 (1 in an
    empty table), and an id used again could be in the last marker, whose rows the next
    leader marks sent without sending them."""
    return t.c.id < select(func.max(t.c.id)).scalar_subquery()


def _by_writer(rows: Sequence[Row[Any]]) -> list[list[tuple[Row[Any], Headers]]]:
    """Consecutive rows staged under the same trace context, each with its own headers."""
    groups: list[list[tuple[Row[Any], Headers]]] = []
    previous: object = None
    for row in rows:
        headers: Headers = []
        parent = []
        for name, value in row.headers:
            if name in TRACE_HEADERS:
                parent.append(value)
            else:
                headers.append((name, str(value).encode()))
        if not groups or parent != previous:
            groups.append([])
            previous = parent
        groups[-1].append((row, headers))
    return groups


async def _sleep_or_stop(
    stop: asyncio.Event, seconds: float, wakeup: asyncio.Event | None = None
) -> None:
    waiters = [asyncio.create_task(stop.wait())]
    if wakeup is not None:
        waiters.append(asyncio.create_task(wakeup.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
