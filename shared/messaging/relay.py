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
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.persistence import is_postgres, session_factory
from shared.telemetry import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    RELAY_BATCH_SECONDS,
    context_from_mapping,
    inject_headers,
    tracer,
)

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
    ) -> None:
        self.service = service
        self.engine = engine
        self.sessions = session_factory(engine)
        self.table = table
        self.producer = producer
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.wakeup = asyncio.Event()
        self.lock_key = zlib.crc32(f"pulih.outbox.{service}".encode())

    def notify(self) -> None:
        """Tell the relay new rows were committed, so it need not wait for its next poll."""
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
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
                return 0
            deliveries = [await self._send(row) for row in rows]
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

    async def _our_turn(self, session: AsyncSession) -> bool:
        """Whether this relay may publish the next batch (PostgreSQL: the advisory lock, held
        until the batch's transaction ends; SQLite: one process owns the file)."""
        if not is_postgres(self.engine):
            return True
        locked = await session.execute(select(func.pg_try_advisory_xact_lock(self.lock_key)))
        return bool(locked.scalar_one())

    async def _send(self, row: Row[Any]) -> asyncio.Future[Any]:
        stored = [(str(name), str(value)) for name, value in row.headers]
        headers = [(name, value.encode()) for name, value in stored if name not in TRACE_HEADERS]
        writer = context_from_mapping({n: v for n, v in stored if n in TRACE_HEADERS})
        # The publish span continues the trace of the request that wrote the row, and the
        # message carries the publish span's context on to the consumer.
        span = (
            tracer().start_as_current_span(
                f"publish {row.topic}",
                context=writer,
                kind=SpanKind.PRODUCER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": row.topic},
            )
            if trace.get_current_span(writer).get_span_context().is_valid
            else nullcontext()
        )
        with span:
            headers += inject_headers()
            future: asyncio.Future[Any] = await self.producer.send(
                row.topic, value=row.value, key=row.key, headers=headers
            )
            return future


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
