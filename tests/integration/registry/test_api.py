"""The registry through its HTTP API, on both databases and the real broker: units formed,
changed and staffed become canonical events; bad requests get problem documents naming the
field and the rule; optimistic concurrency guards edits; scope is enforced."""

from __future__ import annotations

from sqlalchemy import select

from services.registry.db import agents
from shared.contracts import registry as events
from tests.auth import bearer
from tests.bus import read_events
from tests.integration.registry.conftest import SULSEL, SULTRA, Registry
from tests.privacy import SECOND_NAME


async def test_a_unit_formed_through_the_api_is_a_canonical_event(registry: Registry) -> None:
    response = await registry.form_unit()
    assert response.status_code == 201, response.text
    unit = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/units/{unit['unit_id']}"
    assert unit["status"] == "active" and unit["regency_code"] == "74.71"

    formed, funded = await read_events(registry.bootstrap, registry.topic, 2)
    assert isinstance(formed.data, events.UnitFormed)
    assert formed.subject == unit["unit_id"] and formed.source == "/pulih/registry"
    assert formed.data.village_code == unit["village_code"]
    assert formed.data.unit_name == "Sinar Madani"
    assert isinstance(funded.data, events.UnitFundingRecorded)
    assert funded.data.source == "bnn" and funded.data.fiscal_year == 2025

    listed = await registry.client.get("/units", params={"province": "74"}, headers=SULSEL)
    assert [u["unit_id"] for u in listed.json()["items"]] == [unit["unit_id"]]
    elsewhere = await registry.client.get("/units", params={"province": "73"}, headers=SULSEL)
    assert elsewhere.json() == {"items": [], "total": 0, "by_status": {}}


async def test_bad_requests_get_problem_documents_naming_field_and_rule(
    registry: Registry,
) -> None:
    schema = await registry.form_unit(village_code="74.71.01")
    assert schema.status_code == 422
    assert schema.headers["content-type"] == "application/problem+json"
    assert any(
        e["field"] == "village_code" and e["rule"] == "string_pattern_mismatch"
        for e in schema.json()["errors"]
    )

    rules = await registry.form_unit(village_code="74.71.01.9999", formed_on="2099-01-01")
    assert rules.status_code == 422
    broken = {(e["field"], e["rule"]) for e in rules.json()["errors"]}
    assert broken == {("village_code", "exists"), ("formed_on", "not-in-future")}

    outside = await registry.form_unit(headers=SULSEL)
    assert outside.status_code == 403  # outside the caller's region, as in every service
    assert outside.json()["detail"] == "the village is outside your region"

    anonymous = await registry.form_unit(headers={})
    assert anonymous.status_code == 401
    reader_only = await registry.form_unit(headers=bearer("reporting-consumer"))
    assert reader_only.status_code == 403

    assert (await registry.form_unit()).status_code == 201
    second = await registry.form_unit()
    assert second.status_code == 422
    assert second.json()["errors"][0]["rule"] == "one-active-unit-per-village"


