"""The projector's binary COPY encoder (`services.reporting.copying`, in C): every kind of
column it writes comes back from a real PostgreSQL as it was given (what it refuses:
tests/unit/reporting/test_copying.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, select

from services.reporting import copying, db
from shared.migrations import upgrade
from shared.persistence import create_engine

_metadata = MetaData()
KINDS = Table(
    "copy_kinds",
    _metadata,
    Column("generation", Integer, primary_key=True),
    Column("id", Integer, primary_key=True),
    Column("number", Integer),
    Column("label", String(200)),
    Column("day", Date),
    Column("at", DateTime(timezone=True)),
    Column("flag", Boolean),
)
COLUMNS = copying.columns_of(KINDS)


class Level(StrEnum):
    HIGH = "high"


JAKARTA = ZoneInfo("Asia/Jakarta")
ROWS: list[dict[str, Any]] = [
    {"id": 1, "number": 0, "label": "", "day": date(2000, 1, 1), "flag": False,
     "at": datetime(2000, 1, 1, tzinfo=UTC)},
    {"id": 2, "number": -1, "label": "Sinar Madani — Ñusa 漢字 😀", "day": date(1999, 12, 31),
     "at": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "flag": True},
    {"id": 3, "number": 2**31 - 1, "label": Level.HIGH, "day": date(1, 1, 1),
     "at": datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=7)))},
    {"id": 4, "number": -(2**31), "day": date(9999, 12, 31),
     "at": datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))},
    {"id": 5, "label": None, "at": datetime(2026, 7, 1, 8, 15, 30, 250000, tzinfo=JAKARTA),
     "extra": "not a column"},
    {"id": 6, "day": date(2024, 2, 29),
     "at": datetime(1900, 3, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=45)))},
]  # fmt: skip


async def test_every_kind_comes_back_from_postgresql_as_it_was_given(postgres_url: str) -> None:
    await asyncio.to_thread(upgrade, db.MIGRATIONS, postgres_url, "reporting")
    engine = create_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_metadata.create_all)
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.copy_to_table(
                "copy_kinds",
                source=memoryview(copying.rows(iter(ROWS), COLUMNS, 7)),
                columns=[name for name, _ in COLUMNS],
                format="binary",
            )
            ids = ["0f9c7f8e-8a0b-4c2e-9a43-1d2b3c4d5e6f", "relay-é-2", "x" * 128]
            await driver.copy_to_table(
                "projected_events",
                source=memoryview(copying.ids(ids, 3)),
                columns=["generation", "event_id"],
                format="binary",
            )
        async with engine.connect() as connection:
            found = (await connection.execute(select(KINDS).order_by(KINDS.c.id))).all()
            recorded = (await connection.execute(select(db.projected_events))).all()
    finally:
        await engine.dispose()

    assert [tuple(r) for r in found] == [
        (7, *(row.get(name) for name, _ in COLUMNS[1:])) for row in ROWS
    ]
    assert {tuple(r) for r in recorded} == {(3, i) for i in ids}
    assert found[4].at == datetime(2026, 7, 1, 1, 15, 30, 250000, tzinfo=UTC)


async def test_a_fact_tables_columns_are_copied_in_the_tables_order(postgres_url: str) -> None:
    """`columns_of` knows every column of every fact table, in the order PostgreSQL's
    migrated tables have them (the COPY names them, but a new column must have a kind)."""
    await asyncio.to_thread(upgrade, db.MIGRATIONS, postgres_url, "reporting")
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            for table in db.FACT_TABLES:
                migrated = await connection.exec_driver_sql(
                    "SELECT column_name FROM information_schema.columns "
                    f"WHERE table_name = '{table.name}' ORDER BY ordinal_position"
                )
                assert [name for name, _ in copying.columns_of(table)] == list(
                    migrated.scalars()
                ), table.name
    finally:
        await engine.dispose()
