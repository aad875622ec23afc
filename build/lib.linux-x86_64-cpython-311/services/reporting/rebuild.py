"""Rebuilding the read model: replay the canonical topics from the start into the next
generation while the current one keeps serving, then switch in one transaction.

The rebuild reads every partition from offset 0 (no consumer group), projects with the same
code as the live projector (each batch with its positions, in one transaction), and stops
once it has reached the end offsets it saw last. The switch is then a transaction of its own.
The live projector finds the generation changed and continues from the rebuild's positions, so
what arrived after the rebuild's last batch is projected into the new generation then. The
previous generation's rows are deleted afterwards.

Refused submissions (`rejections`) come from the provinces' receipts topics, which keep their
records for a limited time (30 days in the cluster): the new generation starts with the
current one's, so a month older than that keeps its count, and the receipts still on the topics
(given in `topics`) are projected again and, being the same submissions, change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import TopicPartition
from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import db
from services.reporting.generations import current_generation
from services.reporting.projector.consumer import Projector
from shared.messaging.broker import (
    PLAINTEXT,
    KafkaAuth,
    make_consumer,
    make_producer,
    partitions_of,
)
from shared.persistence import create_engine, refresh_statistics

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
    workers: int = 1,
) -> Rebuilt:
    """Project every partition of `topics` into the next generation, then switch to it.
    With `workers` > 1 (PostgreSQL), the partitions are shared out over that many processes:
    a partition's rows (one key, one partition) are written by one process only."""
    started = time.perf_counter()
    async with engine.begin() as connection:
        previous = await current_generation(connection)
        generation = previous + 1
        await _drop(connection, generation)  # leftovers of an interrupted rebuild
        await _carry_rejections(connection, previous, generation)
    partitions = [
        tp for topic in topics for tp in await partitions_of(bootstrap_servers, topic, auth=auth)
    ]
    job = Job(bootstrap_servers, dead_letter_topic, auth, batch_size, generation)
    if workers <= 1 or engine.dialect.name != "postgresql":
        events = await project_in_lanes(engine, job, partitions)
    else:
        url = engine.url.render_as_string(hide_password=False)
        shares = [
            [(tp.topic, tp.partition) for tp in partitions[n::workers]] for n in range(workers)
        ]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = await asyncio.gather(
                *(loop.run_in_executor(pool, _worker, url, job, share) for share in shares if share)
            )
        events = sum(done)
    async with engine.begin() as connection:
        # The switch: from this commit on, every reader and the live projector use it.
        await connection.execute(
            update(db.generations)
            .where(db.generations.c.id == 1)
            .values(current=generation, switched_at=datetime.now(UTC))
        )
    async with engine.begin() as connection:
        await _drop(connection, previous)
    await refresh_statistics(engine)  # the new generation's tables, for the first readers
    seconds = time.perf_counter() - started
    log.info("read model generation %d built from %d events in %.1fs", generation, events, seconds)
    return Rebuilt(generation, previous, events, seconds)


@dataclass(frozen=True)
class Job:
    bootstrap_servers: str
    dead_letter_topic: str
    auth: KafkaAuth
    batch_size: int
    generation: int


LANES = 2
"""PostgreSQL: a rebuilding process projects its partitions as this many lanes, each with its
own consumer and connection, so that PostgreSQL writes one lane's batch while the others are
fetched, decoded and folded, and two at once (one process on 2 cores: about 20 % more events
a second than one lane). A partition's rows are written by one lane only, as by one worker
process. Worker processes (`--workers`) keep one lane each: two processes of two lanes were
slower on 2 cores than two of one. SQLite has one writer: one lane."""


async def project_in_lanes(engine: AsyncEngine, job: Job, partitions: list[TopicPartition]) -> int:
    """`project_partitions` over `LANES` shares of the partitions at once; the events applied."""
    lanes = LANES if engine.dialect.name == "postgresql" else 1
    shares = [partitions[n::lanes] for n in range(lanes)]
    done = await asyncio.gather(*(project_partitions(engine, job, s) for s in shares if s))
    return sum(done)


async def project_partitions(
    engine: AsyncEngine, job: Job, partitions: list[TopicPartition]
) -> int:
    """Project `partitions` from offset 0 into the job's generation until they are caught up
    with the end offsets; returns the events applied."""
    consumer = make_consumer(
        job.bootstrap_servers,
        group_id=None,  # assigned, no group: the positions live in the read model
        client_id="reporting-rebuild",
        max_poll_records=job.batch_size,
        auth=job.auth,
        max_partition_fetch_bytes=8 * 1024 * 1024,  # replay: long runs of one partition
    )
    producer = make_producer(job.bootstrap_servers, client_id="reporting-rebuild", auth=job.auth)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        projector = Projector(
            engine=engine,
            consumer=consumer,
            producer=producer,
            dead_letter_topic=job.dead_letter_topic,
            generation=job.generation,
            batch_size=job.batch_size,
        )

        async def caught_up() -> bool:
            # The consumer's position, not the last record's offset: it steps over markers.
            ends = await consumer.end_offsets(partitions)
            return all([await consumer.position(tp) >= ends[tp] for tp in partitions])

        return await projector.pump(lambda: False, finished=caught_up, timeout_ms=100)
    finally:
        await consumer.stop()
        await producer.stop()


def _worker(url: str, job: Job, share: list[tuple[str, int]]) -> int:
    """One worker process of a parallel rebuild."""

    async def run() -> int:
        engine = create_engine(url)
        try:
            return await project_partitions(
                engine, job, [TopicPartition(topic, p) for topic, p in share]
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _carry_rejections(connection: AsyncConnection, previous: int, generation: int) -> None:
    """The current generation's refused submissions into the next, in one statement: the
    receipts topics may no longer hold the oldest of them."""
    r = db.rejections.c
    columns = [c.name for c in db.rejections.columns if c.name != "generation"]
    await connection.execute(
        insert(db.rejections).from_select(
            ["generation", *columns],
            select(literal(generation), *(r[c] for c in columns)).where(r.generation == previous),
        )
    )


async def _drop(connection: AsyncConnection, generation: int) -> None:
    tables = (*db.FACT_TABLES, db.rejections, db.positions, db.projected_events, db.cube_changes)
    for table in tables:
        await connection.execute(delete(table).where(table.c.generation == generation))
