"""Messaging throughput beside its baselines, measured in the same run on the same broker.

    python -m tests.perf.bench_messaging [--events N]       (make bench)

Publishing: outbox relay (rows read from the database, published, marked sent) against the
raw aiokafka producer sending the same records. Consuming: the inbox consumer (one
transaction per event: inbox row + effect, offsets committed per batch) against raw aiokafka
`getmany` of the same topic. PostgreSQL and SQLite. Uses KAFKA_BOOTSTRAP_SERVERS and
PULIH_TEST_POSTGRES_URL when set, else starts both servers on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine.url import make_url

from shared.contracts.envelope import to_kafka
from shared.infra._process import free_port
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from shared.persistence import create_engine
from tests.integration.messaging.harness import (
    TOPIC,
    applied,
    count,
    drain_relay,
    prepared_engine,
    start_clients,
    write_events,
)


@contextlib.contextmanager
def infrastructure(*, kafka: bool = True) -> Iterator[tuple[str, str]]:
    work = Path(tempfile.mkdtemp(prefix="pulih-bench-", dir="/tmp"))
    work.chmod(0o755)
    started: list[Any] = []  # what this started (a broker, a cluster), stopped at the end
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if kafka and not bootstrap:
            from shared.infra.kafka import KafkaBroker

            broker = KafkaBroker(work / "kafka", free_port(), free_port())
            broker.start(heap="1g")
            started.append(broker)
            bootstrap = broker.bootstrap_servers
        postgres = os.environ.get("PULIH_TEST_POSTGRES_URL")
        if not postgres:
            from shared.infra.postgres import PostgresCluster

            cluster = PostgresCluster(work / "postgres", free_port())
            cluster.start()
            started.append(cluster)
            postgres = cluster.url()
        yield bootstrap, postgres
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


async def fresh_postgres(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def raw_produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, list[tuple[str, bytes]], bytes]]
) -> float:
    producer = make_producer(bootstrap, client_id="bench-raw")
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, h, v in records]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    consumer = make_consumer(
        bootstrap, topic, group_id=f"bench-raw-{uuid.uuid4().hex[:6]}", client_id="bench-raw"
    )
    await consumer.start()
    try:
        # Timed like the inbox consumer: from the first poll, fetching included.
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(records) for records in batches.values())
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def measure(
    label: str, url: str, bootstrap: str, events: int
) -> list[tuple[str, float, float]]:
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    engine = await prepared_engine(url)
    clients = await start_clients(engine, bootstrap, topics, batch_size=1000)
    try:
        written = await write_events(engine, topics, count=events, keys=500, per_transaction=500)
        started = time.perf_counter()
        assert await drain_relay(clients.relay) == events
        relay_rate = events / (time.perf_counter() - started)

        raw_topic = topics.name("raw")
        await ensure_topics(bootstrap, {raw_topic: 3})
        raw_rate = await raw_produce(bootstrap, raw_topic, [to_kafka(e) for e in written])

        started = time.perf_counter()
        while await count(engine, applied) < events:
            await clients.consumer.poll_once(timeout_ms=200)
        inbox_rate = events / (time.perf_counter() - started)
        raw_consume_rate = await raw_consume(bootstrap, topics.name(TOPIC), events)
    finally:
        await clients.close()
        await engine.dispose()
    return [
        (f"{label}: outbox relay publish", relay_rate, raw_rate),
        (f"{label}: inbox consumer apply", inbox_rate, raw_consume_rate),
    ]


async def run(bootstrap: str, postgres_server: str, events: int) -> None:
    rows = await measure("PostgreSQL", await fresh_postgres(postgres_server), bootstrap, events)
    with tempfile.TemporaryDirectory() as folder:
        rows += await measure("SQLite", f"sqlite+aiosqlite:///{folder}/bench.db", bootstrap, events)
    print(
        f"\n{events} events per measurement; baseline = raw aiokafka on the same broker, same run"
    )
    print(f"{'path':42} {'events/s':>10} {'baseline/s':>11} {'ratio':>6}")
    for name, rate, baseline in rows:
        print(f"{name:42} {rate:>10,.0f} {baseline:>11,.0f} {rate / baseline:>6.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    with infrastructure() as (kafka, postgres):  # started outside the event loop
        asyncio.run(run(kafka, postgres, parser.parse_args().events))
