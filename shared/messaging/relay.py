"""The outbox relay: publishes committed outbox rows in commit order, then marks them sent.

At-least-once by construction: a crash after publishing and before marking sends the rows
again on restart, and consumers' inboxes absorb the duplicates. Every replica of a service
runs a relay; on PostgreSQL a transaction-scoped advisory lock lets one batch at a time be
published, so the replicas never overtake each other and per-key order holds. Failures back
off exponentially and never lose a row.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, RELAY_BATCH_SECONDS
from shared.persistence import is_postgres, session_factory
from shared.telemetry import context_from_mapping, inject_headers, tracer

log = logging.getLogger(__name__)
TRACE_HEADERS = ("traceparent", "tracestate")


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: Table,
        producer: AIOKafkaProducer,
        batch_size: int = 500,
        idle_seconds: float = 0.2,
        max_backoff_seconds: float = 30.0,
        measure_every_seconds: float = 5.0,
    ) -> None:
        self.service = service
        self.engine = engine
        self.sessions = session_factory(engine)
        self.table = table
        self.producer = producer
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.measure_every_seconds = measure_every_seconds
        self._measured_at = float("-inf")
        self.wakeup = asyncio.Event()
        self.lock_key = zlib.crc32(f"pulih.outbox.{service}".encode())

    def notify(self) -> None:
        """Tell the relay new rows were committed, so it need not wait for its next poll."""
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
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
            if published < self.batch_size:
                self.wakeup.clear()
                await _sleep_or_stop(stop, self.idle_seconds, self.wakeup)

    async def publish_batch(self) -> int:
        """Publish up to one batch of pending rows; returns how many were published."""
        started = time.perf_counter()
        t = self.table
        query = (
            select(t.c.id, t.c.topic, t.c.key, t.c.headers, t.c.value)
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.id)
            .limit(self.batch_size)
        )
        async with self.sessions.begin() as session:
            if not await self._our_turn(session):
                return 0  # another replica's relay is publishing a batch right now
            rows = (await session.execute(query)).all()
            if not rows:
                OUTBOX_BACKLOG.labels(self.service).set(0)
                OUTBOX_OLDEST_AGE.labels(self.service).set(0)
                return 0
            deliveries = [d for group in _by_writer(rows) for d in await self._send(group)]
            await asyncio.gather(*deliveries)
            await session.execute(
                update(t)
                .where(t.c.id.in_([row.id for row in rows]))
                .values(sent_at=datetime.now(UTC))
            )
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

    async def _our_turn(self, session: AsyncSession) -> bool:
        """Whether this relay may publish the next batch (PostgreSQL: the advisory lock, held
        until the batch's transaction ends; SQLite: one process owns the file)."""
        if not is_postgres(self.engine):
            return True
        locked = await session.execute(select(func.pg_try_advisory_xact_lock(self.lock_key)))
        return bool(locked.scalar_one())

    async def _send(self, rows: list[tuple[Row[Any], Headers]]) -> list[asyncio.Future[Any]]:
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
                await self.producer.send(
                    row.topic, value=row.value, key=row.key, headers=headers + carried
                )
                for row, headers in rows
            ]


Headers = list[tuple[str, bytes]]


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
