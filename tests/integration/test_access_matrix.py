"""Who sees what: every read of every service, and a write of each kind, called with a token of
every role, in scope and out of it, against a real unit with a client, a case and an agent.
Each cell is the status the README's rules give: a person's records outside your scope are not
found (404), a unit or region outside it is forbidden (403), a role that may never read it is
forbidden (403); reporting consumers read aggregates only, provincial systems their receipts
only. (Without a token every route answers 401: tests/unit/shared/test_access_matrix.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.auth import bearer
from tests.eventually import eventually
from tests.integration.conftest import HIGH_RISK, Platform, appoint_agent, form_unit

ROLES = (
    "national",
    "province",
    "district",
    "agent",
    "other-province",
    "other-district",
    "other-agent",
    "reporting",
    "province-system",
)


def _tokens(unit: str, other_unit: str) -> dict[str, dict[str, str]]:
    return {
        "national": bearer("national-operator"),
        "province": bearer("province-operator:74"),
        "district": bearer("district-operator:74.71"),
        "agent": bearer(f"unit-agent:{unit}"),
        "other-province": bearer("province-operator:73"),
        "other-district": bearer("district-operator:74.72"),
        "other-agent": bearer(f"unit-agent:{other_unit}"),
        "reporting": bearer("reporting-consumer"),
        "province-system": bearer("province-system:74"),
    }


def _row(*statuses: int) -> dict[str, int]:
    """A matrix row: one status per role, in the order of ROLES."""
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


PUBLIC = _row(200, 200, 200, 200, 200, 200, 200, 200, 403)
"""Master data and catalogs: every person; a provincial system ingests, nothing else."""


# SQLite: the statuses come from the services' rules, the same on both databases (their own
# integration tests run both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_role_sees_exactly_its_scope(platform: Platform, apps: dict[str, Any]) -> None:
    p = platform
    unit, other_unit = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    agent_id = await appoint_agent(p, unit)
    tokens = _tokens(unit, other_unit)
    client_id = (
        await p.cases.post(
            "/clients", headers=tokens["agent"], json={"unit_id": unit, "identity": {"name": "X"}}
        )
    ).json()["client_id"]
    case_id = (
        await p.cases.post(
            "/screenings",
            headers=tokens["agent"],
            json={
                "client_id": client_id,
                "unit_id": unit,
                "screened_at": datetime.now(UTC).isoformat(),
                "screener_agent_id": agent_id,
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
    ).json()["case_id"]
    today = datetime.now(UTC).date()
    year = str(today.year)
    window = {"from": today.isoformat(), "to": (today + timedelta(days=6)).isoformat()}

    matrix: list[tuple[str, str, dict[str, Any], dict[str, int]]] = [
        # registry: master data, pseudonymous ids only
        # the region list: every valid token, a province's system too (it names villages)
        ("registry", "/regions", {"parent": "74.71"}, _row(*[200] * 9)),
        ("registry", "/regions/74.71", {}, _row(*[200] * 9)),
        ("registry", "/units", {"province": "74"}, PUBLIC),
        ("registry", f"/units/{unit}", {}, PUBLIC),
        ("registry", f"/units/{unit}/agents", {}, PUBLIC),
        ("registry", "/agents", {"province": "74"}, PUBLIC),
        # client-case: people's records
        ("client-case", "/cases", {}, _row(200, 200, 200, 200, 200, 200, 200, 403, 403)),
        ("client-case", f"/cases/{case_id}", {}, _row(200, 200, 200, 200, 404, 404, 404, 403, 403)),
        (
            "client-case",
            f"/clients/{client_id}/identity",
            {"reason": "home visit in week 1"},
            _row(403, 403, 403, 200, 403, 403, 404, 403, 403),
        ),
        ("client-case", "/identity-reads", {}, _row(200, 403, 403, 403, 403, 403, 403, 403, 403)),
        (
            "client-case",
            "/referrals/overdue",
            {},
            _row(200, 200, 200, 200, 200, 200, 200, 403, 403),
        ),
        # scheduling: a unit's days (units are public: outside your scope is 403)
        (
            "scheduling",
            f"/units/{unit}/calendar",
            window,
            _row(200, 200, 200, 200, 403, 403, 403, 403, 403),
        ),
        (
            "scheduling",
            f"/units/{unit}/cases-needing-transfer",
            {},
            _row(200, 200, 200, 200, 403, 403, 403, 403, 403),
        ),
        # reporting: aggregates, by region
        ("reporting", "/indicators", {}, PUBLIC),
        (
            "reporting",
            "/indicators/units_formed",
            {"period": year, "within": "74"},
            _row(200, 200, 403, 403, 403, 403, 403, 200, 403),
        ),
        (
            "reporting",
            "/indicators/units_formed/series",
            {"year": year, "region": "74.71"},
            _row(200, 200, 200, 403, 403, 403, 403, 200, 403),
        ),
        # the gateway: one origin
        ("gateway", f"/overview/units/{unit}", {}, PUBLIC),
        ("gateway", "/overview/regions/74", {}, PUBLIC),
        ("gateway", "/receipts", {}, _row(403, 403, 403, 403, 403, 403, 403, 403, 200)),
        # a case's sessions (none before its enrolment): a record about a person, so out of
        # scope is 404; the province's own system reads it too
        ("gateway", f"/plans/{case_id}", {}, _row(200, 200, 200, 200, 404, 404, 404, 403, 200)),
        ("gateway", "/api/reporting/indicators", {}, PUBLIC),
        ("gateway", "/api/registry/regions", {"parent": "74.71"}, _row(*[200] * 9)),
        ("gateway", "/api/registry/units", {"province": "74"}, PUBLIC),
    ]
    wrong = []
    clients = {
        name: httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        for name, transport in apps.items()
    }
    try:
        # Reporting knows a region below province level by its units: wait for the unit
        # formed above to be projected, so a 422 below means a rule, not a race.
        async def series_status() -> int:
            answer = await clients["reporting"].get(
                "/indicators/units_formed/series",
                params={"year": year, "region": "74.71"},
                headers=tokens["national"],
            )
            return answer.status_code

        async def projected() -> bool:
            return await series_status() != 422

        await eventually(projected, 60)
        for service, path, params, expected in matrix:
            for role in ROLES:
                answer = await clients[service].get(path, params=params, headers=tokens[role])
                if answer.status_code != expected[role]:
                    wrong.append(
                        f"{service} GET {path} as {role}: {answer.status_code}, "
                        f"expected {expected[role]} ({answer.text[:120]})"
                    )
        # Writes refused to roles that may not make them change nothing: checked by status.
        enrolment = {"admission_route": "voluntary", "enrolled_on": today.isoformat()}
        expected = _row(403, 403, 403, 200, 404, 404, 404, 403, 403)
        for role in (*ROLES[4:], *ROLES[:4]):  # the refused ones first, the agent's last
            answer = await clients["client-case"].post(
                f"/cases/{case_id}/enrolment", json=enrolment, headers=tokens[role]
            )
            if answer.status_code != expected[role]:
                wrong.append(
                    f"POST enrolment as {role}: {answer.status_code} ({answer.text[:120]})"
                )
    finally:
        for client in clients.values():
            await client.aclose()
    assert not wrong, "\n".join(wrong)


REFUSED = None
"""Admitted: the role may make this write (the services' own tests cover what it does)."""


def _refusals(*statuses: int | None) -> dict[str, int | None]:
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


OPERATORS_ONLY = _refusals(None, None, None, 403, 403, 403, 403, 403, 403)
"""Registry changes: operators over the unit's region."""
AGENT_ON_A_CASE = _refusals(403, 403, 403, None, 404, 404, 404, 403, 403)
"""A case's course: its unit's agents; operators over it may not; others do not see it."""
AGENT_OF_THE_UNIT = _refusals(403, 403, 403, None, 403, 403, 403, 403, 403)
"""Naming the unit in the body: its agents; the unit is public, so others are forbidden."""
AGENT_ON_A_SESSION = _refusals(403, 403, 403, None, 403, 403, 404, 403, 403)
"""Sessions: agents only; another unit's agent does not see them."""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_write_is_refused_to_every_role_that_may_not_make_it(
    platform: Platform, apps: dict[str, Any]
) -> None:
    p = platform
    unit, other_unit = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    agent_id = await appoint_agent(p, unit)
    tokens = _tokens(unit, other_unit)
    agent = tokens["agent"]
    today = datetime.now(UTC).date().isoformat()
    client_id = (
        await p.cases.post("/clients", headers=agent, json={"unit_id": unit, "identity": {}})
    ).json()["client_id"]
    screening = {
        "client_id": client_id,
        "unit_id": unit,
        "screened_at": datetime.now(UTC).isoformat(),
        "screener_agent_id": agent_id,
        "substances": HIGH_RISK,
        "injection": "never",
    }
    case_id = (await p.cases.post("/screenings", headers=agent, json=screening)).json()["case_id"]
    enrolled = await p.cases.post(
        f"/cases/{case_id}/enrolment",
        headers=agent,
        json={"admission_route": "voluntary", "enrolled_on": today},
    )
    assert enrolled.status_code == 200, enrolled.text
    referral = {
        "destination_type": "balai_rehabilitasi",
        "reason": "high_risk",
        "referred_on": today,
        "referred_by_agent_id": agent_id,
    }
    referral_id = (
        await p.cases.post(f"/cases/{case_id}/referrals", headers=agent, json=referral)
    ).json()["referral_id"]
    village = (
        await p.registry.get("/regions", headers=tokens["province"], params={"parent": "74.71.01"})
    ).json()["items"][-1]["code"]
    clients = {
        name: httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        for name, transport in apps.items()
    }
    try:
        session_id = await _a_session(clients["scheduling"], agent, agent_id)
        etag = (await p.registry.get(f"/units/{unit}", headers=agent)).headers["etag"]
        appointment = {
            "role": "member",
            "appointed_on": "2025-04-02",
            "decree": {"number": "13/SK/2025", "signed_on": "2025-04-01", "signatory": "lurah"},
        }
        writes: list[tuple[str, str, str, dict[str, Any], dict[str, int | None]]] = [
            (
                "registry",
                "POST",
                "/units",
                {
                    "village_code": village,
                    "name": "Matriks",
                    "formed_on": "2025-03-14",
                    "decree": {
                        "number": "141/08/KEL/2025",
                        "signed_on": "2025-03-10",
                        "signatory": "lurah",
                    },
                    "formation": "bnn_target",
                    "facilitating_office": "BNNK-74.71",
                },
                OPERATORS_ONLY,
            ),
            (
                "registry",
                "POST",
                f"/units/{unit}/status",
                {"to_status": "suspended", "reason": "no_activity", "effective_on": today},
                OPERATORS_ONLY,
            ),
            (
                "registry",
                "POST",
                f"/units/{unit}/funding",
                {"fiscal_year": 2026, "source": "bnn", "amount_idr": 1000},
                OPERATORS_ONLY,
            ),
            ("registry", "POST", f"/units/{unit}/agents", appointment, OPERATORS_ONLY),
            (
                "registry",
                "POST",
                f"/agents/{agent_id}/trainings",
                {"kind": "assist_screening", "completed_on": "2025-05-20", "provider": "BNNP-74"},
                OPERATORS_ONLY,
            ),
            (
                "registry",
                "POST",
                f"/agents/{agent_id}/deactivation",
                {"deactivated_on": today, "reason": "moved_away"},
                OPERATORS_ONLY,
            ),
            ("client-case", "POST", "/clients", {"unit_id": unit}, AGENT_OF_THE_UNIT),
            (
                "client-case",
                "PATCH",
                f"/clients/{client_id}/identity?reason=a+new+phone",
                {"phone": "081200000000"},
                _refusals(403, 403, 403, None, 403, 403, 404, 403, 403),
            ),
            (
                "client-case",
                "POST",
                f"/clients/{client_id}/erasure",
                {},
                _refusals(None, 403, 403, 403, 403, 403, 403, 403, 403),
            ),
            ("client-case", "POST", "/screenings", screening, AGENT_OF_THE_UNIT),
            (
                "client-case",
                "POST",
                f"/cases/{case_id}/stage",
                {"to_stage": "services", "changed_on": today},
                AGENT_ON_A_CASE,
            ),
            ("client-case", "POST", f"/cases/{case_id}/referrals", referral, AGENT_ON_A_CASE),
            (
                "client-case",
                "POST",
                f"/referrals/{referral_id}/resolution",
                {"resolution": "attended", "resolved_on": today},
                AGENT_ON_A_CASE,
            ),
            (
                "client-case",
                "POST",
                f"/cases/{case_id}/closure",
                {"outcome": "dropped_out", "closed_on": today},
                AGENT_ON_A_CASE,
            ),
            (
                "client-case",
                "POST",
                f"/cases/{case_id}/relapses",
                {
                    "substances": ["alcohol"],
                    "source": "family_report",
                    "relapsed_on": today,
                    "reported_by_agent_id": agent_id,
                },
                AGENT_ON_A_CASE,
            ),
            (
                "client-case",
                "POST",
                f"/cases/{case_id}/transfer",
                {"to_unit_id": other_unit, "transferred_on": today},
                _refusals(None, None, None, None, 404, 404, 404, 403, 403),
            ),
            (
                "scheduling",
                "POST",
                f"/sessions/{session_id}/attendance",
                {"held_on": today, "agent_id": agent_id, "duration_minutes": 30},
                AGENT_ON_A_SESSION,
            ),
            (
                "scheduling",
                "POST",
                f"/sessions/{session_id}/miss",
                {"reason": "client_absent", "agent_id": agent_id},
                AGENT_ON_A_SESSION,
            ),
            (
                "scheduling",
                "POST",
                f"/sessions/{session_id}/reschedule",
                {"due_on": today, "reason": "client_request", "agent_id": agent_id},
                AGENT_ON_A_SESSION,
            ),
            (
                "scheduling",
                "POST",
                f"/sessions/{session_id}/close",
                {"agent_id": agent_id},
                AGENT_ON_A_SESSION,
            ),
            (
                "scheduling",
                "POST",
                f"/cases/{case_id}/replan",
                {"starts_on": today, "agent_id": agent_id},
                AGENT_ON_A_SESSION,
            ),
            (
                "scheduling",
                "POST",
                "/activities",
                {
                    "unit_id": unit,
                    "activity_type": "outreach",
                    "held_on": today,
                    "agent_ids": [agent_id],
                    "participants": 3,
                },
                AGENT_OF_THE_UNIT,
            ),
            (
                "gateway",
                "POST",
                "/ingest",
                [],
                _refusals(403, 403, 403, 403, 403, 403, 403, 403, None),
            ),
            (  # through the gateway, the service's own answer
                "gateway",
                "POST",
                f"/api/client-case/cases/{case_id}/stage",
                {"to_stage": "services", "changed_on": today},
                AGENT_ON_A_CASE,
            ),
        ]
        wrong = []
        for service, method, path, body, expected in writes:
            for role, status in expected.items():
                if status is REFUSED:
                    continue
                headers = {**tokens[role], **({"If-Match": etag} if "/status" in path else {})}
                answer = await clients[service].request(method, path, json=body, headers=headers)
                if answer.status_code != status:
                    wrong.append(
                        f"{service} {method} {path} as {role}: {answer.status_code}, "
                        f"expected {status} ({answer.text[:120]})"
                    )
    finally:
        for client in clients.values():
            await client.aclose()
    assert not wrong, "\n".join(wrong)


async def _a_session(scheduling: httpx.AsyncClient, agent: dict[str, str], agent_id: str) -> str:
    """A session of the plan scheduling made from the enrolment, once it has."""

    async def planned() -> list[dict[str, Any]]:
        worklist = await scheduling.get(
            "/worklist", headers=agent, params={"agent_id": agent_id, "days_ahead": 60}
        )
        return [i for lists in worklist.json().values() for i in lists]

    return str((await eventually(planned))[0]["session_id"])
