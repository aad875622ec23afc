"""Crash safety of the outbox relay, with real SIGKILLs of a real process: after commit and
before publish, and again in the middle of publishing. After a restart every event is on the
topic exactly once for a reader of committed records (a batch cut off mid-publish was never
committed), and every event is applied once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.broker import Topics, topic_size
from tests.bus import read_to_end
from tests.eventually import eventually
from tests.integration.messaging.harness import (
    TOPIC,
    Clients,
    applied,
    consume_until,
    count,
    drain_relay,
    platform,
    prepared_engine,
    start_clients,
)

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 6000


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.messaging.relay_process", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _read_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    async with asyncio.timeout(120):
        line = await asyncio.to_thread(process.stdout.readline)
    assert line.strip() == expected, f"process said {line!r}, exit code {process.poll()}"


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


async def test_relay_killed_after_commit_and_mid_batch_loses_nothing(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    topic = topics.name(TOPIC)
    engine = await prepared_engine(database_url)
    clients = await start_clients(engine, kafka_bootstrap, topics)

    # 1. Killed after the events are committed and before its relay published any of them.
    writer = _spawn("write", database_url, kafka_bootstrap, topics.prefix, str(EVENTS))
    await _read_line(writer, "committed")
    _kill(writer)
    assert await count(engine, platform.outbox, platform.outbox.c.sent_at.is_(None)) == EVENTS
    assert await topic_size(kafka_bootstrap, topic) == 0

    # 2. Restarted, and killed again while it is part-way through the backlog.
    relay = _spawn("relay", database_url, kafka_bootstrap, topics.prefix, "100")
    await _read_line(relay, "relaying")
    sent = platform.outbox.c.sent_at.isnot(None)

    async def a_quarter_sent() -> bool:  # the outbox's count is cheap to ask, the topic's is not
        return await count(engine, platform.outbox, sent) >= EVENTS // 4

    await eventually(a_quarter_sent, 120, every=0.005)
    _kill(relay)
    on_topic_after_kill = await topic_size(kafka_bootstrap, topic)
    pending_after_kill = await count(engine, platform.outbox, platform.outbox.c.sent_at.is_(None))
    assert 0 < on_topic_after_kill < EVENTS, "the kill did not land mid-way"
    assert pending_after_kill > 0

    # 3. Restarted once more (here, in-process): it finishes the backlog.
    try:
        await drain_relay(clients.relay)
        assert await count(engine, platform.outbox, platform.outbox.c.sent_at.is_(None)) == 0
        on_topic = [event.id for event in await read_to_end(kafka_bootstrap, topic)]
        assert len(on_topic) == len(set(on_topic)) == EVENTS  # none twice, none lost
        published = await topic_size(kafka_bootstrap, topic)  # offsets, markers included
        await consume_until(clients.consumer, lambda: _applied_at_least(engine, EVENTS))
        await consume_until(clients.consumer, lambda: _consumed_up_to(clients, published))
    finally:
        await clients.close()
    async with engine.connect() as connection:
        applied_ids = (await connection.execute(select(applied.c.event_id))).scalars().all()
        committed_ids = (
            (await connection.execute(select(platform.outbox.c.event_id))).scalars().all()
        )
    await engine.dispose()
    assert len(applied_ids) == EVENTS
    assert sorted(applied_ids) == sorted(committed_ids)


async def _applied_at_least(engine: AsyncEngine, expected: int) -> bool:
    return await count(engine, applied) >= expected


async def _consumed_up_to(clients: Clients, published: int) -> bool:
    consumer = clients.consumer.consumer
    positions = [
        await consumer.position(tp)
        for tp in consumer.assignment()
        if not tp.topic.endswith(".redrive")
    ]
    return sum(positions) >= published
