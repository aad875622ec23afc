"""The reporting service running on the real broker and a fresh database (SQLite and
PostgreSQL), with an HTTP client on its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings
from shared.messaging.broker import Topics
from shared.runtime import Runtime, create_app


async def serving(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = Runtime(REPORTING, settings)
    await runtime.start()
    if runtime.warming is not None:  # as a rollout does: readers reach a ready replica
        await runtime.warming
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://reporting"
    )
    try:
        yield runtime, client
    finally:
        await client.aclose()
        await runtime.stop()


def reporting_settings(
    database_url: str, kafka_bootstrap: str, topics: Topics, **more: Any
) -> Settings:
    more.setdefault("cube_wait_seconds", 60)  # a loaded test machine may take a while
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
        projection_batch_size=500,
        **more,
    )


@pytest.fixture
async def reporting(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The service with the contributor rule off (`min_units=1`): these scenarios put one
    unit in a village, and test what the other rules withhold."""
    settings = reporting_settings(database_url, kafka_bootstrap, topics, min_units=1)
    async for running in serving(settings):
        yield running


@pytest.fixture
async def reporting_never_waiting(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """As `reporting`, with requests never waiting for a cube (the shipped default)."""
    settings = reporting_settings(
        database_url, kafka_bootstrap, topics, min_units=1, cube_wait_seconds=0
    )
    async for running in serving(settings):
        yield running


@pytest.fixture
async def reporting_as_shipped(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The service with its default disclosure settings (k 5, three units)."""
    async for running in serving(reporting_settings(database_url, kafka_bootstrap, topics)):
        yield running
