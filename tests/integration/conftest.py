"""Running services for integration tests: the real registry and client-case side by side on
the real broker (`platform`), and helpers to drive them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, select

from services.client_case.app import SPEC as CLIENT_CASE
from services.client_case.db import known_agents, known_units
from services.client_case.settings import Settings as ClientCaseSettings
from services.gateway.app import SPEC as GATEWAY
from services.gateway.settings import Settings as GatewaySettings
from services.registry.app import SPEC as REGISTRY
from services.registry.regions import RegionSource, load_regions
from services.registry.settings import Settings as RegistrySettings
from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings as ReportingSettings
from services.scheduling.app import SPEC as SCHEDULING
from services.scheduling.settings import Settings as SchedulingSettings
from shared.contracts.base import EventData
from shared.contracts.envelope import from_kafka, to_kafka, wrap
from shared.contracts.platform import EventAccepted, EventRejected
from shared.messaging.broker import Topics, ensure_topics, make_producer
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.bus import read_topic
from tests.eventually import eventually
from tests.factories import HIGH_RISK as HIGH_RISK  # the integration tests import it from here
from tests.markers import mark_integration

OPERATOR_74 = bearer("province-operator:74")


@dataclass
class Platform:
    registry: httpx.AsyncClient
    cases: httpx.AsyncClient
    case_runtime: Runtime
    bootstrap: str
    topics: Topics

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        """The services' in-process transports by base URL (e.g. for the gateway's calls)."""
        return {str(c.base_url).rstrip("/"): c._transport for c in (self.registry, self.cases)}


async def _started(runtime: Runtime, name: str) -> httpx.AsyncClient:
    await runtime.start()
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url=f"http://{name}"
    )


@pytest.fixture
async def platform(
    database_url: str, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> AsyncIterator[Platform]:
    common = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "topic_prefix": topics.prefix,
        "relay_idle_seconds": 0.05,
    }
    # The provinces' inbound topic exists before the services subscribe to its pattern.
    await ensure_topics(kafka_bootstrap, [topics.name("ibm.inbound.74")])
    registry = Runtime(
        REGISTRY,
        RegistrySettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
            load_regions_on_start=False,
            bnnk_regencies="74.71",
            **common,
        ),
    )
    cases = Runtime(CLIENT_CASE, ClientCaseSettings(database_url=database_url, **common))
    registry_http = await _started(registry, "registry")
    assert registry.engine is not None
    await load_regions(
        registry.engine, RegionSource.installed(), provinces={"74"}, bnnk_regencies=["74.71"]
    )
    cases_http = await _started(cases, "client-case")
    try:
        yield Platform(registry_http, cases_http, cases, kafka_bootstrap, topics)
    finally:
        for http in (registry_http, cases_http):
            await http.aclose()
        await cases.stop()
        await registry.stop()


async def form_unit(p: Platform, district: str = "74.71.01") -> str:
    """A unit formed through the registry's API, once client-case has learned of it."""
    village = (
        await p.registry.get(
            "/regions", headers=OPERATOR_74, params={"parent": district, "level": "village"}
        )
    ).json()["items"][0]["code"]
    formed = await p.registry.post(
        "/units",
        headers=OPERATOR_74,
        json={
            "village_code": village,
            "name": "Sinar Madani",
            "formed_on": "2025-03-14",
            "decree": {
                "number": "141/07/KEL-MDG/2025",
                "signed_on": "2025-03-10",
                "signatory": "lurah",
            },
            "formation": "bnn_target",
            "facilitating_office": "BNNK-74.71",
        },
    )
    assert formed.status_code == 201, formed.text
    unit_id: str = formed.json()["unit_id"]
    status = select(known_units.c.status).where(known_units.c.unit_id == unit_id)

    async def active_in_client_case() -> bool:  # learned from the registry's event
        return await _in_client_case(p, status) == "active"

    await eventually(active_in_client_case)
    return unit_id


async def appoint_agent(p: Platform, unit_id: str) -> str:
    """An agent appointed through the registry's API, once client-case has learned of them."""
    response = await p.registry.post(
        f"/units/{unit_id}/agents",
        headers=OPERATOR_74,
        json={
            "role": "member",
            "appointed_on": "2025-04-02",
            "decree": {"number": "12/SK/2025", "signed_on": "2025-04-01", "signatory": "lurah"},
        },
    )
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["agent_id"]
    known = select(known_agents.c.agent_id).where(known_agents.c.agent_id == agent_id)

    async def known_to_client_case() -> bool:
        return await _in_client_case(p, known) is not None

    await eventually(known_to_client_case)
    return agent_id


