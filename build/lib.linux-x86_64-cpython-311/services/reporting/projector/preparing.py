"""A batch's records made ready to write: decoded, folded per row (`projection.batch.Batch`),
and on PostgreSQL each table's rows encoded as JSON. CPU only, no I/O."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import msgspec
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import Table

from services.reporting.decoding import Decoded, decode
from services.reporting.projection.batch import Batch
from services.reporting.projection.rules import rejection_of
from shared.contracts.envelope import InvalidEvent


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
    rows: dict[Table, str] = field(default_factory=dict)
    """PostgreSQL: each touched table's folded rows as one JSON array of objects."""


class Preparing:
    """The projector's half that prepares a batch (`Projector` is the consumer)."""

    positions: dict[TopicPartition, int]
    _postgres: bool

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
        self._encode(prepared)
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

    def _fold(self, prepared: Prepared, event_ids: list[str]) -> None:
        """Fold these events of the batch (their facts made here, from the fields read) into
        `prepared.batch`, replacing what was folded before, and its rows into JSON on
        PostgreSQL."""
        prepared.batch, prepared.applied = Batch(), {}
        self._fold_into(prepared, event_ids)
        self._encode(prepared)

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

    def _encode(self, prepared: Prepared) -> None:
        if self._postgres:
            prepared.rows = {
                table: _JSON.encode(list(rows.values())).decode()
                for table, rows in prepared.batch.rows.items()
                if rows
            }


_JSON = msgspec.json.Encoder()
"""Rows to JSON in C: dates as ISO 8601 days, times as RFC 3339 with their offset."""

SLICE = 500
"""Records decoded (or events folded) between two turns of the event loop."""
