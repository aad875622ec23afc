"""An answer built from several statements reads one state of the database: a batch committed
between two of its statements is not half in it."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from shared.persistence import create_engine, snapshot

metadata = MetaData()
facts = Table("facts", metadata, Column("id", Integer, primary_key=True))


async def test_a_commit_between_two_reads_of_a_snapshot_is_not_seen(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)  # one connection, used again and again
    counted = select(func.count()).select_from(facts)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(facts).values(id=1))
        async with snapshot(engine) as reading:
            assert await reading.scalar(counted) == 1
            async with engine.begin() as writing:  # a projected batch lands meanwhile
                await writing.execute(insert(facts), [{"id": 2}, {"id": 3}])
            assert await reading.scalar(counted) == 1
        async with snapshot(engine) as reading:  # the next answer sees it
            assert await reading.scalar(counted) == 3
        async with engine.begin() as writing:  # back in the pool, the connection writes again
            await writing.execute(insert(facts).values(id=4))
        async with engine.connect() as connection:  # and reads afresh
            assert await connection.scalar(counted) == 4
    finally:
        await engine.dispose()
