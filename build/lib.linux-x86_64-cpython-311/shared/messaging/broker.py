"""Kafka clients configured the one safe way: idempotent `acks=all` producers, and consumers
that start from the earliest offset and commit only after the effect is stored."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context


@dataclass(frozen=True)
class KafkaAuth:
    """How clients authenticate: PLAINTEXT on loopback, SASL (SCRAM) over TLS in clusters
    where every service and province has its own Kafka user and ACLs."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        if self.sasl_mechanism:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return options


PLAINTEXT = KafkaAuth()


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

    def relayed(self, service: str) -> str:
        """Where the service's outbox relay marks each batch it published (compacted)."""
        return self.name(f"ibm.{service}.relayed")


def make_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    auth: KafkaAuth = PLAINTEXT,
    transactional_id: str | None = None,
) -> AIOKafkaProducer:
    """`transactional_id`: a producer whose records readers see only once it commits (and a
    new producer under the same id fences the old one). A transaction left open by a process
    that died holds readers of its partitions back until the broker aborts it: 15 s, not the
    client's default 60 s (a relay's batch takes well under a second)."""
    options: dict[str, Any] = {}
    if transactional_id is not None:
        options["transaction_timeout_ms"] = 15_000
    return AIOKafkaProducer(
        **options,
        bootstrap_servers=bootstrap_servers,
        **auth.client_options(),
        client_id=client_id,
        transactional_id=transactional_id,
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
    auth: KafkaAuth = PLAINTEXT,
    metadata_max_age_ms: int = 30_000,
    isolation_level: str = "read_committed",
    **options: Any,
) -> AIOKafkaConsumer:
    """`isolation_level`: read committed records only (every service; a batch an outbox relay
    never committed is never seen), or `read_uncommitted` for audits of every byte."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        **auth.client_options(),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        isolation_level=isolation_level,
        # how soon a pattern subscription sees a new topic (a province's inbound topic)
        metadata_max_age_ms=metadata_max_age_ms,
        **options,
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Mapping[str, int] | Iterable[str],
    *,
    default_partitions: int = 3,
    auth: KafkaAuth = PLAINTEXT,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Create the topics that do not exist yet (partition counts are per-topic configuration;
    `configs` gives a topic its settings, e.g. compaction)."""
    wanted = (
        dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, default_partitions)
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **auth.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            # Only local brokers get here: in clusters every topic is a Strimzi KafkaTopic
            # (k8s/base/kafka/topics.yaml) with its own replication, and auto-creation is off.
            NewTopic(
                name,
                num_partitions=count,
                replication_factor=1,
                topic_configs=dict((configs or {}).get(name, {})),
            )
            for name, count in wanted.items()
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


async def partitions_of(
    bootstrap_servers: str, topic: str, auth: KafkaAuth = PLAINTEXT
) -> list[TopicPartition]:
    """The topic's partitions as the cluster describes them (none when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **auth.client_options())
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


async def topic_size(bootstrap_servers: str, topic: str, auth: KafkaAuth = PLAINTEXT) -> int:
    """How many records a reader of committed records finds on the topic now (its end
    offsets would also count transaction markers and aborted batches)."""
    partitions = await partitions_of(bootstrap_servers, topic, auth)
    if not partitions:
        return 0
    consumer = make_consumer(bootstrap_servers, group_id=None, client_id="pulih-probe", auth=auth)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count, behind = 0, {tp for tp in partitions if ends[tp] > 0}
        while behind:
            for records in (await consumer.getmany(*behind, timeout_ms=500)).values():
                count += sum(
                    1 for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
        return count
    finally:
        await consumer.stop()
