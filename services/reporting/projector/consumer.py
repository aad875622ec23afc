"""The projector's consumer: the loop (fetch the next batch while the previous one is being
written), a batch's transaction, the dead letters, and the batch's span."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind
from prometheus_client import Counter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import copying, db
from services.reporting.generations import current_generation, load_positions
from services.reporting.projector.preparing import Prepared, Preparing
from services.reporting.projector.writing import PositionsMoved, Writing
from services.reporting.suppressed_cubes import paused_gc
from services.reporting.upserts import sqlite_upsert
from shared.messaging.dlq import send_to_dead_letter
from shared.metrics import forget_lag, observe_batch, record_lag
from shared.telemetry import extract_context, tracer

log = logging.getLogger(__name__)

PROJECTED = Counter(
    "pulih_reporting_events_projected_total", "Events applied to the read model", ["topic"]
)
REFUSED = Counter(
    "pulih_reporting_events_dead_lettered_total", "Invalid events sent to the DLQ", ["topic"]
)


class Projector(Preparing, Writing):
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer | None,
        dead_letter_topic: str,
        generation: int | None = None,
        batch_size: int = 5000,
    ) -> None:
        """`generation=None` follows the current generation (the live projector); a number
        writes that generation only (a rebuild)."""
        self.engine = engine
        self.consumer = consumer
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.fixed_generation = generation
        self.generation: int | None = generation
        self.group = "reporting" if generation is None else "reporting-rebuild"
        """The name its lag, spans and timings go by."""
        self._reported: set[TopicPartition] = set()
        self.positions: dict[TopicPartition, int] = {}
        self.batch_size = batch_size
        self._postgres = engine.dialect.name == "postgresql"
        self._statements = {t: sqlite_upsert(t) for t in db.FACT_TABLES}
        self._columns = {t: copying.columns_of(t) for t in db.FACT_TABLES}
        self._merging: set[Table] = set()
        self._unknown = {t: dict.fromkeys(c.name for c in t.columns) for t in db.FACT_TABLES}

    # --- positions ---------------------------------------------------------------------------

    async def resume(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Seek every assigned partition to the read model's position (or the start)."""
        async with self.engine.begin() as connection:
            if self.fixed_generation is None:
                self.generation = await current_generation(connection)
            assert self.generation is not None
            self.positions = await load_positions(connection, self.generation)

        for tp in partitions or self.consumer.assignment():
            # Offset 0 where the read model has no position: a log that retention has begun
            # later answers "out of range" and the consumer starts at its earliest record
            # (auto_offset_reset). Not `seek_to_beginning`, which waits for the fetcher: called
            # while partitions are assigned after a rejoin, it held the group's heartbeats for
            # its 40 s timeout (seen at national size).
            self.consumer.seek(tp, self.positions.get(tp, 0))

    def listener(self) -> ConsumerRebalanceListener:
        projector = self

        class SeekOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                pass

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await projector.resume(list(assigned))

        return SeekOnAssign()

    # --- the loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Project until stopped. A database or broker outage stalls it and it resumes from
        the stored positions; nothing is skipped."""
        stale = False
        while not stop.is_set():
            try:
                if stale:
                    await self.resume()
                    stale = False
                await self.pump(stop.is_set, finished=None)
            except PositionsMoved:
                log.info("read model positions moved (a rebuild switched, or a rebalance)")
                stale = True
            except Exception:
                log.exception("projection failed; resuming from the stored positions")
                stale = True
                await asyncio.sleep(1)

    async def pump(
        self,
        stop: Callable[[], bool],
        finished: Callable[[], Awaitable[bool]] | None,
        timeout_ms: int = 500,
    ) -> int:
        """Fetch and decode the next batch while the previous one is being written; return
        when `stop()` or, once nothing more arrives, when `finished()`. Returns the events
        applied.

        On a replay (`finished` given: a rebuild, in a process of its own) the cyclic
        garbage collector runs on a clock (every `COLLECT_EVERY_SECONDS`) instead of on
        allocations: every batch makes tens of thousands of objects that live until it is
        written, none of them in cycles (they go by reference counting), and the collector's
        passes over them, full ones included as they outlive the young generations, took as
        much CPU as decoding them. The live projector shares its process with requests,
        which a full pass every 10 s held up for a quarter of a second: there it runs as
        usual."""
        total = 0
        writing: asyncio.Task[int] | None = None
        collected = time.monotonic()
        try:
            with paused_gc() if finished is not None else nullcontext():
                while not stop():
                    prepared = Prepared()
                    records = await self._fetch(timeout_ms, prepared)
                    if writing is not None:
                        total += await writing
                        writing = None
                    if records:
                        writing = asyncio.create_task(
                            self._traced_write(records[0], len(records), prepared)
                        )
                        await asyncio.sleep(0)  # its first statement sent before the next fetch
                    elif finished is not None and await finished():
                        break
                    del records, prepared
                    if (
                        finished is not None
                        and time.monotonic() - collected >= COLLECT_EVERY_SECONDS
                    ):
                        gc.collect()
                        collected = time.monotonic()
                if writing is not None:
                    total += await writing
                    writing = None
        finally:
            if writing is not None:
                writing.cancel()
        return total

    async def _traced_write(
        self, first: ConsumerRecord[bytes, bytes], count: int, prepared: Prepared
    ) -> int:
        """`write`, as the consumer span of the batch (`first` its first record, `count` its
        records), timed for `pulih_batch_processing_seconds`."""
        started = time.perf_counter()
        with _batch_span(first, count, prepared.traced, self.group):
            written = await self.write(prepared)
        observe_batch(self.group, "projection", started, first.timestamp)
        return written

    def _record_lag(self) -> None:
        assigned = self.consumer.assignment()
        for tp in self._reported - assigned:  # a rebalance gave it to another replica
            forget_lag(self.group, tp.topic, tp.partition)
        self._reported = {tp for tp in assigned if tp in self.positions}
        for tp in assigned:
            if tp in self.positions:
                record_lag(
                    self.group,
                    tp.topic,
                    tp.partition,
                    self.consumer.highwater(tp),
                    self.positions[tp],
                )

    async def _fetch(
        self, timeout_ms: int, prepared: Prepared | None = None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Wait for records, then take what else is already fetched, up to a full batch: a
        few large transactions instead of many small ones. Each slice is decoded and folded
        into `prepared` as it is taken, while its records are fresh in the processor's
        caches."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        wait = timeout_ms
        while len(records) < self.batch_size:
            batches = await self.consumer.getmany(
                timeout_ms=wait, max_records=min(FETCH_SLICE, self.batch_size - len(records))
            )
            fetched = [r for part in batches.values() for r in part]
            self._record_lag()
            if not fetched:
                break
            records += fetched
            if prepared is not None:
                self._decode(prepared, fetched)
            wait = 0
            await asyncio.sleep(0)  # the batch being written answers PostgreSQL meanwhile
        return records

    async def write(self, prepared: Prepared) -> int:
        """One transaction: every table's rows, then the positions (compare-and-set)."""
        if not prepared.reached:
            return 0
        if any(start < self.positions.get(tp, 0) for tp, start in prepared.starts.items()):
            # Fetched again after a seek while the batch before it was being written.
            raise PositionsMoved
        for record, reason in prepared.refused:
            await self._dead_letter(record, reason)
        async with self.engine.begin() as connection:
            if (
                self.fixed_generation is None
                and await current_generation(connection) != self.generation
            ):
                raise PositionsMoved
            if self._postgres and prepared.events:
                seen = await self._record(connection, prepared)
                if seen:
                    self._fold(prepared, [i for i in prepared.events if i not in seen])
                await self._copy_rows(connection, prepared)
            else:
                unseen = await self._unseen(connection, list(prepared.events))
                if len(unseen) < len(prepared.events):
                    self._fold(prepared, unseen)
                await self._write_rows(connection, prepared)
            batch = prepared.batch
            await self._write_rejections(connection, list(batch.rejections.values()))
            await self._mark_changes(connection, batch.touched)
            await self._advance(connection, prepared.reached)
        self.positions.update(prepared.reached)
        for topic, n in prepared.applied.items():
            PROJECTED.labels(topic).inc(n)
        return batch.events

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        REFUSED.labels(record.topic).inc()
        if self.producer is None:
            raise RuntimeError("an invalid record and no producer for the dead-letter topic")
        await send_to_dead_letter(
            self.producer,
            self.dead_letter_topic,
            record,
            group="reporting",
            reason=reason,
            attempts=1,
        )


