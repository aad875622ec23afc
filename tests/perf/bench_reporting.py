"""Reporting projection throughput on replay, beside raw aiokafka consumption of the same topics
measured in the same run on the same broker.

    python -m tests.perf.bench_reporting [--events N] [--villages N]      (make bench)
    python -m tests.perf.bench_reporting --suppression-only | --national-only [--villages N]
    python -m tests.perf.bench_reporting --projection-only [--events N]

A realistic mix of canonical events (screenings with their substances, enrolments, stage
changes, sessions held, activities, closures, units and agents) is published once to fresh
topics. Baseline: a raw aiokafka consumer `getmany`-ing every record of those topics. Measured:
`pulih reporting rebuild`'s path, which decodes, folds and upserts every event into a fresh
generation of the read model, positions committed per batch, then switches generations.
PostgreSQL and SQLite. Uses KAFKA_BOOTSTRAP_SERVERS and PULIH_TEST_POSTGRES_URL when set.

Suppression, twice more. (a) A province-year at national size (6,000 villages with units,
screenings by risk level, synthetic, no database): building and suppressing its cube as the
service does now (numbered cells in arrays), beside the same cube built and suppressed with
cells as objects (`tests/unit/reporting/reference.py`, the service's way until 2026-11-30) in
the same run; both withhold the same cells (asserted). (b) The read path on
the PostgreSQL read model just projected: the first table below province level of each
province as it was served before (suppressed on the request), beside the same tables read
from the cubes the background suppressor keeps; then indicator tables below province level
at a steady 200 requests/s (in-process `table()` calls, no HTTP), p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy import insert

from services.reporting import cube, db
from services.reporting.cube import Leaf
from services.reporting.db import MIGRATIONS
from services.reporting.figures import Ask, Period
from services.reporting.indicators import COUNTS
from services.reporting.queries import table
from services.reporting.rebuild import rebuild
from services.reporting.suppressed_cubes import store_of
from services.reporting.suppressor import Suppressor, settled
from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from shared.migrations import upgrade
from shared.persistence import create_engine
from tests.perf.bench_messaging import fresh_postgres, infrastructure
from tests.perf.results import record
from tests.reporting_events import activity, enrolled, screened, unit_formed
from tests.unit.contracts.examples import from_examples
from tests.unit.reporting import reference

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
    """Events/s of `pulih reporting rebuild` from offset 0 (the database is left in place)."""
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


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process on this machine, those ended and reaped
    included (0 where PostgreSQL runs elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
            times = stat[stat.rindex(")") + 2 :].split()[11:15]  # utime stime cutime cstime
            total += sum(int(t) for t in times)
    return total / tick


async def run(
    bootstrap: str, postgres_server: str, events: int, villages: int, projection_only: bool = False
) -> None:
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    # Not kept: a rebuild's process holds none of the events it replays (200,000 models made
    # every pass of the garbage collector over the heap several times longer).
    await publish(bootstrap, topics, workload(events))
    rows = []
    raw = raw_first = await raw_consume(bootstrap, topics, events)
    read_model = await fresh_postgres(postgres_server)
    ours, theirs = time.process_time(), postgres_cpu_seconds()
    pg = await projection(read_model, bootstrap, topics, events)
    ours, theirs = time.process_time() - ours, postgres_cpu_seconds() - theirs
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
        record(
            "b",
            f"{name} ({events:,} events)",
            f"{rate:,.0f} events/s ({rate / baseline:.0%})",
            f"raw `getmany` {baseline:,.0f}/s",
            "40 % of raw",
        )
    # What holds one process back: its own CPU and PostgreSQL's, on the same two cores.
    print(
        f"PostgreSQL, one process: CPU per event {ours / events * 1e6:.1f} µs in the "
        f"projector's process, {theirs / events * 1e6:.1f} µs in PostgreSQL's (raw `getmany`: "
        f"{1e6 / raw_first:.1f} µs of wall time per event)"
    )
    if projection_only:
        return
    await read_path(read_model)
    national_province(villages)
    national_closures()
    await national_read_path(await fresh_postgres(postgres_server), villages)


# --- suppression --------------------------------------------------------------------------


def province_villages(regencies: int, districts: int, villages: int) -> list[str]:
    """Village codes of Central Java (33): `villages` in each of `districts` in each of
    `regencies`."""
    return [
        f"33.{r:02d}.{d:02d}.{2000 + v}"
        for r in range(1, regencies + 1)
        for d in range(1, districts + 1)
        for v in range(1, villages + 1)
    ]


def national_province(villages: int, seed: int = 1) -> None:
    """(a) One province-year at national size, CPU only: build and suppress its cube."""
    rng = random.Random(seed)
    codes = province_villages(35, 30, 20)[:villages]
    levels = ("low", "moderate", "high")
    counted: Counter[tuple[str, str, str, str]] = Counter()
    for village in codes:
        for _ in range(rng.randrange(0, 40)):
            unit = f"unit-{village}-{rng.randrange(2)}"
            counted[village, f"2026-{rng.randrange(1, 13):02d}", rng.choice(levels), unit] += 1
    at = datetime(2026, 1, 1, tzinfo=UTC)
    leaves = [Leaf(v, m, p, n, n, at, at, u) for (v, m, p, u), n in counted.items()]
    gc.disable()  # as the service's suppressor does (`paused_gc`)
    try:
        started = time.process_time()
        written_first = [
            reference.Leaf(*(getattr(leaf, f.name) for f in fields(leaf))) for leaf in leaves
        ]
        before = reference.apply_suppression(
            reference.build(2026, written_first, codes, parts=levels), 5, min_units=3
        )
        baseline = time.process_time() - started
        started = time.process_time()
        now = cube.apply_suppression(cube.build(2026, leaves, codes, parts=levels), 5, min_units=3)
        measured = time.process_time() - started
    finally:
        gc.enable()
    withheld_now = int(now.withheld_mask().sum())
    assert {tuple(c) for c in now.withheld} == {tuple(c) for c in before.withheld}
    tracemalloc.start()
    cube.apply_suppression(cube.build(2026, leaves, codes, parts=levels), 5, min_units=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"\nsuppressing one province-year: {len(codes):,} villages with units, "
        f"{len(leaves):,} leaves, {withheld_now:,} cells withheld (both ways), CPU seconds; "
        f"peak memory while made (tracemalloc, the leaves aside): {peak / 2**20:.0f} MiB"
    )
    print(f"{'path':42} {'seconds':>10} {'baseline s':>11} {'ratio':>6}")
    ratio = measured / baseline
    print(f"{'build and suppress, as now':42} {measured:>10.2f} {baseline:>11.2f} {ratio:>6.0%}")
    kept = cube.kept(now)
    print(f"kept for requests: {kept.nbytes / 2**20:.1f} MiB ({len(kept.cells):,} figures)")
    record(
        "b",
        f"suppressing clients screened by risk, {len(codes):,} villages (CPU)",
        f"{measured:.2f} s",
        f"cells as objects {baseline:.2f} s",
        "a province-year < 1 s",
    )


def national_closures(shape: tuple[int, int, int] = (14, 14, 12), seed: int = 1) -> None:
    """(a) The largest cube of a province-year: closures by outcome refined by outcome and
    risk level, 36 parts, every table of both cut from it, over `shape` (regencies, districts
    of each, villages of each: 2,352 villages by default; East Java has about 8,500), with
    closures in most villages, then with none at all (a province with units and no facts)."""
    rng = random.Random(seed)
    codes = province_villages(*shape)
    outcomes = ("completed", "dropped_out", "referred", "moved", "died", "transferred", "other")
    risks = ("low", "moderate", "high", "unknown")
    crossed = tuple(f"{o},{r}" for o in outcomes for r in risks)
    coarse: Counter[tuple[str, str, str, str]] = Counter()
    fine: Counter[tuple[str, str, str, str]] = Counter()
    for village in codes:
        for _ in range(rng.randrange(0, 12)):
            month, outcome = f"2026-{rng.randrange(1, 13):02d}", rng.choice(outcomes)
            coarse[village, month, outcome, f"unit-{village}"] += 1
            fine[village, month, f"{outcome},{rng.choice(risks)}", f"unit-{village}"] += 1

    def made(module: Any, k: int = 5) -> Any:
        def leaves(counted: Counter[tuple[str, str, str, str]]) -> list[Any]:
            return [
                module.Leaf(v, m, p, n, n, None, None, u) for (v, m, p, u), n in counted.items()
            ]

        built = module.refine(
            module.build(2026, leaves(coarse), codes, parts=outcomes),
            module.build(2026, leaves(fine), codes, parts=crossed),
        )
        return module.apply_suppression(built, k, min_units=3)

    gc.disable()
    try:
        started = time.process_time()
        before = made(reference)
        baseline = time.process_time() - started
        started = time.process_time()
        now = made(cube)
        measured = time.process_time() - started
    finally:
        gc.enable()
    assert {tuple(c) for c in now.withheld} == {tuple(c) for c in before.withheld}
    tracemalloc.start()
    made(cube)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"\nclosures of a national province: {len(codes):,} villages, {len(now.parts)} parts, "
        f"{now.size:,} cells, {len(now.links.members):,} relation members, CPU seconds"
    )
    ratio = measured / baseline
    print(f"{'build and suppress, as now':42} {measured:>10.2f} {baseline:>11.2f} {ratio:>6.0%}")
    print(
        f"peak memory while made (tracemalloc): {peak / 2**20:.0f} MiB; "
        f"kept for requests: {cube.kept(now).nbytes / 2**20:.1f} MiB"
    )
    record(
        "b",
        f"suppressing closures by outcome and by outcome and risk, a national province "
        f"({len(codes):,} villages, {now.size:,} cells; CPU)",
        f"{measured:.2f} s, peak {peak / 2**20:.0f} MiB",
        f"cells as objects {baseline:.2f} s",
        "a province-year < 1 s",
    )
    coarse.clear()
    fine.clear()
    gc.disable()
    tracemalloc.start()
    try:
        started = time.process_time()
        empty = made(cube)
        measured = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert not empty.values.any() and empty.relate is not None, "relations made for nothing"
    print(
        f"the same with no closures at all: {measured:.2f} s, peak {peak / 2**20:.0f} MiB "
        "(tracemalloc on: CPU seconds a little high)"
    )


async def read_path(url: str, rate: float = 200, seconds: float = 10) -> None:
    """(b) Tables below province level: suppressed on the request (before) and read from the
    background suppressor's cubes (now)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.exec_driver_sql(
                "SELECT DISTINCT substr(village_code, 1, 2) FROM units "
                "WHERE village_code IS NOT NULL"
            )
            provinces = sorted(str(p) for (p,) in found.all())
        counts = [n for n, spec in COUNTS.items() if spec.client_derived]

        def ask(indicator: str, province: str, level: str = "regency") -> Ask:
            return Ask(indicator, Period.parse("2026"), level, province, None, k=5, min_units=3)

        async def timed(a: Ask) -> float:
            started = time.perf_counter()
            async with engine.connect() as connection:
                await table(connection, a)
            return time.perf_counter() - started

        store = store_of(engine)
        before = [await timed(ask("clients_screened", p)) for p in provinces]  # no suppressor
        store.cubes.clear()
        store.built_on.clear()
        stop = asyncio.Event()
        suppressor = Suppressor(engine, k=5, min_units=3, budget=2**32)
        started = time.perf_counter()
        background = asyncio.create_task(suppressor.run(stop))
        while len(store.cubes) < len(provinces) or not await settled(engine):  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the suppressor is another task
        made = time.perf_counter() - started
        first = [await timed(ask("clients_screened", p)) for p in provinces]
        rng = random.Random(3)
        latencies: list[float] = []
        tasks = []
        t0 = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, t0 + n / rate - time.perf_counter()))
            a = ask(
                rng.choice(counts),
                rng.choice(provinces),
                rng.choice(("regency", "district", "village")),
            )
            tasks.append(asyncio.create_task(timed(a)))
            if len(tasks) >= 50:
                latencies += await asyncio.gather(*tasks)
                tasks = []
        latencies += await asyncio.gather(*tasks)
        achieved = len(latencies) / (time.perf_counter() - t0)
        stop.set()
        await background
    finally:
        await engine.dispose()
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"\nread path on this run's PostgreSQL read model ({len(provinces)} provinces); "
        f"the background suppressor made {suppressor.made} cubes in {made:.1f} s"
    )
    print(f"{'path':58} {'ms':>8} {'baseline ms':>12}")
    print(
        f"{'first regency table of each province, median':58} "
        f"{statistics.median(first) * 1000:>8.1f} {statistics.median(before) * 1000:>12.1f}"
    )
    print(
        f"{'first regency table of each province, slowest':58} "
        f"{max(first) * 1000:>8.1f} {max(before) * 1000:>12.1f}"
    )
    print(
        f"tables below province level at {achieved:.0f} requests/s for {seconds:.0f} s: "
        f"p50 {ms[len(ms) // 2]:.1f} ms, p99 {ms[int(len(ms) * 0.99)]:.1f} ms, "
        f"max {ms[-1]:.1f} ms ({len(ms)} requests)"
    )


