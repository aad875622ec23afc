"""Suppression off the request path, on the real broker and both databases: the tables below
province level are cut from cubes suppressed in the background as batches land, each served
with the time its figures were read; a batch re-suppresses only the provinces it touched."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from services.reporting.suppressed_cubes import store_of
from services.reporting.suppressor import settled
from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import publish, screened, unit_formed

NATIONAL = bearer("national-operator")
YEAR = 2025
SULSEL, SULTRA = "73.71.01.1001", "74.71.01.1001"


async def _table(client: httpx.AsyncClient, within: str, **more: str) -> dict[str, Any]:
    response = await client.get(
        "/indicators/clients_screened",
        headers=NATIONAL,
        params={"period": str(YEAR), "level": "regency", "within": within, **more},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_batch_resuppresses_only_the_provinces_it_touched(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    assert runtime.engine is not None
    units = {v: f"unit-{uuid.uuid4().hex[:16]}" for v in (SULSEL, SULTRA)}
    events: list[Any] = [unit_formed(u, v, date(YEAR - 1, 2, 1)) for v, u in units.items()]
    for village, unit in units.items():
        events += [screened(unit, village, date(YEAR, 3, 1 + d)) for d in range(6)]
    await publish(kafka_bootstrap, topics, events)

    async def suppressed(within: str, value: int) -> bool:
        table = await _table(client, within)
        return bool(table["within"]["value"] == value and table.get("suppressed_as_of"))

    await eventually(lambda: suppressed("73", 6), 60)
    await eventually(lambda: suppressed("74", 6), 60)
    await eventually(lambda: settled(runtime.engine), 60)
    before = {p: await _table(client, p) for p in ("73", "74")}
    rows = before["74"]["rows"]
    assert [(r["region"], r["value"]) for r in rows] == [("74.71", 6)]
    assert rows[0]["suppressed_as_of"] == before["74"]["suppressed_as_of"]
    made = {key: c.as_of for key, c in store_of(runtime.engine).cubes.items()}

    # One more screening in Sulawesi Tenggara: its cubes are suppressed again, in the
    # background; Sulawesi Selatan's are left as they were.
    await publish(kafka_bootstrap, topics, [screened(units[SULTRA], SULTRA, date(YEAR, 5, 2))])
    await eventually(lambda: suppressed("74", 7), 60)
    await eventually(lambda: settled(runtime.engine), 60)
    after = {p: await _table(client, p) for p in ("73", "74")}
    assert after["73"] == before["73"]
    assert after["74"]["suppressed_as_of"] > before["74"]["suppressed_as_of"]
    again = {key: c.as_of for key, c in store_of(runtime.engine).cubes.items()}
    changed = {key[4] for key in made if again.get(key) != made[key]}
    assert changed == {"74"}


async def test_a_table_not_suppressed_yet_is_answered_at_once_as_pending(
    reporting_never_waiting: tuple[Runtime, httpx.AsyncClient],
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    _, client = reporting_never_waiting
    unit = f"unit-{uuid.uuid4().hex[:16]}"
    events: list[Any] = [unit_formed(unit, SULTRA, date(YEAR - 1, 2, 1))]
    events += [screened(unit, SULTRA, date(YEAR, 3, 1 + d)) for d in range(6)]
    await publish(kafka_bootstrap, topics, events)

    async def counted() -> bool:
        return bool((await _table(client, "74"))["within"]["value"] == 6)

    await eventually(counted, 60)
    # By substance: a cube only a request asks for (the base cubes are made ahead). The
    # first request is answered without waiting for it: every figure below province level
    # withheld, and the answer says why.
    first = await _table(client, "74", by="substance")
    assert first["suppression"]["pending"] is True
    assert "suppressed_as_of" not in first
    assert first["rows"] and all(r["withheld"] for r in first["rows"])

    async def made() -> bool:
        table = await _table(client, "74", by="substance")
        return not table["suppression"]["pending"] and "suppressed_as_of" in table

    await eventually(made, 60)  # the suppressor took it first, in the background
    rows = (await _table(client, "74", by="substance"))["rows"]
    assert sum(r["value"] or 0 for r in rows if not r["withheld"]) > 0
