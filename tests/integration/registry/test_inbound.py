"""A province publishes registry facts on its inbound topic: valid ones become canonical
events with an `EventAccepted` receipt; invalid or out-of-scope ones get an `EventRejected`
receipt naming every reason; a redelivery changes nothing; nothing blocks the partition."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

from services.registry.app import SPEC
from services.registry.settings import Settings
from shared.contracts import registry as events
from shared.contracts.envelope import from_kafka_lean, to_kafka, wrap
from shared.contracts.platform import EventAccepted, EventRejected
from shared.contracts.types import UnitFormation
from shared.messaging.broker import Topics, make_producer, topic_size
from shared.runtime import Runtime
from tests.auth import bearer
from tests.bus import read_events, read_topic
from tests.integration.registry.conftest import Registry

SOURCE = "/provinces/74/simrehab"


def unit_formed(unit_id: str, village: str, **changes: object) -> events.UnitFormed:
    fields: dict[str, object] = {
        "unit_id": unit_id,
        "province_code": village[:2],
        "village_code": village,
        "unit_name": "Harapan Baru",
        "formed_on": date(2025, 6, 2),
        "decree_number": "07/SK/2025",
        "decree_date": date(2025, 6, 1),
        "formation": UnitFormation.MANDIRI,
        "facilitating_office": "BNNK-74.71",
    }
    fields.update(changes)
    return events.UnitFormed(**fields)  # type: ignore[arg-type]


async def test_province_facts_become_canonical_events_with_receipts(registry: Registry) -> None:
    inbound = registry.topics.name("ibm.inbound.74")
    receipts = registry.topics.name("ibm.receipts.74")
    ours, theirs = await registry.village(), await registry.village("74.71.02")
    sulsel = await registry.village("73.71.01")
    accepted = wrap(
        unit_formed("sultra-unit-000000001", ours), source=SOURCE, event_id="sultra-2025-000001"
    )
    outside = wrap(
        unit_formed("sultra-unit-000000002", sulsel, facilitating_office="BNNP-73"),
        source=SOURCE,
        event_id="sultra-2025-000002",
    )
    broken = wrap(
        unit_formed("sultra-unit-000000003", "74.71.02.9999", formed_on=date(2099, 1, 1)),
        source=SOURCE,
        event_id="sultra-2025-000003",
    )
    later = wrap(
        unit_formed("sultra-unit-000000004", theirs), source=SOURCE, event_id="sultra-2025-000005"
    )

    producer = make_producer(registry.bootstrap, client_id="province-74")
    await producer.start()
    try:

        async def send(key: bytes, headers: list[tuple[str, bytes]], value: bytes) -> None:
            await producer.send_and_wait(inbound, value=value, key=key, headers=headers)

        await send(*to_kafka(accepted))
        await send(*to_kafka(accepted))  # the province's system sent it twice
        await send(*to_kafka(outside))
        await send(*to_kafka(broken))
        key, headers, value = to_kafka(
            wrap(
                unit_formed("sultra-unit-000000009", ours),
                source=SOURCE,
                event_id="sultra-2025-000004",
            )
        )
        body = json.loads(value)
        body["decree_date"] = "not a date"
        await send(key, headers, json.dumps(body).encode())
        await send(*to_kafka(later))
    finally:
        await producer.stop()

    received = [r.data for r in await read_events(registry.bootstrap, receipts, 6)]
    answers = {r.original_event_id: r for r in received}  # type: ignore[union-attr]
    assert set(answers) == {
        "sultra-2025-000001",
        "sultra-2025-000002",
        "sultra-2025-000003",
        "sultra-2025-000004",
        "sultra-2025-000005",
    }
    first = answers["sultra-2025-000001"]
    assert isinstance(first, EventAccepted)

    canonical = {e.subject: e for e in await read_events(registry.bootstrap, registry.topic, 2)}
    assert set(canonical) == {"sultra-unit-000000001", "sultra-unit-000000004"}
    formed = canonical["sultra-unit-000000001"]
    assert first.canonical_event_id == formed.id
    # The second delivery of sultra-2025-000001 recorded nothing; its answer says so.
    assert await topic_size(registry.bootstrap, registry.topic) == 2
    assert await topic_size(registry.bootstrap, receipts) == 6
    both = [r for r in received if r.original_event_id == "sultra-2025-000001"]  # type: ignore[union-attr]
    assert [(type(r), getattr(r, "duplicate", None)) for r in both] == [
        (EventAccepted, False),
        (EventAccepted, True),
    ]
    assert {r.canonical_event_id for r in both} == {formed.id}  # type: ignore[union-attr]
    # The first receipt names the unit; the duplicate's records nothing new.
    assert [r.created for r in both] == [{"unit_id": "sultra-unit-000000001"}, {}]  # type: ignore[union-attr]
    assert isinstance(formed.data, events.UnitFormed)
    assert formed.source == "/pulih/registry"

    def reasons(event_id: str) -> set[tuple[str | None, str]]:
        answer = answers[event_id]
        assert isinstance(answer, EventRejected), answer
        return {(r.field, r.rule) for r in answer.reasons}

    assert reasons("sultra-2025-000002") == {("province_code", "own-province")}
    assert reasons("sultra-2025-000003") == {
        ("village_code", "exists"),
        ("formed_on", "not-in-future"),
    }
    assert ("decree_date", "date_from_datetime_parsing") in reasons("sultra-2025-000004")
    assert isinstance(answers["sultra-2025-000005"], EventAccepted)

    units = (
        await registry.client.get(
            "/units", params={"province": "74"}, headers=bearer("province-operator:74")
        )
    ).json()
    assert sorted(u["unit_id"] for u in units["items"]) == [
        "sultra-unit-000000001",
        "sultra-unit-000000004",
    ]


async def test_ten_thousand_rule_breaking_facts_are_all_rejected_and_the_partition_moves(
    registry: Registry,
) -> None:
    inbound = registry.topics.name("ibm.inbound.74")
    receipts = registry.topics.name("ibm.receipts.74")
    ours = await registry.village()
    count = 10_000
    producer = make_producer(registry.bootstrap, client_id="province-74")
    await producer.start()
    try:
        sent = []
        for i in range(count):  # no such village: a rule every one of them breaks
            fact = unit_formed(f"sultra-unit-{i:09d}", "74.71.01.9999")
            _key, headers, value = to_kafka(wrap(fact, source=SOURCE, event_id=f"bad-{i}"))
            sent.append(await producer.send(inbound, value=value, key=b"one", headers=headers))
        good = wrap(unit_formed("sultra-unit-good00001", ours), source=SOURCE, event_id="good-1")
        _key, headers, value = to_kafka(good)
        sent.append(await producer.send(inbound, value=value, key=b"one", headers=headers))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    slowest = 0.0

    async def ask_health_meanwhile() -> None:
        nonlocal slowest
        while True:
            started = time.perf_counter()
            assert (await registry.client.get("/health/live")).status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.05)

    health = asyncio.create_task(ask_health_meanwhile())
    try:
        records = await read_topic(
            registry.bootstrap, receipts, until=lambda r: len(r) >= count + 1, seconds=120
        )
    finally:
        health.cancel()
    # Here the registry shares its event loop with the province and the reader of 10,000
    # receipts, on a machine shared with the broker and the database; the 200 ms goal of a
    # service in its own process is measured by the ingest benchmark. Before, 9 to 30 s.
    assert slowest < 1.0, f"/health/live took {slowest:.3f}s while the stream drained"
    answers = [from_kafka_lean(r.headers, r.key, r.value).data for r in records]
    assert len(answers) == count + 1
    rejected = [a for a in answers if isinstance(a, EventRejected)]
    assert len(rejected) == count
    assert {(r.field, r.rule) for a in rejected for r in a.reasons} == {("village_code", "exists")}
    accepted = [a for a in answers if isinstance(a, EventAccepted)]
    assert [a.original_event_id for a in accepted] == ["good-1"]
    assert await topic_size(registry.bootstrap, registry.topics.dead_letter("registry")) == 0


async def test_whatever_else_arrives_on_an_inbound_topic_gets_one_rejection(
    registry: Registry,
) -> None:
    inbound = registry.topics.name("ibm.inbound.74")
    receipts = registry.topics.name("ibm.receipts.74")
    village = await registry.village()
    key, headers, value = to_kafka(
        wrap(unit_formed("sultra-unit-000000071", village), source=SOURCE, event_id="as-screened")
    )
    screened = [
        (k, b"id.go.bnn.ibm.client-case.ClientScreened.v1" if k == "ce_type" else v)
        for k, v in headers
    ]
    unknown = [
        (k, b"id.go.bnn.ibm.registry.UnitRenamed.v1" if k == "ce_type" else v) for k, v in headers
    ]
    producer = make_producer(registry.bootstrap, client_id="province-74")
    await producer.start()
    try:
        await producer.send_and_wait(inbound, value=value, key=key, headers=screened)
        await producer.send_and_wait(inbound, value=value, key=key, headers=unknown)
        await producer.send_and_wait(inbound, value=b"\x00\xff garbage", key=None, headers=[])
    finally:
        await producer.stop()
    answers = [e.data for e in await read_events(registry.bootstrap, receipts, 3)]
    assert all(isinstance(a, EventRejected) for a in answers)
    by_type = {a.original_type: {(r.field, r.rule) for r in a.reasons} for a in answers}  # type: ignore[union-attr]
    assert by_type == {
        "id.go.bnn.ibm.client-case.ClientScreened.v1": {("ce_type", "accepted-inbound-type")},
        "id.go.bnn.ibm.registry.UnitRenamed.v1": {("ce_type", "accepted-inbound-type")},
        "unknown": {
            ("ce_id", "required"),
            ("ce_source", "required"),
            ("ce_type", "required"),
            ("ce_specversion", "required"),
        },
    }
    assert await topic_size(registry.bootstrap, registry.topic) == 0


async def test_every_provinces_topics_exist_from_the_start(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    """No topic is made by a province's first message: the first one is answered at once,
    not after the consumer's next metadata refresh."""
    from aiokafka.admin import AIOKafkaAdminClient

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
        load_regions_on_start=False,
        inbound_provinces="73,74",
        relay_idle_seconds=0.05,
    )
    runtime = Runtime(SPEC, settings)
    await runtime.start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        wanted = {
            topics.name(f"ibm.{kind}.{p}") for kind in ("inbound", "receipts") for p in ("73", "74")
        }
        assert wanted <= existing
        producer = make_producer(kafka_bootstrap, client_id="province-73")
        await producer.start()
        try:
            started = time.perf_counter()
            await producer.send_and_wait(
                topics.name("ibm.inbound.73"), value=b"{}", key=b"k", headers=[]
            )
        finally:
            await producer.stop()
        [answer] = await read_events(kafka_bootstrap, topics.name("ibm.receipts.73"), 1, seconds=10)
        assert isinstance(answer.data, EventRejected)
        assert time.perf_counter() - started < 10
    finally:
        await runtime.stop()
