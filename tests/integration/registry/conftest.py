"""A running registry (runtime, HTTP client, real broker) with provinces 73 and 74 loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.registry.app import SPEC
from services.registry.regions import RegionSource, load_regions
from services.registry.settings import Settings
from shared.contracts import registry as events
from shared.messaging.broker import Topics, ensure_topics
from shared.runtime import Runtime, create_app
from tests.auth import bearer

NATIONAL = bearer("national-operator")
SULTRA = bearer("province-operator:74")
SULSEL = bearer("province-operator:73")


@dataclass
class Registry:
    client: httpx.AsyncClient
    bootstrap: str
    topic: str
    topics: Topics
    runtime: Runtime

    async def village(self, district: str = "74.71.01", index: int = 0) -> str:
        found = await self.client.get(
            "/regions", headers=SULTRA, params={"parent": district, "level": "village"}
        )
        assert found.status_code == 200, found.text
        return str(found.json()["items"][index]["code"])

    async def form_unit(self, headers: dict[str, str] = SULTRA, **changes: Any) -> httpx.Response:
        body = {
            "village_code": await self.village(),
            "name": "Sinar Madani",
            "decree": {
                "number": "141/07/KEL-MDG/2025",
                "signed_on": "2025-03-10",
                "signatory": "lurah",
            },
            "formed_on": "2025-03-14",
            "formation": "bnn_target",
            "facilitating_office": "BNNK-74.71",
            "funding_source": "bnn",
        }
        body.update(changes)
        return await self.client.post("/units", json=body, headers=headers)


@pytest.fixture
async def registry(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[Registry]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
        bnnk_regencies="74.71",
        load_regions_on_start=False,
        relay_idle_seconds=0.05,
    )
    # The inbound topics exist before the registry subscribes to their pattern.
    await ensure_topics(
        kafka_bootstrap, [topics.name("ibm.inbound.74"), topics.name("ibm.inbound.73")]
    )
    runtime = Runtime(SPEC, settings)
    app = create_app(runtime)
    await runtime.start()
    assert runtime.engine is not None
    await load_regions(
        runtime.engine,
        RegionSource.installed(),
        provinces={"74", "73"},
        bnnk_regencies=settings.bnnk,
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://registry"
        ) as client:
            yield Registry(client, kafka_bootstrap, topics.name(events.TOPIC), topics, runtime)
    finally:
        await runtime.stop()
