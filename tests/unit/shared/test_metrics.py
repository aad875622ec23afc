"""The metrics an operator's dashboard and alerts read: HTTP latency under route templates
(never an id from the path), the outbox's backlog and its oldest row's age, consumer lag."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, insert

from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import platform_tables
from shared.metrics import HttpMetrics, forget_lag, record_lag
from shared.persistence import create_engine


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def exposed_label_values() -> set[str]:
    return {
        value
        for family in REGISTRY.collect()
        if family.name.startswith("pulih_")
        for s in family.samples
        for value in s.labels.values()
    }


async def test_http_latency_is_counted_by_route_template_and_status_class() -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    app = FastAPI()

    @app.get("/units/{unit_id}")
    async def unit(unit_id: str) -> dict[str, str]:
        if unit_id.startswith("missing"):
            raise HTTPException(404)
        return {"unit_id": unit_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(HttpMetrics, service=service, skip=("/health/",))
    secret_id = "3171012345678901"  # NIK-shaped: must never become a label value
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        assert (await client.get(f"/units/{secret_id}")).status_code == 200
        assert (await client.get("/units/missing-1")).status_code == 404
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get(f"/no/such/{secret_id}")).status_code == 404
        assert (await client.get("/health/live")).status_code == 404

    def count(route: str, status: str) -> float | None:
        return sample(
            "pulih_http_request_duration_seconds_count",
            service=service,
            method="GET",
            route=route,
            status=status,
        )

    assert count("/units/{unit_id}", "2xx") == 1
    assert count("/units/{unit_id}", "4xx") == 1
    assert count("/boom", "5xx") == 1
    assert count("unmatched", "4xx") == 1  # the unknown path; /health/ is not timed
    assert secret_id not in exposed_label_values()


async def test_outbox_backlog_and_oldest_age_are_measured_apart_from_publishing(
    tmp_path: Path,
) -> None:
    metadata = MetaData()
    tables = platform_tables(metadata)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    service = f"svc-{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(  # measuring never publishes: no broker is needed
        service=service, engine=engine, table=tables.outbox, bootstrap_servers="127.0.0.1:1"
    )
    assert await relay.measure() == (0, 0.0)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(tables.outbox),
            [
                {
                    "event_id": uuid.uuid4().hex,
                    "topic": "ibm.registry",
                    "key": b"k",
                    "headers": [],
                    "value": b"{}",
                    "created_at": now - timedelta(minutes=minutes),
                    "sent_at": now if minutes == 30 else None,  # published: not waiting
                }
                for minutes in (30, 12, 1)
            ],
        )
    backlog, age = await relay.measure()
    await engine.dispose()
    assert backlog == 2
    assert 12 * 60 <= age < 13 * 60
    assert sample("pulih_outbox_backlog", service=service) == 2
    oldest = sample("pulih_outbox_oldest_age_seconds", service=service)
    assert oldest is not None and 12 * 60 <= oldest < 13 * 60


def test_consumer_lag_is_the_high_watermark_minus_the_next_offset() -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    record_lag(group, "ibm.registry", 2, None, 10)  # no fetch has reported the end yet
    assert sample("pulih_consumer_lag", group=group, topic="ibm.registry", partition="2") is None
    record_lag(group, "ibm.registry", 2, 120, 100)
    assert sample("pulih_consumer_lag", group=group, topic="ibm.registry", partition="2") == 20
    forget_lag(group, "ibm.registry", 2)  # a rebalance moved it to another replica
    assert sample("pulih_consumer_lag", group=group, topic="ibm.registry", partition="2") is None
