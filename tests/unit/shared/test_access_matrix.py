"""Every route of every service and the gateway, called as an outsider would: without a token
or with a bad one the answer is 401, and a provincial system's token opens nothing but the
gateway's ingest and receipts, a case's plan and the region list. Routes are enumerated from
the apps, so a new route is covered the day it is added."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shared.runtime import Runtime, create_app
from tests.auth import bearer

SERVICES = ["registry", "client_case", "scheduling", "reporting", "gateway"]
OPEN = {"/health/live", "/health/ready", "/metrics", "/identity-key"}
"""Answer without a token: probes, and the public key provinces seal identities to."""
PROVINCES_ONLY = {("POST", "/ingest"), ("GET", "/receipts")}
PROVINCES_TOO = {
    ("GET", "/cases/unit-0000000000000001/sessions"),
    ("GET", "/plans/unit-0000000000000001"),
    ("GET", "/regions"),
    ("GET", "/regions/unit-0000000000000001"),
    *((m, "/api/registry/regions") for m in ("GET", "POST", "PATCH", "PUT", "DELETE")),
}
"""Read by a provincial system as well as by people: a case's plan, whose session ids its
attendance and misses name, and the region list, whose village codes its facts carry; the
gateway's proxy passes any valid token on and the service behind decides (the statuses per
role: the integration access matrix, scheduling's plan test and the gateway's tests)."""


def _calls(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation in the app's OpenAPI, with its path parameters filled in."""
    calls = []
    for path, operations in app.openapi()["paths"].items():
        if path in OPEN:
            continue
        filled = path.replace("{service}", "registry").replace("{path}", "regions")
        filled = re.sub(r"\{[^}]+\}", "unit-0000000000000001", filled)
        calls += [(method.upper(), filled) for method in operations]
    return calls


@pytest.mark.parametrize("service", SERVICES)
async def test_no_route_answers_without_a_valid_token(service: str, tmp_path: Path) -> None:
    package = f"services.{service}"
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    spec = importlib.import_module(f"{package}.app").SPEC
    settings = settings_cls(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    app = create_app(Runtime(spec, settings))
    calls = _calls(app)
    assert calls, "every service has routes"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        for method, path in calls:
            for headers in (
                {},
                {"Authorization": "Bearer not-a-token"},
                {"Authorization": "Basic bmF0aW9uYWw6b3BlcmF0b3I="},
                {"X-Pulih-Roles": "national-operator"},
            ):
                answer = await client.request(method, path, headers=headers)
                assert answer.status_code == 401, (method, path, headers, answer.text)
            if (method, path) in PROVINCES_ONLY:
                answer = await client.request(method, path, headers=bearer("national-operator"))
                assert answer.status_code == 403, (method, path)
                continue
            if (method, path) in PROVINCES_TOO:
                continue
            answer = await client.request(method, path, headers=bearer("province-system:74"))
            assert answer.status_code == 403, (method, path, answer.text)
