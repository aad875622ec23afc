"""The projector applies each record once per read model, on both databases: a batch fetched
again (after a seek while the one before it was being written) is refused, a second
projector that finds the positions moved under it writes nothing, and an event a relay
delivers again at a new offset, in a later batch, changes nothing while the rest of that
batch is applied."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import db
from services.reporting.projector.consumer import Projector
from services.reporting.projector.writing import PositionsMoved
from shared.contracts.base import EventData
from shared.messaging.broker import Topics, make_consumer, partitions_of
from shared.migrations import upgrade
from shared.persistence import create_engine
from tests.reporting_events import WITA, closed, enrolled, publish, screened

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
    consumers: list[AIOKafkaConsumer] = []
    try:
        first = await _projector(engine, kafka_bootstrap, topics, consumers)
        second = await _projector(engine, kafka_bootstrap, topics, consumers)

        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(30):
            while len(records) < 10:
                records += await first._fetch(500)
        again = first.prepare(records)  # the same records, prepared before the write below
        assert await first.write(first.prepare(records)) == 10
        with pytest.raises(PositionsMoved):
            await first.write(again)
        with pytest.raises(PositionsMoved):  # a replica that had not seen the write
            await second.write(second.prepare(records))

        assert await _screenings(engine) == (10, 10, date(2026, 3, 10))
    finally:
        for consumer in consumers:
            await consumer.stop()
        await engine.dispose()


async def _projector(
    engine: AsyncEngine, bootstrap: str, topics: Topics, consumers: list[AIOKafkaConsumer]
) -> Projector:
    """A projector of the client-case topic from its start, on a consumer of its own (kept in
    `consumers`, to be stopped)."""
    consumer = make_consumer(bootstrap, group_id=None, client_id="test-projector")
    await consumer.start()
    consumers.append(consumer)
    partitions = await partitions_of(bootstrap, topics.name("ibm.client-case"))
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    projector = Projector(
        engine=engine, consumer=consumer, producer=None, dead_letter_topic="unused"
    )
    await projector.resume(partitions)
    return projector


async def _screenings(engine: AsyncEngine) -> tuple[int, int, date]:
    async with engine.connect() as connection:
        counted = await connection.execute(
            select(
                func.count(),
                func.sum(db.screenings.c.events),
                func.max(db.screenings.c.screened_on),
            ).select_from(db.screenings)
        )
        rows, events, latest = counted.one()
    return rows, events, latest


async def test_an_event_delivered_again_in_a_later_batch_counts_once_and_the_rest_is_applied(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    await asyncio.to_thread(upgrade, db.MIGRATIONS, database_url, "reporting")
    engine = create_engine(database_url)
    first = [screened(UNIT, VILLAGE, date(2026, 3, n + 1)) for n in range(3)]
    await publish(
        kafka_bootstrap, topics, [(e, {"event_id": f"screened-{n}"}) for n, e in enumerate(first)]
    )
    consumers: list[AIOKafkaConsumer] = []
    try:
        projector = await _projector(engine, kafka_bootstrap, topics, consumers)

        async def batch(count: int) -> int:
            records: list[ConsumerRecord[bytes, bytes]] = []
            async with asyncio.timeout(30):
                while len(records) < count:
                    records += await projector._fetch(500)
            return await projector.write(projector.prepare(records))

        assert await batch(3) == 3
        assert await _screenings(engine) == (3, 3, date(2026, 3, 3))

        # The relay publishes the second screening again (same id, new offset), then a new one.
        later = screened(UNIT, VILLAGE, date(2026, 4, 1))
        await publish(kafka_bootstrap, topics, [(first[1], {"event_id": "screened-1"}), later])
        assert await batch(2) == 1
        assert await _screenings(engine) == (4, 4, date(2026, 4, 1))
    finally:
        for consumer in consumers:
            await consumer.stop()
        await engine.dispose()


async def test_a_row_written_by_an_earlier_batch_is_merged_not_copied_over(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """On PostgreSQL a batch's rows are COPYed as new; a row already there fails its table's
    COPY and the table is merged from then on. Either way, and on SQLite, a later event
    fills what it knows and keeps the rest, and the lineage adds up."""
    await asyncio.to_thread(upgrade, db.MIGRATIONS, database_url, "reporting")
    engine = create_engine(database_url)
    one, two = "case-000000000001", "case-000000000002"
    march, june, june_21, september = (
        date(2026, 3, 2),
        date(2026, 6, 20),
        date(2026, 6, 21),
        date(2026, 9, 1),
    )
    await publish(kafka_bootstrap, topics, [enrolled(UNIT, VILLAGE, one, march)])
    consumers: list[AIOKafkaConsumer] = []
    try:
        projector = await _projector(engine, kafka_bootstrap, topics, consumers)

        async def batch(*events: EventData, published: int = 0) -> int:
            """Publish `events` and write them, with the `published` ones before them."""
            await publish(kafka_bootstrap, topics, events)
            records: list[ConsumerRecord[bytes, bytes]] = []
            async with asyncio.timeout(30):
                while len(records) < len(events) + published:
                    records += await projector._fetch(500)
            return await projector.write(projector.prepare(records))

        assert await batch(published=1) == 1  # the enrolment
        assert await _cases(engine) == {one: (march, "voluntary", None, None, 1, march)}
        two_enrolled = enrolled(UNIT, VILLAGE, two, june_21, route="compulsory")
        assert await batch(closed(UNIT, VILLAGE, one, june), two_enrolled) == 2
        assert await batch(closed(UNIT, VILLAGE, two, september, "dropped_out")) == 1
        assert await _cases(engine) == {
            one: (march, "voluntary", june, "completed", 2, june),
            two: (june_21, "compulsory", september, "dropped_out", 2, september),
        }
        if database_url.startswith("postgresql"):  # the second batch's COPY of cases failed
            assert projector._merging == {db.cases}
    finally:
        for consumer in consumers:
            await consumer.stop()
        await engine.dispose()


async def _cases(engine: AsyncEngine) -> dict[str, tuple[object, ...]]:
    """Each case's enrolment, route, closure, outcome, events and the day of its latest
    fact (in the province's time zone, WITA)."""
    c = db.cases.c
    async with engine.connect() as connection:
        found = await connection.execute(
            select(
                c.case_id,
                c.enrolled_on,
                c.admission_route,
                c.closed_on,
                c.outcome,
                c.events,
                c.last_event_at,
            )
        )
        return {
            case_id: (*rest, latest.astimezone(WITA).date())
            for case_id, *rest, latest in found.all()
        }
