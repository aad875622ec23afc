"""The dashboard behind a real gateway, on the real broker, with a small programme to show:
the registry (regions of a few provinces), reporting (fed by canonical events published to
Kafka as the services publish them) and the gateway serving the dashboard over HTTP.

The browser test uses it; so can a person who wants to look at the dashboard with figures in
it (`python -m tests.browser.demo`, with KAFKA_BOOTSTRAP_SERVERS pointing at a broker)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from services.gateway.app import SPEC as GATEWAY
from services.gateway.settings import Settings as GatewaySettings
from services.registry.app import SPEC as REGISTRY
from services.registry.regions import RegionSource, load_regions
from services.registry.settings import Settings as RegistrySettings
from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings as ReportingSettings
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.platform import EventRejected, receipts_topic
from shared.infra._process import free_port
from shared.messaging.broker import Topics, make_producer
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.reporting_events import activity, closed, enrolled, publish, screened, unit_formed

YEAR = 2026


def arrived_at(now: datetime) -> datetime:
    """When the demo's facts and receipts arrive: now, but no later than 14:59 UTC on the last
    day of this UTC month, the last moment that is in the same month in UTC and in every
    Indonesian zone (UTC+7 to +9). Data health counts arrivals in each province's own month;
    in the hours when WIT, WITA or WIB has turned the month and UTC has not, "this month" would
    be two months for one programme."""
    following = (now.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = datetime(following.year, following.month, 1, tzinfo=UTC) - timedelta(hours=9, minutes=1)
    return min(now, last)


def arrival_month(now: datetime) -> str:
    """The month the demo's arrivals are counted in, everywhere (as the dashboard asks)."""
    return arrived_at(now).strftime("%Y-%m")


PROVINCES = {"74", "73", "31"}


@dataclass
class Programme:
    """What was published, so a test knows what the page should say."""

    units: dict[str, str] = field(default_factory=dict)  # unit id -> village code
    screened: dict[str, int] = field(default_factory=dict)  # unit id -> screenings in YEAR
    rejected: dict[str, int] = field(default_factory=dict)  # province -> refused this month

    def screened_in(self, region: str) -> int:
        return sum(
            n for unit, n in self.screened.items() if self.units[unit].startswith(f"{region}.")
        )


@dataclass
class Dashboard:
    url: str
    programme: Programme
    reporting: httpx.AsyncClient
    """Reporting's own API, to check what the page shows against it."""


async def _villages(registry: httpx.AsyncClient, district: str, n: int) -> list[str]:
    answer = await registry.get(
        "/regions",
        params={"parent": district, "level": "village", "limit": n},
        headers=bearer("national-operator"),
    )
    assert answer.status_code == 200, answer.text
    return [r["code"] for r in answer.json()["items"]]


async def _districts(registry: httpx.AsyncClient, regency: str) -> list[str]:
    answer = await registry.get(
        "/regions",
        params={"parent": regency, "level": "district", "limit": 100},
        headers=bearer("national-operator"),
    )
    assert answer.status_code == 200, answer.text
    return [r["code"] for r in answer.json()["items"]]


async def seed(registry: httpx.AsyncClient, bootstrap: str, topics: Topics) -> Programme:
    """A small programme: Kota Kendari (74.71) with three units in three districts, enough
    screenings to show at regency level and too few in each district (withheld); a regency
    with one small unit (withheld); units in two other provinces."""
    programme = Programme()
    events: list[EventData] = []
    plan = [  # (regency, units, screenings per unit)
        ("74.71", 3, (6, 4, 3)),
        ("74.72", 1, (2,)),
        ("74.01", 2, (5, 5)),
        ("73.71", 3, (8, 6, 7)),
        ("31.71", 4, (9, 9, 6, 5)),
    ]
    for regency, count, screenings in plan:
        districts = await _districts(registry, regency)
        for i in range(count):
            village = (await _villages(registry, districts[i % len(districts)], 1))[0]
            unit = f"unit-{uuid.uuid4().hex[:16]}"
            programme.units[unit] = village
            formed = date(2025 if i % 2 == 0 else YEAR, 3 + i, 10)
            events.append(unit_formed(unit, village, formed))
            # a screening day in Jakarta reaches more than a thousand: 1.401 in Indonesian
            participants = 1401 if regency == "31.71" and i == 0 else 25 + i
            events.append(activity(unit, village, date(YEAR, 4, 2 + i), participants=participants))
            programme.screened[unit] = screenings[i]
            for s in range(screenings[i]):
                case_id = str(uuid.uuid4())
                level = ("low", "moderate", "high")[s % 3]
                on = date(YEAR, 1 + s % 9, 5 + i)
                events.append(screened(unit, village, on, level=level, case_id=case_id))
                if level != "low":
                    route = ("voluntary", "compulsory")[s % 2]
                    events.append(enrolled(unit, village, case_id, on, route=route, level=level))
                    if s % 4 == 1:
                        events.append(
                            closed(unit, village, case_id, date(YEAR, 10, 20), "completed")
                        )
    arrival = arrived_at(datetime.now(UTC))
    await publish(bootstrap, topics, [(e, {"time": arrival}) for e in events])
    # Submissions refused this month, answered on the provinces' receipts topics as client-case
    # answers them: Sulawesi Tenggara more than a thousand (1.203 in Indonesian), Jakarta two.
    programme.rejected = {"74": 1203, "31": 2}
    await _refuse(bootstrap, topics, programme.rejected)
    return programme


