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
        ("registry", "/regions", {"parent": "74.71"}, PUBLIC),
        ("registry", "/regions/74.71", {}, PUBLIC),
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
        ("gateway", "/api/reporting/indicators", {}, PUBLIC),
    ]
    wrong = []
    clients = {
        name: httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        for name, transport in apps.items()
    }
    try:
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