async def test_status_changes_need_the_current_etag(registry: Registry) -> None:
    unit = (await registry.form_unit()).json()
    change = {"to_status": "suspended", "reason": "no_activity", "effective_on": "2026-01-05"}
    url = f"/units/{unit['unit_id']}/status"
    stale = await registry.client.post(url, json=change, headers={**SULTRA, "If-Match": '"9"'})
    assert stale.status_code == 412
    done = await registry.client.post(url, json=change, headers={**SULTRA, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["ETag"] == '"2"' and done.json()["status"] == "suspended"
    replay = await registry.client.post(url, json=change, headers={**SULTRA, "If-Match": '"1"'})
    assert replay.status_code == 412

    envelopes = await read_events(registry.bootstrap, registry.topic, 3)
    changed = envelopes[-1].data
    assert isinstance(changed, events.UnitStatusChanged)
    assert (changed.from_status, changed.to_status, changed.reason) == (
        "active",
        "suspended",
        "no_activity",
    )
    second = (await registry.form_unit()).json()
    # A region's units at a glance: counted by status without a page of them.
    glance = await registry.client.get(
        "/units", params={"province": "74", "limit": 0}, headers=SULTRA
    )
    assert glance.json() == {"items": [], "total": 2, "by_status": {"active": 1, "suspended": 1}}
    page = await registry.client.get(
        "/units", params={"province": "74", "limit": 1}, headers=SULTRA
    )
    assert [u["unit_id"] for u in page.json()["items"]] == [min(unit["unit_id"], second["unit_id"])]
    assert page.json()["by_status"] == {"active": 1, "suspended": 1}


async def test_agents_are_appointed_trained_and_deactivated(registry: Registry) -> None:
    unit = (await registry.form_unit()).json()
    appointed = await registry.client.post(
        f"/units/{unit['unit_id']}/agents",
        headers=SULTRA,
        json={
            "role": "coordinator",
            "appointed_on": "2025-04-02",
            "decree": {"number": "12/SK/2025", "signed_on": "2025-04-01", "signatory": "lurah"},
            "display_name": SECOND_NAME,
        },
    )
    assert appointed.status_code == 201, appointed.text
    agent_id = appointed.json()["agent_id"]
    no_office = await registry.client.post(
        f"/agents/{agent_id}/trainings",
        headers=SULTRA,
        json={"kind": "assist_screening", "completed_on": "2025-05-20", "provider": "BNNP-99"},
    )
    assert no_office.status_code == 422
    assert [(e["field"], e["rule"]) for e in no_office.json()["errors"]] == [("provider", "exists")]
    trained = await registry.client.post(
        f"/agents/{agent_id}/trainings",
        headers=SULTRA,
        json={"kind": "assist_screening", "completed_on": "2025-05-20", "provider": "BNNP-74"},
    )
    assert trained.status_code == 201, trained.text
    left = await registry.client.post(
        f"/agents/{agent_id}/deactivation",
        headers=SULTRA,
        json={"deactivated_on": "2026-02-01", "reason": "moved_away"},
    )
    assert left.status_code == 200, left.text
    again = await registry.client.post(
        f"/agents/{agent_id}/deactivation",
        headers=SULTRA,
        json={"deactivated_on": "2026-02-02", "reason": "other"},
    )
    assert again.status_code == 422

    in_kendari = await registry.client.get(
        "/agents", headers=SULSEL, params={"regency": "74.71", "active": "false"}
    )
    assert [a["agent_id"] for a in in_kendari.json()] == [agent_id]
    elsewhere = await registry.client.get("/agents", headers=SULSEL, params={"province": "73"})
    assert elsewhere.json() == []
    team = (await registry.client.get(f"/units/{unit['unit_id']}/agents", headers=SULTRA)).json()
    assert [(a["agent_id"], a["active"], len(a["trainings"])) for a in team] == [
        (agent_id, False, 1)
    ]
    # The display name: for the unit's agents and the operators over it, sealed at rest.
    for who, name in (
        (SULTRA, SECOND_NAME),
        (bearer(f"unit-agent:{unit['unit_id']}"), SECOND_NAME),
        (SULSEL, None),
        (bearer("unit-agent:unit-of-someone-else-1"), None),
    ):
        seen = await registry.client.get(f"/units/{unit['unit_id']}/agents", headers=who)
        assert [a["display_name"] for a in seen.json()] == [name]
    assert all(a["display_name"] is None for a in in_kendari.json())
    assert registry.runtime.engine is not None
    async with registry.runtime.engine.connect() as connection:
        stored = b"".join(
            bytes(v or b"") if isinstance(v, bytes | memoryview) else str(v).encode()
            for row in (await connection.execute(select(agents))).all()
            for v in row
        )
    assert SECOND_NAME.encode() not in stored
    kinds = [
        type(e.data).__name__ for e in await read_events(registry.bootstrap, registry.topic, 5)
    ]
    assert kinds == [
        "UnitFormed",
        "UnitFundingRecorded",
        "RecoveryAgentAppointed",
        "RecoveryAgentTrained",
        "RecoveryAgentDeactivated",
    ]
    assert all(
        e.subject == unit["unit_id"]
        for e in await read_events(registry.bootstrap, registry.topic, 5)
    )


async def test_regions_can_be_browsed_and_searched(registry: Registry) -> None:
    provinces = await registry.client.get("/regions", params={"level": "province"}, headers=SULTRA)
    assert [(p["code"], p["time_zone"]) for p in provinces.json()["items"]] == [
        ("73", "WITA"),
        ("74", "WITA"),
    ]
    kendari = await registry.client.get("/regions", params={"q": "kota kendari"}, headers=SULTRA)
    assert [r["code"] for r in kendari.json()["items"]] == ["74.71"]
    page = await registry.client.get(
        "/regions", headers=SULTRA, params={"parent": "74.71", "limit": 2, "offset": 1}
    )
    assert len(page.json()["items"]) == 2 and page.json()["total"] > 3
    missing = await registry.client.get("/regions/99", headers=SULTRA)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_one_training_batch_trains_many_agents_each_once(registry: Registry) -> None:
    unit = (await registry.form_unit()).json()
    appointed = []
    for number in (21, 22):
        answer = await registry.client.post(
            f"/units/{unit['unit_id']}/agents",
            headers=SULTRA,
            json={
                "role": "member",
                "appointed_on": "2025-04-02",
                "decree": {
                    "number": f"{number}/SK/2025",
                    "signed_on": "2025-04-01",
                    "signatory": "lurah",
                },
            },
        )
        appointed.append(answer.json()["agent_id"])
    batch = {
        "training_id": "angkatan-2025-kendari-01",
        "kind": "assist_screening",
        "completed_on": "2025-05-20",
        "provider": "BNNP-74",
    }
    for agent_id in appointed:
        trained = await registry.client.post(
            f"/agents/{agent_id}/trainings", headers=SULTRA, json=batch
        )
        assert trained.status_code == 201, trained.text
        assert trained.json() == {"training_id": "angkatan-2025-kendari-01"}
    again = await registry.client.post(
        f"/agents/{appointed[0]}/trainings", headers=SULTRA, json=batch
    )
    assert again.status_code == 409
    team = (await registry.client.get(f"/units/{unit['unit_id']}/agents", headers=SULTRA)).json()
    assert [len(a["trainings"]) for a in team] == [1, 1]
