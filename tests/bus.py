"""Reading what really went over the bus, for tests: records and envelopes of a topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.contracts.envelope import Envelope, from_kafka
from shared.messaging.broker import make_consumer, partitions_of

log = logging.getLogger(__name__)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    seconds: float = 30,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topic from the start, read until `until(records)` holds."""
    consumer = make_consumer(bootstrap, topic, group_id=None, client_id="test-reader")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(seconds):
            while not until(records):
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def read_events(
    bootstrap: str, topic: str, count: int, seconds: float = 30
) -> list[Envelope]:
    records = await read_topic(bootstrap, topic, until=lambda r: len(r) >= count, seconds=seconds)
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def read_to_end(bootstrap: str, topic: str) -> list[Envelope]:
    """Every event on the topic now, from the start to its end offsets (which count the
    transaction markers a record count would miss). A producer's commit returns before Kafka
    has written its markers, so a transaction committed just before the call may not be
    readable yet: its end is where the last of them was written, once readable (`_ends`)."""
    partitions = await partitions_of(bootstrap, topic)
    consumer = make_consumer(bootstrap, group_id=None, client_id="test-reader")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await _ends(bootstrap, consumer, partitions)
        found: list[Envelope] = []
        behind = set(partitions)
        while behind:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [from_kafka(r.headers, r.key, r.value) for r in records]
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


async def _ends(
    bootstrap: str,
    committed: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    seconds: float = 10,
) -> dict[TopicPartition, int]:
    """The committed reader's end offsets once they reach every record written before the
    call (the high watermarks then), or after `seconds` when a transaction stays open (a
    producer killed mid-batch: its records are never readable)."""
    peek = make_consumer(
        bootstrap, group_id=None, client_id="test-reader", isolation_level="read_uncommitted"
    )
    await peek.start()
    try:
        written = await peek.end_offsets(partitions)
    finally:
        await peek.stop()
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        stable: dict[TopicPartition, int] = await committed.end_offsets(partitions)
        if all(stable[tp] >= written[tp] for tp in partitions):
            return stable
        if asyncio.get_running_loop().time() > deadline:
            log.warning(
                "a transaction on %s stayed open %.0f s: read without it", partitions, seconds
            )
            return stable
        await asyncio.sleep(0.05)
