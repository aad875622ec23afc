"""A published event leaves its service's outbox once it has been there `keep_sent_seconds`
(Kafka keeps it): the outbox does not grow with everything a service ever published, and an
event left behind by an earlier relay goes when the next one takes the lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from shared.contracts.envelope import Envelope
from shared.messaging.broker import Topics
from shared.messaging.relay import OutboxRelay
from tests.bus import read_to_end
from tests.eventually import eventually
from tests.integration.messaging.harness import (
    TOPIC,
    count,
    drain_relay,
    platform,
    prepared_engine,
    write_events,
)

SENT = platform.outbox.c.sent_at.is_not(None)
PENDING = platform.outbox.c.sent_at.is_(None)


def _relay(engine: object, kafka_bootstrap: str, topics: Topics, keep: float) -> OutboxRelay:
    return OutboxRelay(
        service=f"forgets-{topics.prefix.strip('.')}",
        engine=engine,  # type: ignore[arg-type]
        table=platform.outbox,
        bootstrap_servers=kafka_bootstrap,
        topics=topics,
        batch_size=40,
        keep_sent_seconds=keep,
    )


async def published_once(kafka_bootstrap: str, topics: Topics, expected: int) -> list[Envelope]:
    """The topic's events once `expected` distinct ones can be read. Kafka writes a
    transaction's commit markers after the producer's commit returns, so the last batch
    becomes readable a moment later (CI read 10 of 15 once); one never sent never does, and
    the test fails after 30 s with what it read."""

    async def read() -> list[Envelope] | None:
        found = await read_to_end(kafka_bootstrap, topics.name(TOPIC))
        return found if len({e.id for e in found}) >= expected else None

    return await eventually(read, 30, what=f"{expected} distinct events on the topic")


async def test_published_rows_are_kept_for_a_while_then_deleted(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    engine = await prepared_engine(database_url)
    kept = _relay(engine, kafka_bootstrap, topics, keep=300)
    try:
        await write_events(engine, topics, count=100, keys=5)
        assert await drain_relay(kept) == 100
        assert await count(engine, platform.outbox, SENT) == 100  # within the keep: still there
    finally:
        await kept.close()
    await write_events(engine, topics, count=30, keys=5)
    forgetting = _relay(engine, kafka_bootstrap, topics, keep=0)
    try:
        assert await drain_relay(forgetting) == 30
        # The earlier relay's 100 went when this one took the lead, its own 30 at its next
        # look, but for the newest row (no id is given again).
        assert await count(engine, platform.outbox) == 1
        assert await count(engine, platform.outbox, platform.outbox.c.id == 130) == 1
        published = await published_once(kafka_bootstrap, topics, 130)
        assert len(published) == len({e.id for e in published}) == 130
    finally:
        await forgetting.close()
        await engine.dispose()


async def test_a_new_leader_deletes_only_rows_sent_before_the_keep(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    engine = await prepared_engine(database_url)
    first = _relay(engine, kafka_bootstrap, topics, keep=300)
    try:
        await write_events(engine, topics, count=60, keys=3)
        assert await drain_relay(first) == 60
    finally:
        await first.close()
    async with engine.begin() as connection:  # 20 of them published a day ago
        old = (
            update(platform.outbox)
            .where(platform.outbox.c.id <= 20)
            .values(sent_at=datetime.now(UTC) - timedelta(days=1))
        )
        await connection.execute(old)
    await write_events(engine, topics, count=10, keys=3)  # not published yet
    second = _relay(engine, kafka_bootstrap, topics, keep=300)
    try:
        assert await second.publish_batch() == 10
        assert await count(engine, platform.outbox, SENT) == 50
        assert await count(engine, platform.outbox, platform.outbox.c.id <= 20) == 0
        assert await count(engine, platform.outbox, PENDING) == 0
    finally:
        await second.close()
        await engine.dispose()


async def test_rows_written_after_the_outbox_emptied_are_not_taken_for_the_last_batch(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """The next leader marks sent the rows its predecessor's last marker names (a crash
    between Kafka's commit and marking them): rows written after the deletes must not carry
    those ids again, or they would be marked sent without ever being sent."""
    engine = await prepared_engine(database_url)
    first = _relay(engine, kafka_bootstrap, topics, keep=0)
    try:
        await write_events(engine, topics, count=10, keys=2)
        assert await drain_relay(first) == 10
    finally:
        await first.close()
    await write_events(engine, topics, count=5, keys=2)
    second = _relay(engine, kafka_bootstrap, topics, keep=0)
    try:
        assert await drain_relay(second) == 5
        published = await published_once(kafka_bootstrap, topics, 15)
        assert len({e.id for e in published}) == 15
    finally:
        await second.close()
        await engine.dispose()
