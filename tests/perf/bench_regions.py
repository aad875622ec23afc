"""Loading the official region tree (91,599 rows) beside the floor of this machine.

    python -m tests.perf.bench_regions          (make bench)

Baseline: a raw COPY (PostgreSQL) or executemany (SQLite) of the same rows into a bare table
with no key, index or upsert, in the same run. Measured: `load_regions` into the registry's
real tables (keys, indexes, upsert), first into an empty database, then again (a refresh
that changes nothing).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from services.registry.db import MIGRATIONS
from services.registry.regions import COLUMNS, RegionSource, load_regions
from shared.migrations import upgrade
from shared.persistence import create_engine
from tests.perf.bench_messaging import fresh_postgres, infrastructure


async def postgres_rows(server: str, source: RegionSource) -> list[tuple[str, float, float]]:
    rows = list(source.rows())
    bare_url = await fresh_postgres(server)
    engine = create_engine(bare_url)
    async with engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None, "asyncpg's connection"
        await raw.execute(
            "CREATE TABLE bare (code text, level text, name text, parent_code "
            "text, province_code text, time_zone text, edition text)"
        )
        started = time.perf_counter()
        await raw.copy_records_to_table("bare", records=rows, columns=list(COLUMNS))
        baseline = time.perf_counter() - started
    await engine.dispose()

    url = await fresh_postgres(server)
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "registry")
    engine = create_engine(url)
    first = await load_regions(engine, source, bnnk_regencies="all")
    again = await load_regions(engine, source, bnnk_regencies="all")
    await engine.dispose()
    return [
        ("PostgreSQL: first load", first.seconds, baseline),
        ("PostgreSQL: reload, nothing changed", again.seconds, baseline),
    ]


async def sqlite_rows(source: RegionSource) -> list[tuple[str, float, float]]:
    rows = list(source.rows())
    with tempfile.TemporaryDirectory() as folder:
        bare = sqlite3.connect(Path(folder) / "bare.db")
        bare.execute(f"CREATE TABLE bare ({', '.join(COLUMNS)})")
        started = time.perf_counter()
        with bare:
            bare.executemany(f"INSERT INTO bare VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        baseline = time.perf_counter() - started
        bare.close()
        url = f"sqlite+aiosqlite:///{folder}/registry.db"
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "registry")
        engine = create_engine(url)
        first = await load_regions(engine, source, bnnk_regencies="all")
        again = await load_regions(engine, source, bnnk_regencies="all")
        await engine.dispose()
    return [
        ("SQLite: first load", first.seconds, baseline),
        ("SQLite: reload, nothing changed", again.seconds, baseline),
    ]


async def run(postgres_server: str) -> None:
    source = RegionSource.installed()
    results = await postgres_rows(postgres_server, source) + await sqlite_rows(source)
    count = sum(1 for _ in source.rows())
    print(
        f"\n{count:,} regions ({source.edition}, {source.package}); "
        "baseline = bare insert of the same rows, same run"
    )
    print(f"{'path':38} {'seconds':>8} {'baseline s':>11} {'x baseline':>11}")
    for name, seconds, baseline in results:
        print(f"{name:38} {seconds:>8.2f} {baseline:>11.2f} {seconds / baseline:>10.1f}x")


if __name__ == "__main__":
    with infrastructure(kafka=False) as (_kafka, postgres):
        asyncio.run(run(postgres))
