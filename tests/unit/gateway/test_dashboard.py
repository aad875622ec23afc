"""The gateway's dashboard routes: the page and its files from this origin (nothing outside
its folders), who a token speaks for, and a development token only in development."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.app import SPEC
from services.gateway.dashboard import VENDOR
from services.gateway.settings import Settings
from shared.runtime import Runtime, create_app
from shared.security.tokens import Verifier
from tests.auth import bearer


async def _client(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Runtime(SPEC, Settings(**settings)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        yield client


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client():
        yield client


async def test_the_page_and_its_files_come_from_this_origin_only(
    gateway: httpx.AsyncClient,
) -> None:
    page = await gateway.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "http" not in page.text.split("<footer>")[0]  # no CDN, no external font
    for name in ("app.js", "app.css", "i18n.js"):
        assert (await gateway.get(f"/dashboard/app/{name}")).status_code == 200, name
    for escape in ("../__init__.py", "..%2F__init__.py", ".hidden", "missing.js"):
        assert (await gateway.get(f"/dashboard/app/{escape}")).status_code == 404, escape
    assert (await gateway.get("/dashboard/boundaries/provinces")).json()["type"] == "Topology"
    assert (await gateway.get("/dashboard/boundaries/villages")).status_code == 404


@pytest.mark.skipif(not VENDOR["echarts.min.js"].is_file(), reason="npm ci has not run")
async def test_the_charting_library_is_served_from_the_projects_npm_install(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await gateway.get("/dashboard/vendor/echarts.min.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert (await gateway.get("/dashboard/vendor/lodash.js")).status_code == 404


@pytest.mark.parametrize(
    ("role", "root"),
    [
        ("national-operator", ""),
        ("reporting-consumer", ""),
        ("province-operator:74", "74"),
        ("district-operator:74.71", "74.71"),
        ("unit-agent:unit-0000000000000001", None),
    ],
)
async def test_the_dashboard_learns_the_widest_region_a_token_reads(
    gateway: httpx.AsyncClient, role: str, root: str | None
) -> None:
    answer = await gateway.get("/dashboard/me", headers=bearer(role))
    assert answer.status_code == 200
    assert answer.json() == {"roles": [role], "root": root}
    assert (await gateway.get("/dashboard/me")).status_code == 401
    assert (
        await gateway.get("/dashboard/me", headers=bearer("province-system:74"))
    ).status_code == 403


async def test_in_development_the_login_may_mint_a_token_for_a_role(
    gateway: httpx.AsyncClient,
) -> None:
    options = (await gateway.get("/dashboard/login-options")).json()
    assert options["development"] is True and "province-operator:74" in options["roles"]
    minted = await gateway.post(
        "/dashboard/development-token", json={"role": "province-operator:74"}
    )
    assert minted.status_code == 200
    principal = await Verifier.from_settings(Settings()).verify(minted.json()["token"])
    assert [(g.role.value, g.target) for g in principal.grants] == [("province-operator", "74")]
    for role in ("province-system:74", "province-operator:99", "admin"):
        refused = await gateway.post("/dashboard/development-token", json={"role": role})
        assert refused.status_code == 422, role


async def test_with_a_real_issuer_there_is_no_development_token(tmp_path: Path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text('{"keys": []}')
    async for gateway in _client(
        auth_issuer="https://login.bnn.go.id/realms/pulih", auth_jwks_file=keys
    ):
        assert (await gateway.get("/dashboard/login-options")).json()["development"] is False
        minted = await gateway.post(
            "/dashboard/development-token", json={"role": "national-operator"}
        )
        assert minted.status_code == 404
