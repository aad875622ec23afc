"""Every service's answers carry security headers, oversized requests are refused with 413
(declared or streamed), and browsers from other origins are refused unless configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from services.registry.app import SPEC
from services.registry.settings import Settings
from shared.runtime import Runtime, create_app
from tests.auth import bearer


def _client(tmp_path: Path, **settings: object) -> httpx.AsyncClient:
    app = create_app(
        Runtime(SPEC, Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", **settings))
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry")


async def test_answers_carry_security_headers_and_big_bodies_are_refused(tmp_path: Path) -> None:
    async with _client(tmp_path, max_request_bytes=4096) as client:
        answer = await client.get("/health/live")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        docs = await client.get("/docs")
        assert "content-security-policy" not in docs.headers  # the docs page loads its scripts
        big = await client.post("/units", headers=bearer("national-operator"), content=b"x" * 5000)
        assert big.status_code == 413 and big.json()["title"] == "Request too large"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 1000

        streamed = await client.post(
            "/units", headers=bearer("national-operator"), content=chunks()
        )
        assert streamed.status_code == 413


async def test_other_origins_are_refused_unless_configured(tmp_path: Path) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    async with _client(tmp_path) as closed:
        answer = await closed.options("/regions", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    async with _client(tmp_path, cors_origins=["https://dasbor.bnn.go.id"]) as opened:
        allowed = await opened.options(
            "/regions", headers={**preflight, "Origin": "https://dasbor.bnn.go.id"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://dasbor.bnn.go.id"
        refused = await opened.options("/regions", headers=preflight)
        assert "access-control-allow-origin" not in refused.headers