FETCH_SLICE = 500
"""Records taken from the consumer's buffer, decoded and folded between two turns of the event
loop: unpacking 5,000 at once (about 20 ms of CPU here, py-spy) held up the batch being
written meanwhile."""

COLLECT_EVERY_SECONDS = 10.0
"""How often a pumping projector runs the cyclic garbage collector (see `Projector.pump`)."""


def _batch_span(
    first: ConsumerRecord[bytes, bytes],
    count: int,
    traced: list[ConsumerRecord[bytes, bytes]],
    group: str,
) -> AbstractContextManager[object]:
    """`shared.telemetry.batch_span`'s consumer span for a projected batch, continuing the
    trace of the first record that carries one and linking the others (up to 128), found
    while decoding: looking for them in every record of a batch of thousands took a tenth
    of the projector's time when none carried one."""
    contexts = []
    for record in traced:
        span = trace.get_current_span(extract_context(record.headers or ())).get_span_context()
        if span.is_valid:
            contexts.append(span)
    return tracer().start_as_current_span(
        f"process {first.topic}",
        context=trace.set_span_in_context(NonRecordingSpan(contexts[0])) if contexts else None,
        kind=SpanKind.CONSUMER,
        links=[Link(c) for c in contexts[1:]],
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": first.topic,
            "messaging.kafka.partition": first.partition,
            "messaging.batch.message_count": count,
            "messaging.consumer.group.name": group,
        },
    )
