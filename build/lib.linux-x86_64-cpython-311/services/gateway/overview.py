"""Aggregated views: one answer from several services, fetched in parallel, each within its
time budget. A service that is down, slow or failing leaves its part out and the answer says
so (`partial`, `missing`); the view never fails as a whole for it.

A complete view is kept for its caller (their token) for `overview_max_age_seconds` and served
again meanwhile, with its `as_of`: a dashboard asks for the same views again and again, and a
view costs four or five calls to the services. For `overview_stale_seconds` more it is still
served at once while a fresh one is made in the background, so a dashboard's caller waits only
for their first view. A partial one is never kept, so a service that comes back shows at once."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from cachetools import TTLCache
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from services.gateway.proxy import upstreams_of
from services.gateway.upstream import Upstreams, forwarded_headers
from shared.dependencies import PersonDep
from shared.http import AUTHENTICATED

router = APIRouter(responses=AUTHENTICATED)
log = logging.getLogger(__name__)

_LEVELS = ("province", "regency", "district", "village")


class Missing(BaseModel):
    service: str
    part: str
    reason: str = Field(
        description="unavailable, timeout, failed, forbidden, not-found, or pending (a table "
        "reporting has not suppressed yet: its figures below province level are withheld for "
        "a moment, so they are left out rather than shown withheld)"
    )


class UnitOverview(BaseModel):
    unit_id: str
    unit: dict[str, Any] | None
    agents: list[dict[str, Any]] | None
    cases: dict[str, Any] | None = Field(description="Open cases by stage and at risk.")
    sessions: dict[str, Any] | None = Field(description="The next 7 days' sessions by state.")
    indicators: dict[str, Any] | None = Field(description="The unit's village, this year.")
    partial: bool
    missing: list[Missing]
    as_of: datetime


class RegionOverview(BaseModel):
    code: str
    region: dict[str, Any] | None
    units: dict[str, Any] | None = Field(description="Units in the region by status.")
    indicators: dict[str, Any] | None = Field(description="This year's figures, by sub-region.")
    partial: bool
    missing: list[Missing]
    as_of: datetime


@dataclass
class Fetch:
    """Calls for one view: each part fetched within the budget, failures noted, not raised."""

    upstreams: Upstreams
    headers: dict[str, str]
    missing: list[Missing]

    async def get(
        self, service: str, part: str, path: str, params: dict[str, Any] | None = None
    ) -> Any:
        breaker = self.upstreams.breakers[service]
        if not breaker.allows():
            self.missing.append(Missing(service=service, part=part, reason="unavailable"))
            return None
        try:
            answer = await self.upstreams.client.get(
                self.upstreams.url(service, path),
                params=params,
                headers=self.headers,
                timeout=self.upstreams.settings.overview_budget_seconds,
            )
        except httpx.TimeoutException:
            breaker.failed()
            self.missing.append(Missing(service=service, part=part, reason="timeout"))
            return None
        except httpx.HTTPError:
            breaker.failed()
            self.missing.append(Missing(service=service, part=part, reason="unavailable"))
            return None
        if answer.status_code >= 500:
            breaker.failed()
            self.missing.append(Missing(service=service, part=part, reason="failed"))
            return None
        breaker.succeeded()
        if answer.status_code in (401, 403):
            self.missing.append(Missing(service=service, part=part, reason="forbidden"))
            return None
        if answer.status_code == 404:
            self.missing.append(Missing(service=service, part=part, reason="not-found"))
            return None
        if answer.status_code >= 300:
            return None
        found = answer.json()
        if isinstance(found, dict) and found.get("suppression", {}).get("pending"):
            self.missing.append(Missing(service=service, part=part, reason="pending"))
            return None
        return found


@dataclass
class _Kept:
    made_at: float
    """`time.monotonic()` when it was made."""
    fresh_for: float
    body: bytes


class Views:
    """Complete views kept per caller and URL (the most recent 4,096): served again for
    `max_age` seconds; for `stale_for` seconds more they are still served at once while a
    fresh one is made in the background (stale-while-revalidate), one at a time a view.

    Each view's max age is shortened by up to a quarter at random, so that views made at the
    same moment (many dashboards opened at once) are not all made again at the same moment."""

    def __init__(self, max_age: float, stale_for: float = 0) -> None:
        self.max_age, self.stale_for = max_age, stale_for
        self.kept: TTLCache[tuple[str, str], _Kept] = TTLCache(4096, (max_age + stale_for) or 1)
        self.making: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def view(
        self, request: Request, make: Callable[[], Awaitable[UnitOverview | RegionOverview]]
    ) -> Response:
        key = (request.headers.get("authorization", ""), str(request.url))
        kept = self.kept.get(key) if self.max_age else None
        if kept is None:
            body = await self._made(key, make)
        else:
            body = kept.body
            stale = time.monotonic() - kept.made_at > kept.fresh_for
            if stale and key not in self.making:
                self.making[key] = asyncio.create_task(self._remade(key, make))
        cache_control = f"private, max-age={int(self.max_age)}"
        if self.stale_for:
            cache_control += f", stale-while-revalidate={int(self.stale_for)}"
        return Response(
            body, media_type="application/json", headers={"cache-control": cache_control}
        )

    async def _made(
        self, key: tuple[str, str], make: Callable[[], Awaitable[UnitOverview | RegionOverview]]
    ) -> bytes:
        made = await make()
        body = made.model_dump_json().encode()
        if self.max_age and not made.partial:
            fresh_for = self.max_age * (1 - random.random() / 4)  # noqa: S311 - not a secret
            self.kept[key] = _Kept(time.monotonic(), fresh_for, body)
        return body

    async def _remade(
        self, key: tuple[str, str], make: Callable[[], Awaitable[UnitOverview | RegionOverview]]
    ) -> None:
        """A fresh view in the background. A partial one is not kept: the kept one is served
        until its stale time runs out, and the caller then waits for a complete one."""
        try:
            await self._made(key, make)
        except Exception:
            log.exception("an overview could not be made again in the background")
        finally:
            del self.making[key]


def views_of(request: Request) -> Views:
    views: Views = request.app.state.views
    return views


def _fetch(request: Request) -> Fetch:
    headers = forwarded_headers({}, request.headers.get("authorization", ""))
    return Fetch(upstreams_of(request), headers, [])


@router.get("/overview/units/{unit_id}", response_model=UnitOverview, tags=["overview"])
async def unit_overview(unit_id: str, request: Request, _people: PersonDep) -> Response:
    """A unit at a glance: the registry's record and team, its open cases by stage (client-case),
    the next 7 days' sessions by state (scheduling) and its village's figures this year
    (reporting). Each part is what the caller may see there; a part a service could not give in
    time is left out and named in `missing`. A complete view is served again to the same caller
    for a few seconds (`Cache-Control`), with the `as_of` it was made at."""
    return await views_of(request).view(request, lambda: _unit_overview(unit_id, request))


async def _unit_overview(unit_id: str, request: Request) -> UnitOverview:
    fetch = _fetch(request)
    today = datetime.now(UTC).date()
    path = quote(unit_id, safe="")
    team_and_work = asyncio.gather(  # under way while the unit is read for its village
        fetch.get("registry", "agents", f"/units/{path}/agents"),
        fetch.get("client-case", "cases", "/cases", {"unit_id": unit_id, "limit": 1000}),
        fetch.get(
            "scheduling",
            "sessions",
            f"/units/{path}/calendar",
            {"from": today.isoformat(), "to": (today + timedelta(days=6)).isoformat()},
        ),
    )
    unit = await fetch.get("registry", "unit", f"/units/{path}")
    village = unit["village_code"] if unit else None
    figures = (
        await fetch.get(
            "reporting",
            "indicators",
            "/indicators/clients_screened",
            {"period": str(today.year), "level": "village", "within": village[:8]},
        )
        if village
        else None
    )
    agents, cases, calendar = await team_and_work
    return UnitOverview(
        unit_id=unit_id,
        unit=unit,
        agents=agents,
        cases=_case_counts(cases),
        sessions=_session_counts(calendar),
        indicators=_row_of(figures, village),
        partial=bool(fetch.missing),
        missing=fetch.missing,
        as_of=datetime.now(UTC),
    )


@router.get("/overview/regions/{code}", response_model=RegionOverview, tags=["overview"])
async def region_overview(code: str, request: Request, _people: PersonDep) -> Response:
    """A region at a glance: the registry's record, its units by status, and this year's units
    formed and clients screened by sub-region (reporting, as of its latest event). A complete
    view is served again to the same caller for a few seconds (`Cache-Control`), with the
    `as_of` it was made at."""
    return await views_of(request).view(request, lambda: _region_overview(code, request))


async def _region_overview(code: str, request: Request) -> RegionOverview:
    fetch = _fetch(request)
    year = str(datetime.now(UTC).year)
    depth = min(code.count("."), len(_LEVELS) - 2)
    below = _LEVELS[depth + 1]
    units_params = {"province": code} if depth == 0 else {"regency": code[:5]}
    region, units, formed, screened = await asyncio.gather(
        fetch.get("registry", "region", f"/regions/{quote(code, safe='')}"),
        fetch.get("registry", "units", "/units", {**units_params, "limit": 0}),
        fetch.get(
            "reporting",
            "indicators",
            "/indicators/units_formed",
            {"period": year, "level": below, "within": code},
        ),
        fetch.get(
            "reporting",
            "indicators",
            "/indicators/clients_screened",
            {"period": year, "level": below, "within": code},
        ),
    )
    return RegionOverview(
        code=code,
        region=region,
        units={"total": units["total"], "by_status": units["by_status"]} if units else None,
        indicators=(
            {"units_formed": formed, "clients_screened": screened} if formed or screened else None
        ),
        partial=bool(fetch.missing),
        missing=fetch.missing,
        as_of=datetime.now(UTC),
    )


def _case_counts(cases: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if cases is None:
        return None
    open_cases = [c for c in cases if c["stage"] != "closed"]
    return {
        "open": len(open_cases),
        "by_stage": Counter(c["stage"] for c in open_cases),
        "at_risk": sum(1 for c in open_cases if c.get("at_risk_on")),
    }


def _session_counts(calendar: dict[str, Any] | None) -> dict[str, Any] | None:
    if calendar is None:
        return None
    states = Counter(s["state"] for day in calendar["days"] for s in day["sessions"])
    return {"from": calendar["from"], "to": calendar["to"], "by_state": states}


def _row_of(figures: dict[str, Any] | None, village: str | None) -> dict[str, Any] | None:
    if figures is None or village is None:
        return None
    rows = [r for r in figures["rows"] if r["region"] == village]
    return {"indicator": figures["indicator"], "period": figures["period"], **(rows or [{}])[0]}
