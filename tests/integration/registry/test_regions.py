"""The whole official region tree loads from the data package, with the decree's counts,
its edition recorded, time zones per province, and a second load changing nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.registry.db import MIGRATIONS, offices, region_editions, regions
from services.registry.regions import RegionSource, load_regions
from shared.migrations import upgrade
from shared.persistence import create_engine


async def test_full_tree_loads_with_the_2025_counts_and_reloads_idempotently(
    database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "registry")
    engine = create_engine(database_url)
    source = RegionSource.installed()
    first = await load_regions(engine, source, bnnk_regencies=["74.71", "96.71"])
    assert source.edition == "Kepmendagri 300.2.2-2138/2025"
    expected = {"province": 38, "regency": 514, "district": 7285, "village": 83762}
    assert first.counts == expected

    second = await load_regions(engine, source, bnnk_regencies=["74.71", "96.71"])
    assert second.counts == expected
    async with engine.connect() as connection:
        per_level = dict(
            (
                await connection.execute(
                    select(regions.c.level, func.count()).group_by(regions.c.level)
                )
            ).all()
        )
        papua_barat_daya = (
            (await connection.execute(select(regions).where(regions.c.code == "96")))
            .mappings()
            .one()
        )
        sorong = (
            (await connection.execute(select(regions.c.name).where(regions.c.parent_code == "96")))
            .scalars()
            .all()
        )
        office_codes = set((await connection.execute(select(offices.c.code))).scalars())
        editions = (await connection.execute(select(region_editions))).mappings().all()
        jakarta = (
            await connection.execute(select(regions.c.time_zone).where(regions.c.code == "31"))
        ).scalar_one()
        makassar = (
            await connection.execute(select(regions.c.time_zone).where(regions.c.code == "73"))
        ).scalar_one()
    await engine.dispose()

    assert per_level == expected  # nothing duplicated by the second load
    assert papua_barat_daya["name"] == "Papua Barat Daya"
    assert papua_barat_daya["time_zone"] == "WIT"
    assert (jakarta, makassar) == ("WIB", "WITA")
    assert "Kota Sorong" in sorong and len(sorong) == 6
    assert len({c for c in office_codes if c.startswith("BNNP-")}) == 38
    assert {c for c in office_codes if c.startswith("BNNK-")} == {"BNNK-74.71", "BNNK-96.71"}
    assert [(e["edition"], e["counts"]) for e in editions] == [
        ("Kepmendagri 300.2.2-2138/2025", expected)
    ]
