"""Relapses are reported, cases move between units with their history, and the scope of
unit agents and district operators follows the case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts import client_case as events
from tests.auth import bearer
from tests.bus import read_events
from tests.integration.conftest import HIGH_RISK, Platform, form_unit


async def test_a_case_moves_to_another_unit_and_its_relapse_is_reported(
    platform: Platform,
) -> None:
    p = platform
    first, second = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    agent1 = bearer(f"unit-agent:{first}")
    agent2 = bearer(f"unit-agent:{second}")
    client = (
        await p.cases.post(
            "/clients", headers=agent1, json={"unit_id": first, "identity": {"name": "Tanpa NIK"}}
        )
    ).json()
    assert client["new"] is True and set(client) == {"client_id", "new"}
    case_id = (
        await p.cases.post(
            "/screenings",
            headers=agent1,
            json={
                "client_id": client["client_id"],
                "unit_id": first,
                "screened_at": datetime.now(UTC).isoformat(),
                "screener_agent_id": "agent-00000000001",
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
    ).json()["case_id"]
    today = datetime.now(UTC).date().isoformat()
    enrolled = await p.cases.post(
        f"/cases/{case_id}/enrolment",
        headers=agent1,
        json={"admission_route": "aftercare", "aftercare_source": "balai", "enrolled_on": today},
    )
    assert enrolled.status_code == 200, enrolled.text
    missing_source = await p.cases.post(
        f"/cases/{case_id}/enrolment",
        headers=agent1,
        json={"admission_route": "aftercare", "enrolled_on": today},
    )
    assert {e["rule"] for e in missing_source.json()["errors"]} == {
        "stage-screening",
        "aftercare-source",
    }

    relapse = await p.cases.post(
        f"/cases/{case_id}/relapses",
        headers=agent1,
        json={
            "substances": ["alcohol"],
            "source": "family_report",
            "relapsed_on": today,
            "reported_by_agent_id": "agent-00000000001",
        },
    )
    assert relapse.status_code == 201, relapse.text

    assert (
        await p.cases.post(
            f"/cases/{case_id}/transfer",
            headers=agent2,
            json={"to_unit_id": second, "transferred_on": today},
        )
    ).status_code == 404  # not theirs yet
    moved = await p.cases.post(
        f"/cases/{case_id}/transfer",
        headers=agent1,
        json={"to_unit_id": second, "transferred_on": today},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["unit_id"] == second and moved.json()["stage"] == "intake"
    # The receiving unit now works the case; the sending unit no longer can.
    assert (
        await p.cases.post(
            f"/cases/{case_id}/stage",
            headers=agent1,
            json={"to_stage": "services", "changed_on": today},
        )
    ).status_code == 404
    assert (
        await p.cases.post(
            f"/cases/{case_id}/stage",
            headers=agent2,
            json={"to_stage": "services", "changed_on": today},
        )
    ).status_code == 200

    # The identity goes with the open case: the receiving unit reads it, the sending one not.
    read = f"/clients/{client['client_id']}/identity"
    reason = {"reason": "first visit after transfer"}
    assert (await p.cases.get(read, headers=agent2, params=reason)).json() == {"name": "Tanpa NIK"}
    assert (await p.cases.get(read, headers=agent1, params=reason)).status_code == 404

    second_village = moved.json()["village_code"]
    inside = await p.cases.get("/cases", headers=bearer(f"district-operator:{second_village[:5]}"))
    assert [c["case_id"] for c in inside.json()] == [case_id]
    outside = await p.cases.get("/cases", headers=bearer("district-operator:74.72"))
    assert outside.json() == []

    kinds = [type(e.data) for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 5)]
    assert kinds == [
        events.ClientScreened,
        events.ClientEnrolled,
        events.RelapseReported,
        events.CaseTransferred,
        events.CaseStageChanged,
    ]
    transferred = [e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 5)][
        3
    ]
    assert isinstance(transferred, events.CaseTransferred)
    assert (transferred.from_unit_id, transferred.unit_id) == (first, second)

    # An operator whose region holds the case may move it too; one outside it cannot see it.
    back = {"to_unit_id": first, "transferred_on": today}
    elsewhere = bearer("district-operator:74.72")
    assert (
        await p.cases.post(f"/cases/{case_id}/transfer", headers=elsewhere, json=back)
    ).status_code == 404
    returned = await p.cases.post(
        f"/cases/{case_id}/transfer", headers=bearer("province-operator:74"), json=back
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["unit_id"] == first


async def test_a_limited_list_counts_only_the_cases_the_caller_sees(platform: Platform) -> None:
    p = platform
    first, second = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    opened = {}
    for unit, days_ago in ((first, 2), (second, 1)):  # the first unit's case is the older
        agent = bearer(f"unit-agent:{unit}")
        client = (
            await p.cases.post(
                "/clients", headers=agent, json={"unit_id": unit, "identity": {"name": "Tanpa NIK"}}
            )
        ).json()
        screened = await p.cases.post(
            "/screenings",
            headers=agent,
            json={
                "client_id": client["client_id"],
                "unit_id": unit,
                "screened_at": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
                "screener_agent_id": "agent-00000000001",
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
        assert screened.status_code == 201, screened.text
        opened[unit] = screened.json()["case_id"]
    theirs = bearer(f"unit-agent:{second}")
    listed = await p.cases.get("/cases", headers=theirs, params={"limit": 1})
    assert [c["case_id"] for c in listed.json()] == [opened[second]]
