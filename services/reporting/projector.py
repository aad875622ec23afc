"""The projector: canonical topics → fact rows, in batches, exactly once per read model.

Each `getmany` batch is decoded, folded (`projection.Batch`) and written in one transaction:
one multi-row upsert per fact table, and the Kafka positions the batch reached, compare-and-set
so that two replicas (or a rebalance) can never apply the same records twice. Positions live in
the database, not in the consumer group, because they belong to one generation of the read
model: a rebuild (`rebuild.py`) projects the next generation from offset 0 while the live one
keeps serving, then switches generations in its last transaction; the live projector notices
and continues the new generation from where the rebuild stopped.

It reads the provinces' receipts topics too (`ibm.receipts.<province>`): each `EventRejected`
becomes a `rejections` row in the same transaction, one statement per batch, keyed by the
province and the id it gave its message; `EventAccepted` receipts are stepped over (what was
accepted arrives as a canonical event).

Invalid records go to `ibm.reporting.dlq` with the reason and never block a partition.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind
from prometheus_client import Counter
from sqlalchemy import Table, TextClause, and_, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import db
from services.reporting.decoding import Decoded, decode
from services.reporting.generations import current_generation, load_positions
from services.reporting.projection.batch import Batch
from services.reporting.projection.rules import rejection_of
from services.reporting.suppressed_cubes import paused_gc
from services.reporting.upserts import (
    REJECTION_COLUMNS,
    REJECTIONS_UNNEST,
    keys_of,
    sqlite_upsert,
    upserts,
)
from shared.contracts.envelope import InvalidEvent
from shared.messaging.consumer import send_to_dead_letter
from shared.metrics import forget_lag, observe_batch, record_lag
from shared.telemetry import extract_context, tracer

log = logging.getLogger(__name__)

PROJECTED = Counter(
    "pulih_reporting_events_projected_total", "Events applied to the read model", ["topic"]
)
REFUSED = Counter(
    "pulih_reporting_events_dead_lettered_total", "Invalid events sent to the DLQ", ["topic"]
)


class PositionsMoved(Exception):
    """Another projector (or a rebuild's switch) moved the positions: reload and seek."""


@dataclass
class Prepared:
    """A batch decoded, ready to write (folded once the events already applied are known)."""

    events: dict[str, Decoded]
    """By event id: an event delivered twice in one batch is one event."""
    starts: dict[TopicPartition, int]
    """The first offset of each partition in the batch: the position it was built on."""
    reached: dict[TopicPartition, int]
    refused: list[tuple[ConsumerRecord[bytes, bytes], str]]
    applied: dict[str, int]
    traced: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    """Up to 128 records carrying a trace context: the batch's span continues the first and
    links the others."""
    batch: Batch = field(default_factory=Batch)
    """Every event of the batch folded, while the batch before is being written: `write`
    folds again only when some of them were applied before (a relay's redelivery)."""
    columns: dict[Table, dict[str, list[Any]]] = field(default_factory=dict)
    """PostgreSQL: each touched table's folded rows as column arrays (`generation` aside)."""


class Projector:
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
        self._upserts: dict[tuple[tuple[Table, ...], bool], TextClause] = {}
        self._shapes = {
            t: (dict.fromkeys(c.name for c in t.columns), keys_of(t)) for t in db.FACT_TABLES
        }

    # --- positions ---------------------------------------------------------------------------

    async def resume(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Seek every assigned partition to the read model's position (or the start)."""
        async with self.engine.begin() as connection:
            if self.fixed_generation is None:
                self.generation = await current_generation(connection)
            assert self.generation is not None
            self.positions = await load_positions(connection, self.generation)

        for tp in partitions or self.consumer.assignment():
            if tp in self.positions:
                self.consumer.seek(tp, self.positions[tp])
            else:
                await self.consumer.seek_to_beginning(tp)

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
                    records = await self._fetch(timeout_ms)
                    prepared = await self._prepare_in_slices(records) if records else None
                    if writing is not None:
                        total += await writing
                        writing = None
                    if prepared is not None:
                        writing = asyncio.create_task(
                            self._traced_write(records[0], len(records), prepared)
                        )
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

    async def _fetch(self, timeout_ms: int) -> list[ConsumerRecord[bytes, bytes]]:
        """Wait for records, then take what else is already fetched, up to a full batch: a
        few large transactions instead of many small ones."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        wait = timeout_ms
        while len(records) < self.batch_size:
            batches = await self.consumer.getmany(
                timeout_ms=wait, max_records=self.batch_size - len(records)
            )
            fetched = [r for part in batches.values() for r in part]
            self._record_lag()
            if not fetched:
                break
            records += fetched
            wait = 0
        return records

    def prepare(self, records: list[ConsumerRecord[bytes, bytes]]) -> Prepared:
        """Decode and fold (CPU only, no I/O)."""
        prepared = Prepared({}, {}, {}, [], {})
        self._decode(prepared, records)
        self._fold(prepared, list(prepared.events))
        return prepared

    async def _prepare_in_slices(self, records: list[ConsumerRecord[bytes, bytes]]) -> Prepared:
        """`prepare`, giving the event loop a turn every `SLICE` records, so that the batch
        being written meanwhile sends its next statement as soon as PostgreSQL has answered
        the last one, instead of after the whole batch is decoded."""
        prepared = Prepared({}, {}, {}, [], {})
        for start in range(0, len(records), SLICE):
            self._decode(prepared, records[start : start + SLICE])
            await asyncio.sleep(0)
        ids = list(prepared.events)
        prepared.batch, prepared.applied = Batch(), {}
        for start in range(0, len(ids), SLICE):
            self._fold_into(prepared, ids[start : start + SLICE])
            await asyncio.sleep(0)
        self._arrays(prepared)
        return prepared

    def _decode(self, prepared: Prepared, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        positions, starts, reached, events = (
            self.positions,
            prepared.starts,
            prepared.reached,
            prepared.events,
        )
        traced = prepared.traced
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if record.offset < positions.get(tp, 0):
                continue  # already in this read model
            if tp not in starts:
                starts[tp] = record.offset
            reached[tp] = record.offset + 1
            try:
                event = decode(record.topic, record.headers or (), record.value)
            except InvalidEvent as exc:
                prepared.refused.append((record, str(exc)))
                event = None
            if event is None:  # refused, or a receipt that feeds nothing: its trace counts
                if len(traced) < 128 and any(n == "traceparent" for n, _ in record.headers or ()):
                    traced.append(record)
                continue
            if event.event_id not in events:
                events[event.event_id] = event
            if event.traced and len(traced) < 128:
                traced.append(record)

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
                seen = await self._record_and_write_rows(connection, prepared)
                if seen:
                    self._fold(prepared, [i for i in prepared.events if i not in seen])
                    await self._write_rows(connection, prepared)
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

    def _fold(self, prepared: Prepared, event_ids: list[str]) -> None:
        """Fold these events of the batch (their facts made here, from the fields read) into
        `prepared.batch`, replacing what was folded before, and its rows into column arrays
        on PostgreSQL."""
        prepared.batch, prepared.applied = Batch(), {}
        self._fold_into(prepared, event_ids)
        self._arrays(prepared)

    @staticmethod
    def _fold_into(prepared: Prepared, event_ids: list[str]) -> None:
        batch, applied, events = prepared.batch, prepared.applied, prepared.events
        for event_id in event_ids:
            event = events[event_id]
            reading, fields = event.reading, event.fields
            if event.refusal:
                batch.reject(rejection_of(fields, event.received))
            else:
                batch.add(reading.facts(fields, event_id), reading.happened(fields), event.received)
            applied[event.topic] = applied.get(event.topic, 0) + 1

    def _arrays(self, prepared: Prepared) -> None:
        if self._postgres:
            prepared.columns = {
                table: self._columns(table, rows)
                for table, rows in prepared.batch.rows.items()
                if rows
            }

    async def _unseen(self, connection: AsyncConnection, event_ids: list[str]) -> list[str]:
        """SQLite: record the batch's event ids in this generation; return those not applied
        before (in the batch's order): a relay may deliver an event again at a new offset.
        (PostgreSQL does it in the statement of the upserts, `_record_and_write_rows`.)"""
        if not event_ids:
            return []
        e = db.projected_events
        new: set[str] = set()
        for start in range(0, len(event_ids), 5000):  # SQLite's limit on parameters
            chunk = event_ids[start : start + 5000]
            found = await connection.execute(
                sqlite.insert(e)
                .values([{"generation": self.generation, "event_id": i} for i in chunk])
                .on_conflict_do_nothing()
                .returning(e.c.event_id)
            )
            new.update(found.scalars())
        return [i for i in event_ids if i in new]

    def _columns(
        self, table: Table, rows: dict[tuple[str, ...], dict[str, Any]]
    ) -> dict[str, list[Any]]:
        """A table's folded rows as column arrays: the keys from the rows' natural keys, a
        column no fact of the batch knows all NULL (`generation` added when written)."""
        columns, keys = self._shapes[table]
        values = list(rows.values())
        arrays: dict[str, list[Any]] = {
            c: [row.get(c) for row in values]
            for c in columns
            if c not in keys and c != "generation"
        }
        for name, column in zip(keys, zip(*rows, strict=True), strict=True):
            arrays[name] = list(column)
        return arrays

    async def _write_rows(self, connection: AsyncConnection, prepared: Prepared) -> None:
        """Every fact table's rows: on PostgreSQL one statement for all of them, on SQLite
        one executemany per table."""
        if not self._postgres:
            for table, rows in prepared.batch.rows.items():
                columns, keys = self._shapes[table]
                if rows:
                    await connection.execute(
                        self._statements[table],
                        [
                            {
                                **columns,
                                **dict(zip(keys, key, strict=True)),
                                **row,
                                "generation": self.generation,
                            }
                            for key, row in rows.items()
                        ],
                    )
            return
        if prepared.columns:
            await connection.execute(self._upsert(prepared, False), self._arrays_of(prepared))

    async def _record_and_write_rows(
        self, connection: AsyncConnection, prepared: Prepared
    ) -> set[str]:
        """PostgreSQL: record the batch's event ids and, if none was applied before, write
        every fact table's rows, in one statement; returns the ids applied before."""
        parameters = self._arrays_of(prepared)
        parameters["generation"] = self.generation
        parameters["ids"] = list(prepared.events)
        found = await connection.execute(self._upsert(prepared, True), parameters)
        return set(found.scalar_one())

    def _upsert(self, prepared: Prepared, recording: bool) -> TextClause:
        key = (tuple(prepared.columns), recording)
        statement = self._upserts.get(key)
        if statement is None:
            statement = self._upserts[key] = upserts(key[0], recording=recording)
        return statement

    def _arrays_of(self, prepared: Prepared) -> dict[str, Any]:
        """The column arrays of every table, named `<table>__<column>`."""
        parameters: dict[str, Any] = {}
        for table, arrays in prepared.columns.items():
            count = len(next(iter(arrays.values())))
            for column, values in arrays.items():
                parameters[f"{table.name}__{column}"] = values
            parameters[f"{table.name}__generation"] = [self.generation] * count
        return parameters

    async def _write_rejections(
        self, connection: AsyncConnection, rows: list[dict[str, Any]]
    ) -> None:
        """The batch's refused submissions in one statement; one already counted (a receipt
        delivered again, the same message refused again) stays as it was."""
        if not rows:
            return
        if self.engine.dialect.name == "postgresql":
            await connection.execute(
                REJECTIONS_UNNEST,
                {
                    "generation": self.generation,
                    **{c: [r[c] for r in rows] for c in REJECTION_COLUMNS},
                },
            )
            return
        await connection.execute(
            sqlite.insert(db.rejections).on_conflict_do_nothing(),
            [{**r, "generation": self.generation} for r in rows],
        )

    async def _mark_changes(
        self, connection: AsyncConnection, touched: set[tuple[str, int]]
    ) -> None:
        """Bump the version of every (province, year) the batch touched, in its transaction,
        so every replica's background suppression recomputes those cubes and only those."""
        if not touched:
            return
        now = datetime.now(UTC)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(db.cube_changes)
        c = db.cube_changes.c
        # In key order: two replicas bumping the same rows lock them in the same order.
        rows = [
            {
                "generation": self.generation,
                "province_code": p,
                "year": y,
                "version": 1,
                "changed_at": now,
            }
            for p, y in sorted(touched)
        ]
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[c.generation, c.province_code, c.year],
                set_={"version": c.version + 1, "changed_at": statement.excluded.changed_at},
            ),
            rows,
        )

    async def _advance(
        self, connection: AsyncConnection, reached: dict[TopicPartition, int]
    ) -> None:
        """Compare-and-set each partition's position: fails when someone else moved it."""
        p = db.positions.c
        for tp, next_offset in reached.items():
            expected = self.positions.get(tp)
            if expected is None:
                try:
                    async with connection.begin_nested():
                        await connection.execute(
                            insert(db.positions).values(
                                generation=self.generation,
                                topic=tp.topic,
                                partition=tp.partition,
                                next_offset=next_offset,
                            )
                        )
                except IntegrityError:
                    raise PositionsMoved from None
                continue
            moved = await connection.execute(
                update(db.positions)
                .where(
                    and_(
                        p.generation == self.generation,
                        p.topic == tp.topic,
                        p.partition == tp.partition,
                        p.next_offset == expected,
                    )
                )
                .values(next_offset=next_offset)
            )
            if moved.rowcount != 1:
                raise PositionsMoved

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


SLICE = 500
"""Records decoded (or events folded) between two turns of the event loop."""

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
