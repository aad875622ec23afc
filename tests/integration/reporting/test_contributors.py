"""The contributor rule as shipped (`PULIH_MIN_UNITS` 3), on the real broker and both
databases: below province level a client-derived figure made of fewer than three units is
withheld however large it is, because it describes those units' clients."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from services.reporting.suppressor import settled
from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import publish, screened, unit_formed

OPERATOR = bearer("province-operator:74")
YEAR = 2025
# 74.71.01: two units (ten screenings each); 74.71.02: one unit (ten); 74.02.01: three (six each).
SCREENINGS = {
    "74.71.01.1001": 10,
    "74.71.01.1002": 10,
    "74.71.02.1001": 10,
    "74.02.01.2001": 6,
    "74.02.01.2002": 6,
    "74.02.01.2003": 6,
}


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=OPERATOR, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_figure_from_fewer_than_three_units_is_withheld_below_province(
    reporting_as_shipped: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting_as_shipped
    events: list[Any] = []
    for village, n in SCREENINGS.items():
        unit = f"unit-{uuid.uuid4().hex[:16]}"
        events.append(unit_formed(unit, village, date(YEAR - 1, 1, 10)))
        events += [screened(unit, village, date(YEAR, 4, 1 + d)) for d in range(n)]
    await publish(kafka_bootstrap, topics, events)

    async def projected() -> bool:
        """Every screening and every unit (another topic, so in any order): a unit not yet
        known leaves its village out of the cubes."""
        table = await _get(client, "/indicators/clients_screened", period=str(YEAR), within="74")
        units = await _get(client, "/indicators/units_formed", period=str(YEAR - 1), within="74")
        return bool((table["within"]["value"], units["within"]["value"]) == (48, 6))

    await eventually(projected, 60)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 60)  # the suppressed tables caught up too

    def shown(table: dict[str, Any]) -> dict[str, Any]:
        return {r["region"]: r["value"] for r in table["rows"]}

    params = {"period": str(YEAR), "within": "74"}
    districts = await _get(client, "/indicators/clients_screened", level="district", **params)
    assert districts["suppression"]["min_units"] == 3
    # Twenty screenings by two units, ten by one: withheld; eighteen by three: shown.
    assert shown(districts) == {"74.71.01": None, "74.71.02": None, "74.02.01": 18}
    regencies = await _get(client, "/indicators/clients_screened", level="regency", **params)
    assert shown(regencies) == {"74.02": 18, "74.71": 30}
    villages = await _get(client, "/indicators/clients_screened", level="village", **params)
    assert set(shown(villages).values()) == {None}  # one unit each
    months = await _get(client, "/indicators/clients_screened/series", year=YEAR, region="74.71.01")
    assert all(r["withheld"] for r in months["rows"] if r["period"] == f"{YEAR}-04")
    province = await _get(client, "/indicators/clients_screened", **params)
    assert shown(province) == {"74": 48}
