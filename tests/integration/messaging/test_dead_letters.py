"""A poison message is retried a bounded number of times, then dead-lettered with its reason
and original coordinates; later messages on the same partition are still processed; an
invalid message is dead-lettered without retries; redrive brings a letter back, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.envelope import Envelope, to_kafka, wrap
from shared.messaging.broker import Topics, make_producer
from shared.messaging.dlq import list_dead_letters, redrive
from tests.eventually import eventually
from tests.integration.messaging.harness import (
    GROUP,
    TOPIC,
    applied,
    consume_until,
    prepared_engine,
    record_effect,
    session_completed,
    start_clients,
)


async def test_poison_goes_to_dead_letters_and_comes_back_on_redrive(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    engine = await prepared_engine(database_url)
    case = "case-dlq-0001-abcdef"
    good_before, poison, good_after = (wrap(session_completed(case), source="/t") for _ in "abc")
    attempts: Counter[str] = Counter()
    broken = {"yes": True}

    async def flaky(session: AsyncSession, envelope: Envelope) -> None:
        attempts[envelope.id] += 1
        if envelope.id == poison.id and broken["yes"]:
            raise RuntimeError("downstream rule table missing")
        await record_effect(session, envelope)

    clients = await start_clients(engine, kafka_bootstrap, topics, handler=flaky, max_attempts=3)

    async def applied_ids() -> set[str]:
        async with engine.connect() as connection:
            return set((await connection.execute(select(applied.c.event_id))).scalars())

    producer = make_producer(kafka_bootstrap, client_id="dlq-test")
    await producer.start()
    try:
        # All on one key, so all on one partition, in this order.
        for envelope in (good_before, poison):
            key, headers, value = to_kafka(envelope)
            await producer.send_and_wait(topics.name(TOPIC), value=value, key=key, headers=headers)
        await producer.send_and_wait(
            topics.name(TOPIC),
            value=b"\x00not an event",
            key=case.encode(),
            headers=[("ce_type", b"x")],
        )
        key, headers, value = to_kafka(good_after)
        await producer.send_and_wait(topics.name(TOPIC), value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    try:

        async def good_ones_applied() -> bool:
            return {good_before.id, good_after.id} <= await applied_ids()

        await consume_until(clients.consumer, good_ones_applied)
        assert poison.id not in await applied_ids()
        assert attempts[poison.id] == 3

        letters = await list_dead_letters(kafka_bootstrap, GROUP, topics)
        assert len(letters) == 2
        by_id = {letter.event_id: letter for letter in letters}
        poisoned = by_id[poison.id]
        assert poisoned.reason.startswith("failed after retries: RuntimeError")
        assert poisoned.attempts == 3
        assert poisoned.original_topic == topics.name(TOPIC)
        assert poisoned.original_offset == 1
        invalid = by_id[None]
        assert invalid.attempts == 1
        assert invalid.original_offset == 2
        assert "ce_id" in invalid.reason and "invalid event" in invalid.reason

        broken["yes"] = False
        assert await redrive(kafka_bootstrap, GROUP, topics) == 2

        async def poison_applied() -> bool:
            return poison.id in await applied_ids()

        await consume_until(clients.consumer, poison_applied)

        # The invalid message is still invalid: it is dead-lettered again, and only that new
        # letter is redriven next time; the first two are not sent twice.
        async def three_letters() -> bool:
            return len(await list_dead_letters(kafka_bootstrap, GROUP, topics)) == 3

        await consume_until(clients.consumer, three_letters)
        assert await redrive(kafka_bootstrap, GROUP, topics) == 1
    finally:
        await clients.close()
    assert await applied_ids() == {good_before.id, poison.id, good_after.id}
    await engine.dispose()


async def test_a_database_outage_stalls_the_consumer_instead_of_dead_lettering(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    from sqlalchemy.exc import OperationalError

    engine = await prepared_engine(database_url)
    events = [wrap(session_completed("case-outage-0001-abc"), source="/t") for _ in range(3)]
    calls: Counter[str] = Counter()

    async def down_for_a_while(session: AsyncSession, envelope: Envelope) -> None:
        calls[envelope.id] += 1
        if sum(calls.values()) <= 5:  # longer than the retries of any one event
            raise OperationalError("INSERT …", {}, ConnectionRefusedError("database is down"))
        await record_effect(session, envelope)

    clients = await start_clients(engine, kafka_bootstrap, topics, handler=down_for_a_while)
    producer = make_producer(kafka_bootstrap, client_id="outage-test")
    await producer.start()
    try:
        for envelope in events:
            key, headers, value = to_kafka(envelope)
            await producer.send_and_wait(topics.name(TOPIC), value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    stop = asyncio.Event()
    running = asyncio.create_task(clients.consumer.run(stop))
    try:

        async def all_applied() -> list[str] | None:
            async with engine.connect() as connection:
                done = list((await connection.execute(select(applied.c.event_id))).scalars())
            return done if len(done) == len(events) else None

        done = await eventually(all_applied, 60)
    finally:
        stop.set()
        await running
        await clients.close()
    await engine.dispose()
    assert sorted(done) == sorted(e.id for e in events)
    assert await list_dead_letters(kafka_bootstrap, GROUP, topics) == []


async def test_a_set_based_handler_is_isolated_to_its_poison(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """A batch handler applies a partition's events at once; when the batch fails, each event
    is applied alone, so only the poison is retried and dead-lettered."""
    engine = await prepared_engine(database_url)
    case = "case-dlq-0002-abcdef"
    events = [wrap(session_completed(case), source="/t") for _ in range(5)]
    poison = events[2]
    calls: list[int] = []

    async def at_once(session: AsyncSession, batch: Sequence[Envelope]) -> None:
        calls.append(len(batch))
        if any(e.id == poison.id for e in batch):
            raise RuntimeError("a bug in the set-based path")
        await session.execute(
            insert(applied), [{"event_id": e.id, "subject": e.subject} for e in batch]
        )

    clients = await start_clients(engine, kafka_bootstrap, topics, batch_handler=at_once)
    producer = make_producer(kafka_bootstrap, client_id="dlq-test")
    await producer.start()
    try:
        for envelope in events:
            key, headers, value = to_kafka(envelope)
            await producer.send(topics.name(TOPIC), value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    try:

        async def the_rest_applied() -> bool:
            async with engine.connect() as connection:
                done = set((await connection.execute(select(applied.c.event_id))).scalars())
            return done == {e.id for e in events} - {poison.id}

        await consume_until(clients.consumer, the_rest_applied)
        [letter] = await list_dead_letters(kafka_bootstrap, GROUP, topics)
        assert letter.event_id == poison.id
        assert letter.reason.startswith("failed after retries: RuntimeError")
        assert max(calls) > 1  # the events did go through the handler together first
    finally:
        await clients.close()
    await engine.dispose()
