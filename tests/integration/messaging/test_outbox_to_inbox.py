"""Outbox → real Kafka → inbox: every committed event is applied exactly once, in commit
order per key, even when the relay publishes some of them twice."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.broker import Topics
from tests.integration.messaging.harness import (
    applied,
    consume_until,
    count,
    drain_relay,
    platform,
    prepared_engine,
    start_clients,
    write_events,
)

EVENTS = 3000
KEYS = 25


async def test_thousands_of_events_apply_exactly_once_in_order_per_key(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    engine = await prepared_engine(database_url)
    clients = await start_clients(engine, kafka_bootstrap, topics)
    try:
        written = await write_events(engine, topics, count=EVENTS, keys=KEYS)
        assert await drain_relay(clients.relay) == EVENTS
        assert await count(engine, platform.outbox, platform.outbox.c.sent_at.is_(None)) == 0

        # As after a relay crash between publishing and marking: the last 400 rows go again.
        async with engine.begin() as connection:
            last_ids = (
                (
                    await connection.execute(
                        select(platform.outbox.c.id)
                        .order_by(platform.outbox.c.id.desc())
                        .limit(400)
                    )
                )
                .scalars()
                .all()
            )
            await connection.execute(
                update(platform.outbox)
                .where(platform.outbox.c.id.in_(last_ids))
                .values(sent_at=None)
            )
        assert await drain_relay(clients.relay) == 400

        outcomes: Counter[str] = Counter()
        await consume_until(
            clients.consumer,
            lambda: outcomes["applied"] + outcomes["duplicate"] >= EVENTS + 400,
            outcomes=outcomes,
        )
    finally:
        await clients.close()

    assert outcomes == {"applied": EVENTS, "duplicate": 400}
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(applied.c.event_id, applied.c.subject).order_by(applied.c.seq)
            )
        ).all()
    await engine.dispose()
    assert sorted(r.event_id for r in rows) == sorted(e.id for e in written)

    committed_order: defaultdict[str, list[str]] = defaultdict(list)
    for envelope in written:
        committed_order[envelope.subject].append(envelope.id)
    applied_order: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        applied_order[row.subject].append(row.event_id)
    assert len(committed_order) == KEYS
    assert applied_order == committed_order


async def test_one_relay_of_several_replicas_leads_and_another_takes_over_in_order(
    postgres_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """Every replica of a service runs a relay on the same PostgreSQL outbox: one leads, the
    others stand by; when the leader goes, another takes over where it stopped, and commit
    order per key holds across the change."""
    engine = await prepared_engine(postgres_url)
    replicas = [await start_clients(engine, kafka_bootstrap, topics, batch_size=50) for _ in "ab"]
    leader, standby = replicas
    written = await write_events(engine, topics, count=EVENTS, keys=KEYS)

    try:
        led = await leader.relay.publish_batch()
        assert await standby.relay.publish_batch() == 0  # it stands by while the other leads
        led += await leader.relay.publish_batch()
        assert led == 100
        await leader.relay.close()  # the leader goes (killed: see test_relay_crash)
        assert await drain_relay(standby.relay) == EVENTS - led
        # One consumer reads it all (the other replica leaves the group).
        await replicas[1].consumer.consumer.stop()
        await consume_until(replicas[0].consumer, lambda: _applied_at_least(engine, EVENTS))
    finally:
        for clients in replicas:
            await clients.close()
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(applied.c.event_id, applied.c.subject).order_by(applied.c.seq)
            )
        ).all()
    await engine.dispose()
    assert _by_subject((e.subject, e.id) for e in written) == _by_subject(
        (r.subject, r.event_id) for r in rows
    )


async def _applied_at_least(engine: AsyncEngine, expected: int) -> bool:
    return await count(engine, applied) >= expected


def _by_subject(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    ordered: defaultdict[str, list[str]] = defaultdict(list)
    for subject, event_id in pairs:
        ordered[subject].append(event_id)
    return dict(ordered)


async def test_the_relay_is_woken_after_a_poll_applied_events_and_not_for_duplicates(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """A service's consumer wakes its relay once the batches it applied are committed (the
    events its handlers staged can go at once), and not when nothing was applied."""
    engine = await prepared_engine(database_url)
    wakes: list[int] = []

    async def applied_now() -> int:
        return await count(engine, applied)

    clients = await start_clients(
        engine, kafka_bootstrap, topics, on_commit=lambda: wakes.append(len(wakes))
    )
    try:
        await write_events(engine, topics, count=20, keys=2)
        assert await drain_relay(clients.relay) == 20
        await consume_until(clients.consumer, lambda: _applied_at_least(engine, 20))
        assert wakes, "the relay was never woken"
        woken = len(wakes)
        async with engine.begin() as connection:  # the same events again, as a resend
            await connection.execute(update(platform.outbox).values(sent_at=None))
        assert await drain_relay(clients.relay) == 20
        outcomes: Counter[str] = Counter()
        while outcomes["duplicate"] < 20:
            outcomes += await clients.consumer.poll_once(timeout_ms=500)
        assert outcomes["applied"] == 0 and await applied_now() == 20
        assert len(wakes) == woken  # duplicates only: nothing new to publish
    finally:
        await clients.close()
        await engine.dispose()
