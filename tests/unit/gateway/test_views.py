"""Overviews kept per caller (services/gateway/overview.py `Views`): a complete view is served
again to the same token for its max age, never to another token, and a partial one never."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.requests import Request

from services.gateway.overview import Missing, RegionOverview, Views


def _request(token: str, path: str = "/overview/regions/74") -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request(
        {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers}
    )


def _maker(made: list[int], partial: bool = False):  # type: ignore[no-untyped-def]
    async def make() -> RegionOverview:
        made.append(1)
        missing = [Missing(service="reporting", part="indicators", reason="timeout")]
        return RegionOverview(
            code="74",
            region={"code": "74"},
            units=None,
            indicators=None,
            partial=partial,
            missing=missing if partial else [],
            as_of=datetime.now(UTC),
        )

    return make


async def test_a_complete_view_is_kept_for_its_caller_only() -> None:
    views, made = Views(max_age=60), []
    first = await views.view(_request("alice"), _maker(made))
    again = await views.view(_request("alice"), _maker(made))
    assert again.body == first.body and len(made) == 1
    assert first.headers["cache-control"] == "private, max-age=60"
    await views.view(_request("bob"), _maker(made))  # another token: made for them
    await views.view(_request("alice", "/overview/regions/73"), _maker(made))
    assert len(made) == 3


async def test_a_partial_view_is_made_anew_every_time() -> None:
    views, made = Views(max_age=60), []
    answer = await views.view(_request("alice"), _maker(made, partial=True))
    await views.view(_request("alice"), _maker(made, partial=True))
    assert len(made) == 2 and json.loads(answer.body)["partial"] is True


async def test_max_age_zero_keeps_nothing() -> None:
    views, made = Views(max_age=0), []
    await views.view(_request("alice"), _maker(made))
    await views.view(_request("alice"), _maker(made))
    assert len(made) == 2
