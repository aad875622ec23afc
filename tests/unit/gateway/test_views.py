"""Overviews kept per caller (services/gateway/overview.py `Views`): a complete view is served
again to the same token for its max age, never to another token, and a partial one never."""

from __future__ import annotations

import asyncio
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


async def test_a_view_past_its_max_age_is_served_at_once_while_a_fresh_one_is_made() -> None:
    views, made = Views(max_age=0.05, stale_for=60), []
    first = await views.view(_request("alice"), _maker(made))
    assert first.headers["cache-control"] == "private, max-age=0, stale-while-revalidate=60"
    await asyncio.sleep(0.06)

    stale = await views.view(_request("alice"), _maker(made))
    also_stale = await views.view(_request("alice"), _maker(made))  # one remake at a time
    assert stale.body == also_stale.body == first.body
    await asyncio.gather(*views.making.values())
    assert len(made) == 2
    fresh = await views.view(_request("alice"), _maker(made))
    assert json.loads(fresh.body)["as_of"] > json.loads(first.body)["as_of"]


async def test_past_its_stale_time_the_caller_waits_for_a_fresh_view() -> None:
    views, made = Views(max_age=0.02, stale_for=0.03), []
    first = await views.view(_request("alice"), _maker(made))
    await asyncio.sleep(0.06)
    fresh = await views.view(_request("alice"), _maker(made))
    assert len(made) == 2 and not views.making
    assert json.loads(fresh.body)["as_of"] > json.loads(first.body)["as_of"]


async def test_a_partial_remake_keeps_serving_the_complete_view() -> None:
    views, made = Views(max_age=0.02, stale_for=60), []
    first = await views.view(_request("alice"), _maker(made))
    await asyncio.sleep(0.03)
    await views.view(_request("alice"), _maker(made, partial=True))
    await asyncio.gather(*views.making.values())
    again = await views.view(_request("alice"), _maker(made, partial=True))
    assert again.body == first.body and json.loads(again.body)["partial"] is False
