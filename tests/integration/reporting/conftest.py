"""The reporting service running on the real broker and a fresh database (SQLite and
PostgreSQL), with an HTTP client on its API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings
from shared.messaging.broker import Topics
from shared.runtime import Runtime, create_app


@pytest.fixture
async def reporting(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = Runtime(
        REPORTING,
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=topics.prefix,
            projection_batch_size=500,
        ),
    )
    await runtime.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://reporting"
    )
    try:
        yield runtime, client
    finally:
        await client.aclose()
        await runtime.stop()