async def _in_client_case(p: Platform, query: Select[Any]) -> Any:
    """The first value the query finds in client-case's database, or None."""
    assert p.case_runtime.engine is not None
    async with p.case_runtime.engine.connect() as connection:
        return (await connection.execute(query)).scalar()


@contextlib.asynccontextmanager
async def _serving(spec: Any, settings: Any) -> AsyncIterator[tuple[Runtime, Any]]:
    runtime = Runtime(spec, settings)
    await runtime.start()
    try:
        yield runtime, create_app(runtime)
    finally:
        await runtime.stop()


@pytest.fixture
async def apps(
    platform: Platform, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    """Every service's ASGI app, running; the gateway in front of the other four."""
    common = {"kafka_bootstrap_servers": kafka_bootstrap, "topic_prefix": topics.prefix}
    async with contextlib.AsyncExitStack() as stack:
        _, scheduling = await stack.enter_async_context(
            _serving(
                SCHEDULING,
                SchedulingSettings(
                    database_url=f"sqlite+aiosqlite:///{tmp_path / 'scheduling.db'}", **common
                ),
            )
        )
        _, reporting = await stack.enter_async_context(
            _serving(
                REPORTING,
                ReportingSettings(
                    database_url=f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}", **common
                ),
            )
        )
        _, gateway = await stack.enter_async_context(
            _serving(
                GATEWAY,
                GatewaySettings(
                    registry_url="http://registry",
                    client_case_url="http://client-case",
                    scheduling_url="http://scheduling",
                    reporting_url="http://reporting",
                    **common,
                ),
            )
        )
        mounts: dict[str, httpx.AsyncBaseTransport] = {
            **platform.transports(),
            "http://scheduling": httpx.ASGITransport(app=scheduling),
            "http://reporting": httpx.ASGITransport(app=reporting),
        }
        await gateway.state.upstreams.client.aclose()
        gateway.state.upstreams.client = httpx.AsyncClient(mounts=mounts)
        stack.push_async_callback(gateway.state.upstreams.close)
        yield {
            "registry": platform.registry._transport,
            "client-case": platform.cases._transport,
            "scheduling": httpx.ASGITransport(app=scheduling),
            "reporting": httpx.ASGITransport(app=reporting),
            "gateway": httpx.ASGITransport(app=gateway),
        }


Receipts = dict[str, EventAccepted | EventRejected]


async def province_sends(
    p: Platform, facts: Sequence[tuple[str, EventData]], province: str = "74"
) -> Receipts:
    """Publish each (message id, fact) on the province's inbound topic, as its system would;
    the receipts by message id, once there is one for each."""
    producer = make_producer(p.bootstrap, client_id=f"province-{province}")
    await producer.start()
    try:
        for message_id, data in facts:
            key, headers, value = to_kafka(
                wrap(data, source=f"/provinces/{province}/simrehab", event_id=message_id)
            )
            await producer.send_and_wait(
                p.topics.name(f"ibm.inbound.{province}"), value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()
    ids = {message_id for message_id, _ in facts}

    def answered(records: list[Any]) -> Receipts:
        found: Receipts = {}
        for record in records:
            answer = from_kafka(record.headers, record.key, record.value).data
            assert isinstance(answer, EventAccepted | EventRejected)
            if answer.original_event_id in ids:
                found[answer.original_event_id] = answer
        return found

    topic = p.topics.name(f"ibm.receipts.{province}")
    records = await read_topic(p.bootstrap, topic, until=lambda r: len(answered(r)) == len(ids))
    return answered(records)


def refusals(receipts: Receipts) -> dict[str, list[tuple[str | None, str]]]:
    """The refused messages by id, each with the (field, rule) pairs it broke."""
    return {
        k: [(r.field, r.rule) for r in v.reasons]
        for k, v in receipts.items()
        if isinstance(v, EventRejected)
    }


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the real broker or databases (`pytest -m "not integration"`)."""
    mark_integration(items, Path(__file__).parent)
