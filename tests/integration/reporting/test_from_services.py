"""The real registry and client-case publish; the real reporting service counts. A unit formed
through the registry's API, screenings recorded through client-case's API and one submitted by
the province on its inbound topic all show in the indicators within seconds."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings
from shared.contracts import client_case_inbound as provincial
from shared.contracts.envelope import to_kafka, wrap
from shared.messaging.broker import Topics, make_producer
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.eventually import eventually
from tests.integration.conftest import HIGH_RISK, OPERATOR_74, Platform, form_unit

READER = bearer("reporting-consumer")


@pytest.fixture
async def reporting(
    platform: Platform, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(
        REPORTING,
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=topics.prefix,
        ),
    )
    await runtime.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://reporting"
    )
    try:
        yield client
    finally:
        await client.aclose()
        await runtime.stop()


async def test_what_services_and_provinces_record_shows_in_the_indicators(
    platform: Platform, reporting: httpx.AsyncClient
) -> None:
    p = platform
    unit_id = await form_unit(p)
    agent = bearer(f"unit-agent:{unit_id}")
    now = datetime.now(UTC)
    for _ in range(2):
        client_id = (
            await p.cases.post("/clients", headers=agent, json={"unit_id": unit_id})
        ).json()["client_id"]
        screened = await p.cases.post(
            "/screenings",
            headers=agent,
            json={
                "client_id": client_id,
                "unit_id": unit_id,
                "screened_at": now.isoformat(),
                "screener_agent_id": "agent-00000000042",
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
        assert screened.status_code == 201, screened.text
    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()
    submission = provincial.ScreeningSubmitted.model_validate(
        {
            "unit_id": unit_id,
            "province_code": "74",
            "village_code": unit["village_code"],
            "submission_id": "sultra-screening-0009001",
            "programme": "pbm",
            "screened_at": now,
            "screener_agent_id": "agent-00000000042",
            "province_client_key": "sultra-person-0009001",
            "substances": HIGH_RISK,
            "injection": "never",
        }
    )
    producer = make_producer(p.bootstrap, client_id="province-74")
    await producer.start()
    key, headers, value = to_kafka(wrap(submission, source="/provinces/74/simrehab"))
    await producer.send_and_wait(
        p.topics.name("ibm.inbound.74"), value=value, key=key, headers=headers
    )
    await producer.stop()

    started = time.monotonic()
    period = str(now.year)

    async def figures() -> tuple[int, int]:
        screened = (
            await reporting.get(
                "/indicators/clients_screened",
                headers=READER,
                params={"period": period, "level": "province", "by": "risk_level"},
            )
        ).json()
        formed = (
            await reporting.get(
                "/indicators/units_formed", headers=READER, params={"period": "2025"}
            )
        ).json()
        high = {r["part"]: r["value"] for r in screened["rows"] if r["region"] == "74"}
        return high.get("high", 0), formed["within"]["value"]

    async def current() -> bool:  # two through the API, one from the province
        return await figures() == (3, 1)

    await eventually(current, 60, every=0.2)
    print(f"indicators current {time.monotonic() - started:.1f}s after the last submission")
