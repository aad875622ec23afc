"""Rebuilding the read model: replay the canonical topics from the start into the next
generation while the current one keeps serving, then switch in one transaction.

The rebuild reads every partition from offset 0 (no consumer group), projects with the same
code as the live projector, and stops once it has reached the end offsets it saw last; its
final transaction writes the last batch, its positions and the switch together. The live
projector then finds the generation changed and continues from the rebuild's positions. The
previous generation's rows are deleted afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import db
from services.reporting.projector import Projector, current_generation
from shared.messaging.broker import (
    PLAINTEXT,
    KafkaAuth,
    make_consumer,
    make_producer,
    partitions_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rebuilt:
    generation: int
    previous: int
    events: int
    seconds: float


async def rebuild(
    engine: AsyncEngine,
    bootstrap_servers: str,
    topics: list[str],
    *,
    dead_letter_topic: str,
    auth: KafkaAuth = PLAINTEXT,
    batch_size: int = 5000,
) -> Rebuilt:
    started = time.perf_counter()
    async with engine.begin() as connection:
        previous = await current_generation(connection)
        generation = previous + 1
        await _drop(connection, generation)  # leftovers of an interrupted rebuild
    consumer = make_consumer(
        bootstrap_servers,
        group_id=None,  # every partition, no group: the positions live in the read model
        client_id="reporting-rebuild",
        max_poll_records=batch_size,
        auth=auth,
        max_partition_fetch_bytes=8 * 1024 * 1024,  # replay: long runs of one partition
    )
    producer = make_producer(bootstrap_servers, client_id="reporting-rebuild", auth=auth)
    await consumer.start()
    await producer.start()
    events = 0
    try:
        partitions = [
            tp
            for topic in topics
            for tp in await partitions_of(bootstrap_servers, topic, auth=auth)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        projector = Projector(
            engine=engine,
            consumer=consumer,
            producer=producer,
            dead_letter_topic=dead_letter_topic,
            generation=generation,
            batch_size=batch_size,
        )

        async def caught_up() -> bool:
            # The consumer's position, not the last record's offset: it steps over markers.
            ends = await consumer.end_offsets(partitions)
            return all([await consumer.position(tp) >= ends[tp] for tp in partitions])

        events = await projector.pump(lambda: False, finished=caught_up, timeout_ms=100)
        async with engine.begin() as connection:
            # The switch: from this commit on, every reader and the live projector use it.
            await connection.execute(
                update(db.generations)
                .where(db.generations.c.id == 1)
                .values(current=generation, switched_at=datetime.now(UTC))
            )
    finally:
        await consumer.stop()
        await producer.stop()
    async with engine.begin() as connection:
        await _drop(connection, previous)
    seconds = time.perf_counter() - started
    log.info("read model generation %d built from %d events in %.1fs", generation, events, seconds)
    return Rebuilt(generation, previous, events, seconds)


async def _drop(connection: AsyncConnection, generation: int) -> None:
    for table in (*db.FACT_TABLES, db.positions):
        await connection.execute(delete(table).where(table.c.generation == generation))
