"""Reading what really went over the bus, for tests: records and envelopes of a topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import ConsumerRecord

from shared.contracts.envelope import Envelope, from_kafka
from shared.messaging.broker import make_consumer


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
