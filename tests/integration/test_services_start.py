"""Each service starts the same way on both databases: its own migrations (own version
table), its outbox and inbox, and a ready check that really asks the database and Kafka."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from shared.cli.common import SERVICES
from shared.messaging.broker import Topics
from shared.runtime import Runtime, create_app

WITH_DATABASE = [name for name in SERVICES if name != "gateway"]


@pytest.mark.parametrize("service", WITH_DATABASE)
async def test_service_migrates_its_own_database_and_is_ready(
    service: str, database_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    package = SERVICES[service]
    settings = importlib.import_module(f"{package}.settings").Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
    )
    runtime = Runtime(importlib.import_module(f"{package}.app").SPEC, settings)
    await runtime.start()
    try:
        expected = {"database": "ok", "kafka": "ok"}
        if runtime.warming is not None:  # reporting: the tables readers open first
            await runtime.warming
            expected["warm"] = "ok"
        assert await runtime.check_ready() == expected
        assert runtime.engine is not None
        async with runtime.engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"outbox", "inbox", f"alembic_version_{service.replace('-', '_')}"} <= tables
    finally:
        await runtime.stop()


async def test_ready_check_reports_a_database_that_is_gone(
    kafka_bootstrap: str, tmp_path: object
) -> None:
    from services.registry.app import SPEC
    from services.registry.settings import Settings

    settings = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers=kafka_bootstrap,
        migrate_on_start=False,
        load_regions_on_start=False,
    )
    runtime = Runtime(SPEC, settings)
    await runtime.start()
    try:
        checks = await runtime.check_ready()
    finally:
        await runtime.stop()
    assert checks["kafka"] == "ok"
    assert checks["database"].startswith("down")


async def test_a_replica_is_not_ready_until_warmed_up_and_ready_if_warming_up_fails(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from services.reporting.app import SPEC
    from services.reporting.settings import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
    )
    warm = asyncio.Event()

    async def warm_up(_runtime: object) -> None:
        await warm.wait()
        raise RuntimeError("the first tables could not be made")

    runtime = Runtime(dataclasses.replace(SPEC, warm_up=warm_up), settings)
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://reporting"
        ) as client:
            cold = await client.get("/health/ready")
            assert cold.status_code == 503
            assert cold.json()["checks"]["warm"] == "warming"
            warm.set()
            assert runtime.warming is not None
            await runtime.warming
            ready = await client.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "warm": "ok"}
    finally:
        await runtime.stop()
    assert "warming up failed; ready regardless" in caplog.text
