"""A batch's records made ready to write: decoded and folded per row
(`projection.batch.Batch`). CPU only, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import ConsumerRecord, TopicPartition

from services.reporting.decoding import Decoded, decode
from services.reporting.projection.batch import Batch
from shared.contracts.envelope import InvalidEvent


@dataclass
class Prepared:
    """A batch decoded and folded, ready to write (folded again without the events applied
    before, should the write find any)."""

    events: dict[str, Decoded] = field(default_factory=dict)
    """By event id: an event delivered twice in one batch is one event."""
    starts: dict[TopicPartition, int] = field(default_factory=dict)
    """The first offset of each partition in the batch: the position it was built on."""
    reached: dict[TopicPartition, int] = field(default_factory=dict)
    refused: list[tuple[ConsumerRecord[bytes, bytes], str]] = field(default_factory=list)
    traced: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    """Up to 128 records carrying a trace context: the batch's span continues the first and
    links the others."""
    batch: Batch = field(default_factory=Batch)
    """Every event of the batch folded as it is decoded, while the batch before is being
    written: `write` folds again only when some of them were applied before (a relay's
    redelivery)."""

    @property
    def applied(self) -> dict[str, int]:
        """Events folded by topic."""
        return self.batch.applied


class Preparing:
    """The projector's half that prepares a batch (`Projector` is the consumer)."""

    positions: dict[TopicPartition, int]

    def prepare(self, records: list[ConsumerRecord[bytes, bytes]]) -> Prepared:
        """Decode and fold (CPU only, no I/O)."""
        prepared = Prepared()
        self._decode(prepared, records)
        return prepared

    def _decode(self, prepared: Prepared, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Decode the records and fold each event the first time the batch meets it."""
        positions, starts, reached = self.positions, prepared.starts, prepared.reached
        events, traced, fold = prepared.events, prepared.traced, prepared.batch.fold
        tp, start = None, 0
        for record in records:
            if tp is None or record.partition != tp.partition or record.topic != tp.topic:
                tp = TopicPartition(record.topic, record.partition)  # a partition's run
                start = positions.get(tp, 0)
            offset = record.offset
            if offset < start:
                continue  # already in this read model
            if tp not in starts:
                starts[tp] = offset
            reached[tp] = offset + 1
            headers = record.headers or ()
            try:
                event, carries_trace = decode(record.topic, headers, record.value)
            except InvalidEvent as exc:
                prepared.refused.append((record, str(exc)))
                event, carries_trace = None, any(n == "traceparent" for n, _ in headers)
            if carries_trace and len(traced) < 128:
                traced.append(record)
            if event is not None and event[0] not in events:
                events[event[0]] = event
                fold(event)

    def _fold(self, prepared: Prepared, event_ids: list[str]) -> None:
        """Fold these events of the batch into a new `prepared.batch`, replacing what was
        folded before."""
        prepared.batch = batch = Batch()
        events = prepared.events
        for event_id in event_ids:
            batch.fold(events[event_id])