async def national_read_path(url: str, villages: int, seed: int = 2) -> None:
    """(c) A province at national size in a PostgreSQL read model (written directly, not
    projected): its first table below province level suppressed on the request as before,
    beside tables read while the background suppressor keeps the province's cubes."""
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "reporting")
    engine = create_engine(url)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    codes = province_villages(35, 30, 20)[:villages]
    units = [
        {"unit_id": f"u{n}-{v}", "village_code": v}
        for v in codes
        for n in range(rng.randrange(1, 3))
    ]
    screenings = [
        {
            "generation": 1,
            "case_id": str(uuid.uuid4()),
            "unit_id": u["unit_id"],
            "village_code": u["village_code"],
            "screened_on": date(2026, 1, 1) + timedelta(days=rng.randrange(300)),
            "risk_level": rng.choice(("low", "moderate", "high")),
            "injecting": False,
            "events": 1,
            "last_event_at": now,
            "last_received_at": now,
        }
        for u in units
        for _ in range(rng.randrange(0, 25))
    ]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(db.generations).values(id=1, current=1, switched_at=now)
            )
            await connection.execute(
                insert(db.units),
                [
                    {
                        "generation": 1,
                        "unit_id": u["unit_id"],
                        "village_code": u["village_code"],
                        "formed_on": date(2025, 1, 1),
                        "events": 1,
                        "last_event_at": now,
                        "last_received_at": now,
                    }
                    for u in units
                ],
            )
            await connection.execute(insert(db.screenings), screenings)
            await connection.execute(
                insert(db.cube_changes),
                [
                    {
                        "generation": 1,
                        "province_code": "33",
                        "year": y,
                        "version": 1,
                        "changed_at": now,
                    }
                    for y in (0, 2026)
                ],
            )

        def ask(level: str) -> Ask:
            return Ask(
                "clients_screened", Period.parse("2026"), level, "33", None, k=5, min_units=3
            )

        async def timed(a: Ask) -> float:
            started = time.perf_counter()
            async with engine.connect() as connection:
                await table(connection, a)
            return time.perf_counter() - started

        store = store_of(engine)
        before = await timed(ask("regency"))  # suppressed on the request, as before
        store.cubes.clear()
        store.built_on.clear()
        stop = asyncio.Event()
        suppressor = Suppressor(engine, k=5, min_units=3, budget=2**30)
        started = time.perf_counter()
        background = asyncio.create_task(suppressor.run(stop))
        key = ("count", "clients_screened", 1, 2026, "33", None, 5, 3)
        while key not in store.cubes:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # the suppressor is another task
        made = time.perf_counter() - started
        latencies = []
        for n in range(150):  # while the suppressor goes on making the province's other cubes
            latencies.append(await timed(ask(("regency", "district", "village")[n % 3])))
        stop.set()
        await background
    finally:
        await engine.dispose()
    first, ms = latencies[0] * 1000, sorted(x * 1000 for x in latencies)
    print(
        f"\na province at national size in PostgreSQL: {len(codes):,} villages, "
        f"{len(units):,} units, {len(screenings):,} screenings"
    )
    print(f"{'path':58} {'ms':>8} {'baseline ms':>12}")
    print(
        f"{'first clients_screened table below province level':58} "
        f"{first:>8.1f} {before * 1000:>12.1f}"
    )
    print(
        f"150 tables (regency, district, village) one after another: p50 {ms[75]:.1f} ms, "
        f"p99 {ms[148]:.1f} ms, max {ms[-1]:.1f} ms; the suppressor made that cube "
        f"{made:.1f} s after it started, in the background"
    )


def _shape(text: str) -> tuple[int, int, int]:
    regencies, districts, villages = (int(n) for n in text.split("x"))
    return regencies, districts, villages


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--villages", type=int, default=6_000)
    parser.add_argument(
        "--closures-shape",
        type=_shape,
        default=(14, 14, 12),
        help="regencies x districts x villages of the closures cube (East Java: 38x18x12)",
    )
    parser.add_argument("--suppression-only", action="store_true", help="(a) only")
    parser.add_argument("--national-only", action="store_true", help="(a) and (c) only")
    parser.add_argument(
        "--projection-only", action="store_true", help="the projection's three rows only"
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    if args.suppression_only:
        national_province(args.villages)
        national_closures(args.closures_shape)
    elif args.national_only:
        national_province(args.villages)
        national_closures(args.closures_shape)
        with infrastructure(kafka=False) as (_, postgres):
            asyncio.run(national_read_path(asyncio.run(fresh_postgres(postgres)), args.villages))
    else:
        with infrastructure() as (kafka, postgres):
            asyncio.run(run(kafka, postgres, args.events, args.villages, args.projection_only))
