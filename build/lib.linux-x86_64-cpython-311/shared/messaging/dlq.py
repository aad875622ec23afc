"""Parking, reading and redriving a consumer group's dead letters.

`send_to_dead_letter` parks a record with the reason and where it came from. `redrive` moves
every dead letter not yet redriven onto the group's redrive topic, which the group's consumer
also reads, so only that group sees the message again. The redriver commits its own offsets,
so running it twice does not redrive twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.messaging.broker import (
    PLAINTEXT,
    KafkaAuth,
    Topics,
    ensure_topics,
    make_consumer,
    make_producer,
    partitions_of,
)
from shared.metrics import DEAD_LETTERS
from shared.telemetry import redact

log = logging.getLogger(__name__)

DLQ_HEADERS = (
    "dlq_reason",
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_group",
    "dlq_attempts",
    "dlq_failed_at",
)


async def send_to_dead_letter(
    producer: AIOKafkaProducer,
    topic: str,
    record: ConsumerRecord[bytes, bytes],
    *,
    group: str,
    reason: str,
    attempts: int,
) -> None:
    """Park a record on a group's dead-letter topic with the reason (redacted) and where it
    came from, for `pulih dlq list|redrive`."""
    original = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
    coordinates = {
        "dlq_reason": redact(reason)[:2000],
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_group": group,
        "dlq_attempts": str(attempts),
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    await producer.send_and_wait(
        topic,
        value=record.value,
        key=record.key,
        headers=original + [(k, v.encode()) for k, v in coordinates.items()],
    )
    DEAD_LETTERS.labels(group, record.topic).inc()
    log.error(
        "dead-lettered %s[%d]@%d: %s",
        record.topic,
        record.partition,
        record.offset,
        coordinates["dlq_reason"][:500],
    )


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    event_type: str | None
    reason: str
    original_topic: str
    original_partition: int
    original_offset: int
    attempts: int
    failed_at: str


def _parse(
    record_partition: int, record_offset: int, key: bytes | None, headers: list[tuple[str, bytes]]
) -> DeadLetter:
    h = {name: value.decode(errors="replace") for name, value in headers}
    return DeadLetter(
        partition=record_partition,
        offset=record_offset,
        key=key.decode(errors="replace") if key is not None else None,
        event_id=h.get("ce_id"),
        event_type=h.get("ce_type"),
        reason=h.get("dlq_reason", ""),
        original_topic=h.get("dlq_original_topic", ""),
        original_partition=int(h.get("dlq_original_partition", "-1")),
        original_offset=int(h.get("dlq_original_offset", "-1")),
        attempts=int(h.get("dlq_attempts", "0")),
        failed_at=h.get("dlq_failed_at", ""),
    )


async def list_dead_letters(
    bootstrap_servers: str, group: str, topics: Topics | None = None, auth: KafkaAuth = PLAINTEXT
) -> list[DeadLetter]:
    """Every dead letter of the group, oldest first per partition (reads, commits nothing)."""
    topic = (topics or Topics()).dead_letter(group)
    consumer = make_consumer(
        bootstrap_servers, group_id=None, client_id=f"{group}-dlq-list", auth=auth
    )
    await consumer.start()
    try:
        assigned = await _assign_all(consumer, bootstrap_servers, topic, auth)
        await consumer.seek_to_beginning(*assigned)
        letters: list[DeadLetter] = []
        async for record in _read_to_end(consumer, assigned):
            letters.append(
                _parse(record.partition, record.offset, record.key, list(record.headers))
            )
        return letters
    finally:
        await consumer.stop()


async def redrive(
    bootstrap_servers: str, group: str, topics: Topics | None = None, auth: KafkaAuth = PLAINTEXT
) -> int:
    """Send every dead letter not yet redriven back to the group; returns how many."""
    names = topics or Topics()
    source = names.dead_letter(group)
    # Manual assignment, but offsets stored under a group of its own: each letter goes once.
    consumer = make_consumer(
        bootstrap_servers, group_id=f"{group}.redriver", client_id=f"{group}-redriver", auth=auth
    )
    producer = make_producer(bootstrap_servers, client_id=f"{group}-redriver", auth=auth)
    await consumer.start()
    await producer.start()
    moved = 0
    try:
        assigned = await _assign_all(consumer, bootstrap_servers, source, auth)
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        async for record in _read_to_end(consumer, assigned):
            headers = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
            headers.append(
                ("redriven_from", f"{source}:{record.partition}:{record.offset}".encode())
            )
            await producer.send_and_wait(
                names.redrive(group), value=record.value, key=record.key, headers=headers
            )
            await consumer.commit({TopicPartition(source, record.partition): record.offset + 1})
            moved += 1
        return moved
    finally:
        await producer.stop()
        await consumer.stop()


async def _assign_all(
    consumer: AIOKafkaConsumer, bootstrap_servers: str, topic: str, auth: KafkaAuth
) -> list[TopicPartition]:
    await ensure_topics(bootstrap_servers, [topic], auth=auth)
    assigned = await partitions_of(bootstrap_servers, topic, auth)
    consumer.assign(assigned)
    return assigned


async def _read_to_end(
    consumer: AIOKafkaConsumer, assigned: list[TopicPartition]
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Records from the current positions up to the end offsets taken now."""
    ends = await consumer.end_offsets(assigned)
    remaining = {tp for tp in assigned if await consumer.position(tp) < ends[tp]}
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record
            if records and records[-1].offset >= ends[tp] - 1:
                remaining.discard(tp)
