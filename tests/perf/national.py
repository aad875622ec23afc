"""A reporting read model of national size, written directly (as a rebuild would leave it):
the load for read latency and background suppression at the scale the goals are set for.

Indonesia's own villages (the region tree the registry loads: about 84,000 in 38 provinces,
from a few hundred in the smallest to about 8,500 in Central and East Java), `units` units
spread over them (one per village, some with two) and `clients` people screened this year at
those units, by risk level. (Until 2026-11-30 every province had 14 regencies of 14 districts
of 12 villages, 2,352: the largest province-year was 3.6 times what it measured.)
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from services.reporting import db
from services.reporting.db import MIGRATIONS
from shared.migrations import upgrade
from shared.persistence import create_engine
from shared.regions import PROVINCE_CODES
from tests.perf.bench_ingest import villages

NATIONAL_INDICATORS = ("clients_screened", "units_formed")
"""What the national read phase asks, nationally and in each province by regency."""

RISK = ("low",) * 5 + ("moderate",) * 4 + ("high",)


def _chunks(rows: Iterator[dict[str, Any]], size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed_national_read_model(
    url: str, units: int = 100_000, clients: int = 1_000_000, seed: int = 3
) -> dict[str, int]:
    """Write the read model at `url` (migrated here); how many of each were written."""
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "reporting")
    rng = random.Random(seed)
    now = datetime.now(UTC)
    year = now.year
    codes = villages()
    placed = [codes[n % len(codes)] for n in range(units)]  # every village one, some two
    unit_rows = [
        {
            "generation": 1,
            "unit_id": f"national-unit-{n:06d}",
            "village_code": village,
            "formed_on": date(rng.choice((year - 2, year - 1, year)), 1, 1)
            + timedelta(days=rng.randrange(300)),
            "status": "active",
            "events": 1,
            "last_event_at": now,
            "last_received_at": now,
        }
        for n, village in enumerate(placed)
    ]
    days = (now.date() - date(year, 1, 1)).days

    def screenings() -> Iterator[dict[str, Any]]:
        for _ in range(clients):
            unit = unit_rows[rng.randrange(units)]
            yield {
                "generation": 1,
                "case_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "unit_id": unit["unit_id"],
                "village_code": unit["village_code"],
                "screened_on": date(year, 1, 1) + timedelta(days=rng.randrange(days)),
                "risk_level": rng.choice(RISK),
                "injecting": False,
                "events": 1,
                "last_event_at": now,
                "last_received_at": now,
            }

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(db.generations).values(id=1, current=1, switched_at=now)
            )
            for chunk in _chunks(iter(unit_rows)):
                await connection.execute(insert(db.units), chunk)
            for chunk in _chunks(screenings()):
                await connection.execute(insert(db.screenings), chunk)
            await connection.execute(
                insert(db.cube_changes),
                [
                    {
                        "generation": 1,
                        "province_code": p,
                        "year": y,
                        "version": 1,
                        "changed_at": now,
                    }
                    for p in PROVINCE_CODES
                    for y in (0, year)
                ],
            )
    finally:
        await engine.dispose()
    return {"villages": len(codes), "units": units, "screenings": clients}
