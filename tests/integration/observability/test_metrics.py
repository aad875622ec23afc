"""What the dashboard and the alerts read, on the real broker: a stalled consumer's lag shows
every record it has not applied and falls to zero once it catches up; the outbox's backlog
and oldest age grow while nothing is published; provinces' receipts are counted by province
and outcome; and a service's `/metrics` serves all of it with HTTP latency by route."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import REGISTRY

from shared.contracts import client_case_inbound as provincial
from shared.contracts.envelope import Envelope
from shared.messaging.broker import Topics
from tests.eventually import eventually
from tests.integration.conftest import (
    HIGH_RISK,
    OPERATOR_74,
    Platform,
    form_unit,
    province_sends,
    refusals,
)
from tests.integration.messaging.harness import (
    GROUP,
    TOPIC,
    applied,
    count,
    drain_relay,
    prepared_engine,
    record_effect,
    start_clients,
    write_events,
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def lag(topic: str) -> float:
    return sum(
        value("pulih_consumer_lag", group=GROUP, topic=topic, partition=str(p)) for p in range(3)
    )


async def test_lag_grows_while_a_consumer_is_stalled_and_falls_once_it_applies(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    engine = await prepared_engine(f"sqlite+aiosqlite:///{tmp_path / 'harness.db'}")

    async def database_down(_db: object, _envelope: Envelope) -> None:
        raise ConnectionRefusedError("the database is unreachable")

    clients = await start_clients(engine, kafka_bootstrap, topics, handler=database_down)
    consumer, relay = clients.consumer, clients.relay
    try:
        await write_events(engine, topics, count=30, keys=3, per_transaction=10)
        backlog, age = await relay.measure()
        assert backlog == 30 and age >= 0
        assert value("pulih_outbox_backlog", service=GROUP) == 30
        assert await drain_relay(relay) == 30
        assert await relay.measure() == (0, 0.0)

        topic = topics.name(TOPIC)

        async def stalled_with_every_record_behind() -> bool:
            try:
                await consumer.poll_once(timeout_ms=200)
            except ConnectionRefusedError:
                await consumer._rewind()  # as `run` does after an infrastructure failure
            return lag(topic) >= 30  # offsets: the relay's commit markers count too

        await eventually(stalled_with_every_record_behind)

        consumer.handler = record_effect  # the database is back

        async def caught_up() -> bool:
            await consumer.poll_once(timeout_ms=200)
            return await count(engine, applied) == 30 and lag(topic) == 0

        await eventually(caught_up)
        assert value("pulih_batch_processing_seconds_count", group=GROUP, kind="canonical") >= 1
    finally:
        await clients.close()
        await engine.dispose()


async def test_receipts_are_counted_by_province_and_outcome_and_served_on_metrics(
    platform: Platform,
) -> None:
    p = platform
    unit_id = await form_unit(p)
    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()

    def receipts(outcome: str) -> float:
        return value("pulih_receipts_total", service="client-case", province="74", outcome=outcome)

    before = {o: receipts(o) for o in ("accepted", "duplicate", "rejected", "internal_error")}

    def screening(number: int, **changes: object) -> provincial.ScreeningSubmitted:
        fields: dict[str, object] = {
            "unit_id": unit_id,
            "province_code": "74",
            "village_code": unit["village_code"],
            "submission_id": f"sultra-metrics-{number:04d}",
            "programme": "pbm",
            "screened_at": datetime.now(UTC),
            "screener_agent_id": "agent-00000000042",
            "province_client_key": f"sultra-person-metrics-{number:04d}",
            "substances": HIGH_RISK,
            "injection": "never",
        }
        fields.update(changes)
        return provincial.ScreeningSubmitted.model_validate(fields)

    answered = await province_sends(
        p,
        [
            ("metrics-1", screening(1)),
            ("metrics-2", screening(2)),
            ("metrics-3", screening(3, unit_id="unit-that-does-not-exist-01")),
        ],
    )
    assert refusals(answered) == {"metrics-3": [("unit_id", "unit-exists")]}
    await province_sends(p, [("metrics-1", screening(1))])  # resent: answered as a duplicate

    async def counted() -> bool:
        return {o: receipts(o) - before[o] for o in before} == {
            "accepted": 2,
            "duplicate": 1,
            "rejected": 1,
            "internal_error": 0,
        }

    await eventually(counted)
    inbound = p.topics.name("ibm.inbound.74")

    async def caught_up() -> bool:
        reported = [
            REGISTRY.get_sample_value(
                "pulih_consumer_lag",
                {"group": "client-case", "topic": inbound, "partition": str(n)},
            )
            for n in range(3)
        ]
        return any(lag is not None for lag in reported) and not any(reported)

    await eventually(caught_up)

    # What Prometheus scrapes: the figures above, and the registry's HTTP latency under its
    # route templates, never a unit's id.
    scraped = (await p.registry.get("/metrics")).text
    assert 'pulih_http_request_duration_seconds_count{method="POST",route="/units"' in scraped
    assert 'route="/units/{unit_id}"' in scraped
    assert unit_id not in scraped
    scraped = (await p.cases.get("/metrics")).text
    assert 'pulih_receipts_total{outcome="rejected",province="74",service="client-case"}' in scraped
    assert "sultra-person-metrics" not in scraped
