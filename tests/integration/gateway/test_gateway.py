"""The gateway on the real broker, in front of the real registry and client-case: tokens are
verified before anything is forwarded, a roles header from outside never passes, the unit
overview answers partially when services are down, and a province ingests a batch over HTTPS
and reads the receipts the services wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.gateway.app import SPEC as GATEWAY
from services.gateway.settings import Settings
from shared.contracts import registry as events
from shared.contracts.envelope import as_json
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.eventually import eventually
from tests.integration.conftest import Platform, form_unit

OPERATOR = bearer("province-operator:74")
PROVINCE = bearer("province-system:74")


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        kafka_bootstrap_servers=platform.bootstrap,
        topic_prefix=platform.topics.prefix,
        registry_url="http://registry",
        client_case_url="http://client-case",
        scheduling_url="http://127.0.0.1:9",  # nothing listens: a service that is down
        reporting_url="http://127.0.0.1:9",
        overview_budget_seconds=1,
        ingest_max_events=3,
        ingest_rate="4/minute",
    )
    runtime = Runtime(GATEWAY, settings)
    await runtime.start()
    app = create_app(runtime)
    await app.state.upstreams.client.aclose()
    app.state.upstreams.client = httpx.AsyncClient(mounts=platform.transports())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client:
            yield client
    finally:
        await app.state.upstreams.close()
        await runtime.stop()


async def test_nothing_passes_without_a_valid_token(
    platform: Platform, gateway: httpx.AsyncClient
) -> None:
    for method, url in (
        ("GET", "/api/registry/regions?parent=74"),
        ("GET", "/overview/units/some-unit-0000000001"),
        ("POST", "/ingest"),
        ("GET", "/receipts"),
    ):
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"X-Pulih-Roles": "national-operator"},  # no header stands in for a token
        ):
            answer = await gateway.request(method, url, headers=headers)
            assert answer.status_code == 401, (method, url, headers)
            assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_the_services_see_the_verified_roles_only(
    platform: Platform, gateway: httpx.AsyncClient
) -> None:
    regions = await gateway.get(
        "/api/registry/regions", params={"parent": "74.71"}, headers=OPERATOR
    )
    assert regions.status_code == 200, regions.text
    assert {r["code"][:5] for r in regions.json()["items"]} == {"74.71"}
    # A roles header sent from outside is dropped: a 73 operator stays a 73 operator.
    village = regions.json()["items"][0]["code"]
    smuggled = await gateway.post(
        "/api/registry/units",
        headers={**bearer("province-operator:73"), "X-Pulih-Roles": "national-operator"},
        json={"village_code": village},
    )
    assert smuggled.status_code in (403, 422)
    assert smuggled.status_code == 403 or all(
        e["rule"] != "in-scope" for e in smuggled.json().get("errors", [])
    )
    # A provincial system reads the region list (it names villages), not people's data.
    assert (await gateway.get("/api/registry/regions", headers=PROVINCE)).status_code == 200
    assert (await gateway.get("/api/registry/units", headers=PROVINCE)).status_code == 403
    assert (await gateway.get("/api/client-case/cases", headers=PROVINCE)).status_code == 403


async def test_a_unit_overview_answers_without_the_services_that_are_down(
    platform: Platform, gateway: httpx.AsyncClient
) -> None:
    unit_id = await form_unit(platform)
    answer = await gateway.get(f"/overview/units/{unit_id}", headers=OPERATOR)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["unit"]["unit_id"] == unit_id and view["agents"] == []
    assert view["cases"] == {"open": 0, "by_stage": {}, "at_risk": 0}
    assert view["partial"] is True
    assert {(m["service"], m["reason"]) for m in view["missing"]} == {
        ("scheduling", "unavailable"),
        ("reporting", "unavailable"),
    }
    unknown = await gateway.get("/overview/units/no-such-unit-000001", headers=OPERATOR)
    assert {(m["service"], m["reason"]) for m in unknown.json()["missing"]} >= {
        ("registry", "not-found")
    }


def _event(data: events.UnitFormed, event_id: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/provinces/74/simrehab",
        "type": data.event_type,
        "time": datetime.now(UTC).isoformat(),
        "data": as_json(data),
    }


async def test_a_province_ingests_a_batch_and_reads_its_receipts(
    platform: Platform, gateway: httpx.AsyncClient
) -> None:
    village = (
        await gateway.get(
            "/api/registry/regions",
            params={"parent": "74.71.02", "level": "village"},
            headers=OPERATOR,
        )
    ).json()["items"][0]["code"]
    formed = events.UnitFormed(
        unit_id="sultra-unit-gateway-0001",
        province_code="74",
        village_code=village,
        unit_name="Harapan Baru",
        formed_on=datetime.now(UTC).date(),
        decree_number="141/09/KEL/2026",
        decree_date=datetime.now(UTC).date(),
        formation="bnn_target",
        facilitating_office="BNNK-74.71",
    )
    elsewhere = formed.model_copy(update={"province_code": "73", "village_code": "73.71.01.1001"})
    batch = [
        _event(formed, "gw-ok-1"),
        {**_event(formed, "gw-bad-1"), "data": {**as_json(formed), "village_code": "74"}},
        _event(elsewhere, "gw-73-1"),
    ]
    media = {"Content-Type": "application/cloudevents-batch+json"}
    answer = await gateway.post("/ingest", headers={**PROVINCE, **media}, json=batch)
    assert answer.status_code == 207, answer.text
    results = answer.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        ("gw-ok-1", "accepted"),
        ("gw-bad-1", "rejected"),
        ("gw-73-1", "rejected"),
    ]
    assert results[0]["offset"] >= 0
    assert [(r["field"], r["rule"]) for r in results[1]["reasons"]] == [
        ("data.village_code", "string_pattern_mismatch")
    ]
    assert [(r["field"], r["rule"]) for r in results[2]["reasons"]] == [
        ("data.province_code", "own-province")
    ]
    assert (
        await gateway.post("/ingest", headers={**OPERATOR, **media}, json=batch)
    ).status_code == 403
    too_many = await gateway.post("/ingest", headers={**PROVINCE, **media}, json=batch * 2)
    assert too_many.status_code == 413

    # The registry answers the written event; the province reads the receipt.
    async def receipts() -> dict[str, Any] | None:
        page = await gateway.get("/receipts", headers=PROVINCE)
        assert page.status_code == 200, page.text
        body: dict[str, Any] = page.json()
        return body if body["items"] else None

    page = await eventually(receipts, every=0.2)
    (receipt,) = page["items"]
    assert receipt["type"] == "EventAccepted"
    assert receipt["receipt"]["original_event_id"] == "gw-ok-1"
    after = await gateway.get("/receipts", headers=PROVINCE, params={"after": page["next"]})
    assert after.json()["items"] == []

    # Over the province's rate (4 events a minute here): 429 with Retry-After.
    limited = await gateway.post("/ingest", headers={**PROVINCE, **media}, json=batch[:2])
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_a_province_gets_the_key_to_seal_identities_to_from_the_gateway(
    platform: Platform, gateway: httpx.AsyncClient
) -> None:
    """The one address a province needs: the identity key comes through the gateway, without
    a token, and is client-case's own."""
    through_gateway = await gateway.get("/identity-key")
    assert through_gateway.status_code == 200, through_gateway.text
    direct = await platform.cases.get("/identity-key")
    assert through_gateway.json() == direct.json()
    assert len(through_gateway.json()["public_key"]) > 40
