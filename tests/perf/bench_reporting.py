"""Reporting projection throughput on replay, beside raw aiokafka consumption of the same topics
measured in the same run on the same broker.

    python -m tests.perf.bench_reporting [--events N]       (make bench)

A realistic mix of canonical events (screenings with their substances, enrolments, stage
changes, sessions held, activities, closures, units and agents) is published once to fresh
topics. Baseline: a raw aiokafka consumer `getmany`-ing every record of those topics. Measured:
`pulih reporting rebuild`'s path, which decodes, folds and upserts every event into a fresh
generation of the read model, positions committed per batch, then switches generations.
PostgreSQL and SQLite. Uses KAFKA_BOOTSTRAP_SERVERS and PULIH_TEST_POSTGRES_URL when set.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import date, timedelta

from aiokafka import TopicPartition

from services.reporting.db import MIGRATIONS
from services.reporting.rebuild import rebuild
from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from shared.migrations import upgrade
from shared.persistence import create_engine
from tests.perf.bench_messaging import fresh_postgres, infrastructure
from tests.reporting_events import activity, enrolled, screened, unit_formed
from tests.unit.contracts.examples import from_examples

CANONICAL = (registry.TOPIC, client_case.TOPIC, scheduling.TOPIC)


def workload(events: int, seed: int = 7) -> list[EventData]:
    """About 1,000 units in 20 provinces; per client a screening, and for most an enrolment,
    a stage change, a few sessions and a closure; activities throughout."""
    rng = random.Random(seed)
    villages = [
        f"{p}.{r:02d}.{d:02d}.{2000 + v}"
        for p in (11, 12, 13, 14, 31, 32, 33, 34, 35, 36, 51, 52, 61, 64, 71, 73, 74, 81, 91, 96)
        for r in (1, 2)
        for d in (1, 2, 3, 4, 5)
        for v in (1, 2, 3, 4, 5)
    ]
    units = [(f"unit-{n:012d}-bench", village) for n, village in enumerate(villages)]
    out: list[EventData] = [
        unit_formed(u, v, date(2025, 1 + n % 12, 1)) for n, (u, v) in enumerate(units)
    ]
    start = date(2026, 1, 1)
    while len(out) < events:
        unit, village = rng.choice(units)
        on = start + timedelta(days=rng.randrange(300))
        level = rng.choice(("low", "moderate", "moderate", "high"))
        screening = screened(unit, village, on, level)
        case_id = screening.case_id  # type: ignore[attr-defined]
        out.append(screening)
        if rng.random() < 0.8:
            out.append(enrolled(unit, village, case_id, on + timedelta(days=3), level=level))
            out.append(
                from_examples(
                    client_case.CaseStageChanged,
                    unit_id=unit,
                    province_code=village[:2],
                    village_code=village,
                    case_id=case_id,
                    from_stage="intake",
                    to_stage="services",
                    changed_on=on + timedelta(days=10),
                    case_week=3,
                )
            )
            for week in range(2, 2 + rng.randrange(1, 5)):
                out.append(
                    from_examples(
                        scheduling.SessionCompleted,
                        unit_id=unit,
                        province_code=village[:2],
                        village_code=village,
                        session_id=str(uuid.uuid4()),
                        case_id=case_id,
                        week=week,
                        held_on=on + timedelta(days=7 * week),
                    )
                )
            out.append(
                from_examples(
                    client_case.CaseClosed,
                    unit_id=unit,
                    province_code=village[:2],
                    village_code=village,
                    case_id=case_id,
                    closed_on=on + timedelta(days=110),
                    referral_id=None,
                )
            )
        if rng.random() < 0.3:
            out.append(activity(unit, village, on))
    return out[:events]


async def publish(bootstrap: str, topics: Topics, events: list[EventData]) -> None:
    await ensure_topics(bootstrap, {topics.name(t): 6 for t in CANONICAL})
    producer = make_producer(bootstrap, client_id="bench-services")
    await producer.start()
    try:
        futures = []
        for data in events:
            key, headers, value = to_kafka(wrap(data, source="/pulih/bench"))
            futures.append(
                await producer.send(topics.name(data.topic), value=value, key=key, headers=headers)
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topics: Topics, expected: int) -> float:
    consumer = make_consumer(bootstrap, group_id=None, client_id="bench-raw", max_poll_records=5000)
    await consumer.start()
    try:
        partitions = [TopicPartition(topics.name(t), p) for t in CANONICAL for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(records) for records in batches.values())
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def projection(
    url: str, bootstrap: str, topics: Topics, expected: int, workers: int = 1
) -> float:
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "reporting")
    engine = create_engine(url)
    try:
        done = await rebuild(
            engine,
            bootstrap,
            [topics.name(t) for t in CANONICAL],
            dead_letter_topic=topics.dead_letter("reporting"),
            batch_size=5000,
            workers=workers,
        )
        assert done.events == expected, (done.events, expected)
        return done.events / done.seconds
    finally:
        await engine.dispose()


async def run(bootstrap: str, postgres_server: str, events: int) -> None:
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    load = workload(events)
    await publish(bootstrap, topics, load)
    rows = []
    raw = await raw_consume(bootstrap, topics, events)
    pg = await projection(await fresh_postgres(postgres_server), bootstrap, topics, events)
    rows.append(("PostgreSQL: projection on replay", pg, raw))
    raw = await raw_consume(bootstrap, topics, events)
    pg = await projection(await fresh_postgres(postgres_server), bootstrap, topics, events, 2)
    rows.append(("PostgreSQL: replay, 2 worker processes", pg, raw))
    raw = await raw_consume(bootstrap, topics, events)
    with tempfile.TemporaryDirectory() as folder:
        lite = await projection(f"sqlite+aiosqlite:///{folder}/bench.db", bootstrap, topics, events)
    rows.append(("SQLite: projection on replay", lite, raw))
    print(f"\n{events} events; baseline = raw aiokafka getmany of the same topics, same run")
    print(f"{'path':42} {'events/s':>10} {'baseline/s':>11} {'ratio':>6}")
    for name, rate, baseline in rows:
        print(f"{name:42} {rate:>10,.0f} {baseline:>11,.0f} {rate / baseline:>6.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    with infrastructure() as (kafka, postgres):
        asyncio.run(run(kafka, postgres, parser.parse_args().events))
