"""The run-wide privacy search (tests/privacy.py) finds a value wherever a record carried it:
key, value or header, and in a transaction that was aborted, which no reader ever sees."""

from __future__ import annotations

import uuid

from shared.messaging.broker import Topics, ensure_topics, make_producer
from tests.privacy import Broker, search_the_broker


async def test_the_search_finds_a_value_in_any_part_of_any_record_aborted_too(
    kafka_broker: Broker, topics: Topics
) -> None:
    in_key, in_header, aborted, never_sent = (f"canary-{uuid.uuid4().hex}" for _ in range(4))
    topic = topics.name("privacy-canary")
    await ensure_topics(kafka_broker.bootstrap_servers, {topic: 1})
    producer = make_producer(
        kafka_broker.bootstrap_servers,
        client_id="privacy-canary",
        transactional_id=f"{topics.prefix}privacy-canary",
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, key=in_key.encode(), value=b"{}")
            await producer.send(topic, value=b"{}", headers=[("note", in_header.encode())])
        await producer.begin_transaction()
        await producer.send_and_wait(topic, value=f'{{"nik": "{aborted}"}}'.encode())
        await producer.abort_transaction()
    finally:
        await producer.stop()

    found = await search_the_broker(kafka_broker, (in_key, in_header, aborted, never_sent))

    assert found == {in_key, in_header, aborted}
