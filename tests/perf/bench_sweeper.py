"""The sweeper on a national day's open sessions, beside reading them all.

    python -m tests.perf.bench_sweeper [--cases 60000] [--postgresql]     (make bench)

Seeds scheduling's own tables (SQLite, or PostgreSQL with `--postgresql`) with `--cases`
enrolled cases of 16 weekly sessions each, screened over the last 16 weeks in every province,
the sessions already past done, then times `sweeper.sweep_once`:
- the first sweep (every session put in the state its day gives it; the misses published),
- a sweep a minute later (nothing to move: what the service does 1,440 times a day),
- a sweep the next day (a seventh of the cases have a session turn due, overdue or missed).
Baseline, same run and database: reading every open session with its case and unit, as the
sweeper did before it was set-based, every minute, with nothing to move.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from services.scheduling import sweeper
from services.scheduling.db import MIGRATIONS, cases, plans, platform, sessions, units
from services.scheduling.records import OPEN_STATES, SESSION_ROW
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.regions import PROVINCE_CODES
from tests.perf.bench_messaging import fresh_postgres, infrastructure

NOW = datetime(2026, 11, 30, 3, tzinfo=UTC)  # 10:00 in Jakarta, 12:00 in Jayapura
CHUNK = 5_000


async def seed(url: str, count: int) -> None:
    engine = create_engine(url)
    rng = random.Random(15)
    today = NOW.date()
    unit_ids = [f"unit-bench-{i:08d}" for i in range(max(1, count // 12))]
    async with engine.begin() as connection:
        await connection.execute(
            insert(units),
            [
                {
                    "unit_id": u,
                    "province_code": (p := PROVINCE_CODES[i % len(PROVINCE_CODES)]),
                    "village_code": f"{p}.01.01.1001",
                    "status": "active",
                }
                for i, u in enumerate(unit_ids)
            ],
        )
    for first in range(0, count, CHUNK):
        case_rows, plan_rows, session_rows = [], [], []
        for n in range(first, min(count, first + CHUNK)):
            case, unit = f"case-bench-{n:08d}", unit_ids[n % len(unit_ids)]
            screened = today - timedelta(days=rng.randrange(112))
            case_rows.append(
                {"case_id": case, "unit_id": unit, "client_ref": f"{n:064x}", "closed": False}
            )
            plan = f"plan-bench-{n:08d}"
            plan_rows.append(
                {"plan_id": plan, "case_id": case, "template": "t", "starts_on": screened}
            )
            for week in range(1, 17):
                due = screened + timedelta(days=7 * week - 1)
                session_rows.append(
                    {
                        "session_id": f"session-{n:08d}-{week:02d}",
                        "plan_id": plan,
                        "case_id": case,
                        "week": week,
                        "session_type": "individual_counselling",
                        "due_on": due,
                        "agent_id": f"agent-{unit}",
                        # What was due a week ago was mostly held; one in ten was not recorded.
                        "state": "done"
                        if due < today - timedelta(7) and rng.random() < 0.9
                        else "planned",
                    }
                )
        async with engine.begin() as connection:
            await connection.execute(insert(cases), case_rows)
            await connection.execute(insert(plans), plan_rows)
            await connection.execute(insert(sessions), session_rows)
    await engine.dispose()


async def measure(url: str, count: int, name: str) -> list[tuple[str, float, int]]:
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "scheduling")
    await seed(url, count)
    engine = create_engine(url)
    factory = session_factory(engine)
    outbox = Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics())
    figures: list[tuple[str, float, int]] = []

    async def sweep(at: datetime, what: str) -> None:
        started = time.perf_counter()
        moved = await sweeper.sweep_once(factory, outbox, now=at, grace_days=7, drop_out_after=3)
        figures.append((what, time.perf_counter() - started, sum(moved.values())))

    await sweep(NOW, "first sweep")
    started = time.perf_counter()
    async with engine.connect() as connection:
        open_rows = (
            await connection.execute(SESSION_ROW.where(sessions.c.state.in_(OPEN_STATES)))
        ).all()
    baseline = time.perf_counter() - started
    await sweep(NOW + timedelta(minutes=1), "a minute later")
    await sweep(NOW + timedelta(days=1), "the next day")
    await engine.dispose()
    print(
        f"\n{name}: {count:,} cases, {count * 16:,} sessions, {len(open_rows):,} open; "
        f"baseline: reading the open sessions {baseline:.2f} s"
    )
    print(f"{'sweep':18} {'seconds':>8} {'moved':>8}")
    for what, seconds, moved in figures:
        print(f"{what:18} {seconds:>8.2f} {moved:>8,}")
    return figures


async def main(count: int, postgresql: bool) -> None:
    if postgresql:
        with infrastructure(kafka=False) as (_kafka, server):
            await measure(await fresh_postgres(server), count, "PostgreSQL")
        return
    with tempfile.TemporaryDirectory() as folder:
        await measure(f"sqlite+aiosqlite:///{folder}/scheduling.db", count, "SQLite")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=60_000)
    parser.add_argument("--postgresql", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.postgresql))