async def _refuse(bootstrap: str, topics: Topics, rejected: dict[str, int]) -> None:
    producer = make_producer(bootstrap, client_id="test-client-case")
    await producer.start()
    try:
        for province, count in rejected.items():
            for n in range(count):
                receipt = EventRejected(
                    original_event_id=f"simrehab-{province}-{n:06d}",
                    original_type="id.go.bnn.ibm.client-case.ScreeningSubmitted.v1",
                    province_code=province,
                    reasons=[{"field": "screened_at", "rule": "not-in-future", "message": "later"}],
                    rejected_at=datetime.now(UTC),
                )
                key, headers, value = to_kafka(
                    wrap(receipt, source="/pulih/client-case", time=arrived_at(datetime.now(UTC)))
                )
                await producer.send(
                    topics.name(receipts_topic(province)), value=value, key=key, headers=headers
                )
        await producer.flush()
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _running(spec: Any, settings: Any) -> AsyncIterator[Any]:
    runtime = Runtime(spec, settings)
    await runtime.start()
    try:
        yield create_app(runtime)
    finally:
        await runtime.stop()


async def _settled(reporting: httpx.AsyncClient, programme: Programme) -> None:
    """Wait until reporting has projected every screening and refusal published."""
    expected = sum(programme.screened.values())
    async with asyncio.timeout(60):
        while True:
            answer = await reporting.get(
                "/indicators/clients_screened",
                params={"period": str(YEAR), "level": "province"},
                headers=bearer("national-operator"),
            )
            health = await reporting.get(
                "/data-health",
                params={"within": "", "month": arrival_month(datetime.now(UTC))},
                headers=bearer("national-operator"),
            )
            refused = {r["region"]: r["rejected"] for r in health.json()["rows"]}
            if (
                answer.status_code == 200
                and answer.json()["within"]["value"] == expected
                and all(refused.get(p) == n for p, n in programme.rejected.items())
            ):
                return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def dashboard(bootstrap: str, topics: Topics, state: Path) -> AsyncIterator[Dashboard]:
    """The registry, reporting and the gateway, running, seeded, the gateway on a real port."""
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "topic_prefix": topics.prefix,
        "relay_idle_seconds": 0.05,
        # Their receipts topics exist before reporting subscribes: one made later is seen at
        # the next metadata refresh (30 s), which a slow start made this fixture wait out.
        "inbound_provinces": ",".join(sorted(PROVINCES)),
    }
    async with contextlib.AsyncExitStack() as stack:
        registry_app = await stack.enter_async_context(
            _running(
                REGISTRY,
                RegistrySettings(
                    database_url=f"sqlite+aiosqlite:///{state / 'registry.db'}",
                    load_regions_on_start=False,
                    **common,
                ),
            )
        )
        reporting_app = await stack.enter_async_context(
            _running(
                REPORTING,
                ReportingSettings(
                    database_url=f"sqlite+aiosqlite:///{state / 'reporting.db'}",
                    cube_max_age_seconds=0,
                    **common,
                ),
            )
        )
        gateway_app = await stack.enter_async_context(
            _running(
                GATEWAY,
                GatewaySettings(
                    registry_url="http://registry",
                    reporting_url="http://reporting",
                    **common,
                ),
            )
        )
        registry = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry_app), base_url="http://registry"
            )
        )
        reporting = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=reporting_app), base_url="http://reporting"
            )
        )
        registry_runtime = registry_app.state.runtime
        await load_regions(registry_runtime.engine, RegionSource.installed(), provinces=PROVINCES)
        await gateway_app.state.upstreams.client.aclose()
        gateway_app.state.upstreams.client = httpx.AsyncClient(
            mounts={
                "http://registry": httpx.ASGITransport(app=registry_app),
                "http://reporting": httpx.ASGITransport(app=reporting_app),
            }
        )
        stack.push_async_callback(gateway_app.state.upstreams.close)
        programme = await seed(registry, bootstrap, topics)
        await _settled(reporting, programme)

        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                gateway_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
        )
        serving = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
                await asyncio.sleep(0.02)
        try:
            yield Dashboard(f"http://127.0.0.1:{port}", programme, reporting)
        finally:
            server.should_exit = True
            await serving


async def _main() -> None:
    topics = Topics(f"demo-{uuid.uuid4().hex[:8]}.")
    with tempfile.TemporaryDirectory() as state:
        async with dashboard(os.environ["KAFKA_BOOTSTRAP_SERVERS"], topics, Path(state)) as d:
            print(f"dashboard: {d.url}  (token: .venv/bin/pulih auth token --role ...)", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
