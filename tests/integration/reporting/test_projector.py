"""The projector applies each record once per read model, on both databases: a batch fetched
again (after a seek while the one before it was being written) is refused, and a second
projector that finds the positions moved under it writes nothing."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from services.reporting import db
from services.reporting.projector.consumer import PositionsMoved, Projector
from shared.messaging.broker import Topics, make_consumer, partitions_of
from shared.migrations import upgrade
from shared.persistence import create_engine
from tests.reporting_events import publish, screened

VILLAGE = "74.71.01.1001"
UNIT = "unit-a-000000000001"


async def test_a_batch_is_applied_once_however_often_it_is_fetched(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    await asyncio.to_thread(upgrade, db.MIGRATIONS, database_url, "reporting")
    engine = create_engine(database_url)
    await publish(
        kafka_bootstrap, topics, [screened(UNIT, VILLAGE, date(2026, 3, n + 1)) for n in range(10)]
    )
    topic = topics.name("ibm.client-case")
    consumers = []
    try:
        projectors = []
        for _ in range(2):
            consumer = make_consumer(kafka_bootstrap, group_id=None, client_id="test-projector")
            await consumer.start()
            consumers.append(consumer)
            partitions = await partitions_of(kafka_bootstrap, topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            projector = Projector(
                engine=engine, consumer=consumer, producer=None, dead_letter_topic="unused"
            )
            await projector.resume(partitions)
            projectors.append(projector)
        first, second = projectors

        records = []
        async with asyncio.timeout(30):
            while len(records) < 10:
                records += await first._fetch(500)
        again = first.prepare(records)  # the same records, prepared before the write below
        assert await first.write(first.prepare(records)) == 10
        with pytest.raises(PositionsMoved):
            await first.write(again)
        with pytest.raises(PositionsMoved):  # a replica that had not seen the write
            await second.write(second.prepare(records))

        async with engine.connect() as connection:
            rows, events = (
                await connection.execute(
                    select(func.count(), func.sum(db.screenings.c.events)).select_from(
                        db.screenings
                    )
                )
            ).one()
        assert (rows, events) == (10, 10)
    finally:
        for consumer in consumers:
            await consumer.stop()
        await engine.dispose()
