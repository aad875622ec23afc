"""Kafka clients configured the one safe way: idempotent `acks=all` producers, and consumers
that start from the earliest offset and commit only after the effect is stored."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class Topics:
    """Topic names with an optional prefix, so tests and tenants get their own fresh topics."""

    prefix: str = ""

    def name(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    def dead_letter(self, group: str) -> str:
        return self.name(f"ibm.{group}.dlq")

    def redrive(self, group: str) -> str:
        return self.name(f"ibm.{group}.redrive")


def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


def make_consumer(
    bootstrap_servers: str,
    *topics: str,
    group_id: str | None,
    client_id: str,
    max_poll_records: int = 500,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        isolation_level="read_committed",
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Mapping[str, int] | Iterable[str],
    *,
    default_partitions: int = 3,
) -> None:
    """Create the topics that do not exist yet (partition counts are per-topic configuration)."""
    wanted = (
        dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, default_partitions)
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in wanted.items()
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


async def partitions_of(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions as the cluster describes them (none when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic, p["partition"])
        for d in described
        if d["topic"] == topic
        for p in d["partitions"]
    )


async def topic_size(bootstrap_servers: str, topic: str) -> int:
    """How many records the topic holds in all (the sum of its partitions' end offsets)."""
    partitions = await partitions_of(bootstrap_servers, topic)
    if not partitions:
        return 0
    consumer = make_consumer(bootstrap_servers, group_id=None, client_id="pulih-probe")
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
