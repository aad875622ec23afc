"""A minimal service for messaging tests: its own tables (outbox, inbox, and an `applied`
table that records each effect in the order it happened) and helpers around the real clients."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope
from shared.contracts.scheduling import SessionCompleted
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from shared.messaging.consumer import BatchHandler, EventConsumer, Handler, RetryPolicy
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import BigId, platform_tables
from shared.persistence import create_engine
from tests.unit.contracts.examples import example_events

metadata = MetaData()
platform = platform_tables(metadata)
applied = Table(
    "applied",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("subject", String(64), nullable=False),
)
TOPIC = SessionCompleted.topic
GROUP = "harness"


def session_completed(case_id: str) -> EventData:
    template = next(e for e in example_events() if isinstance(e, SessionCompleted))
    return template.model_copy(update={"case_id": case_id, "session_id": uuid.uuid4().hex})


async def prepared_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine


async def record_effect(session: AsyncSession, envelope: Envelope) -> None:
    await session.execute(insert(applied).values(event_id=envelope.id, subject=envelope.subject))


def outbox(topics: Topics) -> Outbox:
    return Outbox(platform.outbox, source="/pulih/harness", topics=topics)


async def write_events(
    engine: AsyncEngine, topics: Topics, *, count: int, keys: int, per_transaction: int = 100
) -> list[Envelope]:
    """Commit `count` events over `keys` cases, `per_transaction` per transaction."""
    box = outbox(topics)
    written: list[Envelope] = []
    async with engine.connect() as connection:
        for start in range(0, count, per_transaction):
            async with AsyncSession(connection) as session, session.begin():
                batch = [
                    session_completed(f"case-{i % keys:04d}-{topics.prefix.strip('.')[-8:]}")
                    for i in range(start, min(start + per_transaction, count))
                ]
                written += await box.add_all(session, batch)
    return written


async def count(engine: AsyncEngine, table: Table, *where: object) -> int:
    async with engine.connect() as connection:
        stmt = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        return int((await connection.execute(stmt)).scalar_one())


@dataclass
class Clients:
    relay: OutboxRelay
    consumer: EventConsumer

    async def close(self) -> None:
        await self.consumer.consumer.stop()
        await self.relay.close()
        await self.consumer.producer.stop()


async def start_clients(
    engine: AsyncEngine,
    bootstrap: str,
    topics: Topics,
    *,
    handler: Handler = record_effect,
    batch_handler: BatchHandler | None = None,
    max_attempts: int = 3,
    batch_size: int = 500,
    on_commit: Callable[[], None] = lambda: None,
) -> Clients:
    consumed = [topics.name(TOPIC), topics.redrive(GROUP)]
    await ensure_topics(bootstrap, {**dict.fromkeys(consumed, 3), topics.dead_letter(GROUP): 1})
    producer = make_producer(bootstrap, client_id="harness")
    await producer.start()
    kafka_consumer = make_consumer(
        bootstrap, *consumed, group_id=f"{GROUP}-{topics.prefix}", client_id="harness"
    )
    await kafka_consumer.start()
    relay = OutboxRelay(
        service=GROUP,
        engine=engine,
        table=platform.outbox,
        bootstrap_servers=bootstrap,
        topics=topics,
        batch_size=batch_size,
    )
    consumer = EventConsumer(
        group=GROUP,
        topics=consumed,
        handler=handler,
        engine=engine,
        inbox=platform.inbox,
        consumer=kafka_consumer,
        producer=producer,
        topic_names=topics,
        retry=RetryPolicy(max_attempts=max_attempts, backoff_seconds=0.01),
        batch_handler=batch_handler,
        on_commit=on_commit,
    )
    return Clients(relay, consumer)


async def drain_relay(relay: OutboxRelay) -> int:
    total = 0
    while published := await relay.publish_batch():
        total += published
    return total


async def consume_until(
    consumer: EventConsumer,
    done: Callable[[], object],
    *,
    seconds: float = 60,
    outcomes: Counter[str] | None = None,
) -> None:
    """Poll (committing after each batch) until `done()` is truthy, or fail at the deadline;
    adds each batch's outcomes to `outcomes` when given."""
    async with asyncio.timeout(seconds):
        while True:
            polled = await consumer.poll_once(timeout_ms=200)
            if outcomes is not None:
                outcomes.update(polled)
            result = done()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
