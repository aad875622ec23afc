"""The personal data the tests use, and the suite-wide search for it.

Every test that handles a NIK, name or phone takes it from here. When the run ends, every
record on every topic of the broker and every log line written during the run is searched for
these values in clear; finding one fails the run (see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.broker import make_consumer

NIK = "7471011504950001"
NIK_SPACED = "7471 0115 0495 0001"
NAME = "Wa Ode Fiktif Rahmawati"
PHONE = "081234567890"
SECOND_NIK = "7471016108880003"
SECOND_NAME = "La Ode Contoh Fiktif"

SENSITIVE = (NIK, NIK_SPACED, NAME, "Fiktif", PHONE, "81234567890", SECOND_NIK, SECOND_NAME)


@dataclass(frozen=True)
class Broker:
    bootstrap_servers: str
    storage: Path | None  # its log directory, when the run started it itself


async def search_the_broker(broker: Broker, values: Iterable[str]) -> set[str]:
    """Which of `values` are anywhere on the broker, in any record's key, value or headers,
    records of aborted transactions included: in its segment files when the run owns it,
    else read back through a consumer."""
    values = tuple(values)
    if broker.storage is not None:
        return search_the_segments(broker.storage, values)
    return await search_the_topics(broker.bootstrap_servers, values)


def search_the_segments(storage: Path, values: tuple[str, ...]) -> set[str]:
    """Every byte the broker wrote: each partition's log segments on its disk. Producers here
    compress nothing, so a value sent in clear lies in its segment in clear."""
    pattern = re.compile(b"|".join(re.escape(value.encode()) for value in values))
    return {
        match.decode()
        for segment in storage.rglob("*.log")
        for match in pattern.findall(segment.read_bytes())
    }


async def search_the_topics(bootstrap: str, values: tuple[str, ...]) -> set[str]:
    """Every record of every topic, read from the start to the end offsets of now by one
    consumer assigned every partition (a broker the run does not own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    partitions = [
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    ]
    if not partitions:
        return set()
    consumer = make_consumer(  # uncommitted too: an aborted batch's bytes were on the bus
        bootstrap,
        group_id=None,
        client_id="privacy-search",
        max_poll_records=10_000,
        isolation_level="read_uncommitted",
    )
    await consumer.start()
    found: set[str] = set()
    try:
        ends = {}
        for i in range(0, len(partitions), 500):  # thousands of partitions: ask in chunks
            ends.update(await consumer.end_offsets(partitions[i : i + 500]))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    raw = (
                        (record.key or b"")
                        + (record.value or b"")
                        + b"".join(k.encode() + v for k, v in record.headers)
                    )
                    found.update(v for v in values if v.encode() in raw)
            # by position, not last offset: transaction markers take offsets too
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found
