"""A part of an overview: what a service answered, or left out and named in `missing` — also a
table reporting has not suppressed yet, whose figures below province level are withheld only
for a moment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.gateway.overview import Fetch
from services.gateway.settings import Settings
from services.gateway.upstream import Upstreams

TABLE = {"indicator": "clients_screened", "rows": [{"region": "74.71.01", "withheld": True}]}


def _answering(body: dict[str, Any]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json=body))


@pytest.fixture
async def upstreams() -> AsyncIterator[Upstreams]:
    made = Upstreams(Settings())
    yield made
    await made.close()


async def test_a_table_not_suppressed_yet_is_left_out_as_pending(upstreams: Upstreams) -> None:
    upstreams.client = httpx.AsyncClient(
        transport=_answering({**TABLE, "suppression": {"applies": True, "pending": True}})
    )
    fetch = Fetch(upstreams, {}, [])
    assert await fetch.get("reporting", "indicators", "/indicators/clients_screened") is None
    assert [(m.service, m.part, m.reason) for m in fetch.missing] == [
        ("reporting", "indicators", "pending")
    ]


async def test_a_suppressed_table_is_the_part(upstreams: Upstreams) -> None:
    answer = {**TABLE, "suppression": {"applies": True, "pending": False}}
    upstreams.client = httpx.AsyncClient(transport=_answering(answer))
    fetch = Fetch(upstreams, {}, [])
    assert await fetch.get("reporting", "indicators", "/indicators/clients_screened") == answer
    assert fetch.missing == []
