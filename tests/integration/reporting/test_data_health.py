"""Data health per province, on the real broker and both databases: the latest fact's time and
arrival, what arrived in a month, the late facts among them and the months they restated, the
median arrival lag and the units reporting; an operator reads their own province's only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import activity, publish, screened, unit_formed

A = "74.71.01.1001"  # Sulawesi Tenggara: WITA, UTC+8
B = "31.71.01.1001"  # DKI Jakarta: WIB, UTC+7


async def test_a_month_says_what_arrived_late_and_which_months_it_restated(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    _runtime, client = reporting
    kendari, jakarta = (f"unit-{uuid.uuid4().hex[:16]}" for _ in range(2))
    june = datetime(2025, 6, 20, 2, tzinfo=UTC)
    july = datetime(2025, 7, 2, 2, tzinfo=UTC)
    await publish(
        kafka_bootstrap,
        topics,
        [
            (unit_formed(kendari, A, date(2025, 6, 1)), {"time": june}),
            (unit_formed(jakarta, B, date(2025, 6, 1)), {"time": june}),
            # Arrived in July: two facts of July, two of earlier months (late: restating them).
            (screened(kendari, A, date(2025, 7, 1)), {"time": july}),  # 10:00 WITA, 1 July
            (activity(kendari, A, date(2025, 7, 1)), {"time": july}),
            (screened(kendari, A, date(2025, 5, 3)), {"time": july}),
            (activity(kendari, A, date(2025, 6, 28)), {"time": july}),
            (screened(jakarta, B, date(2025, 6, 15)), {"time": june}),
        ],
    )
    national = bearer("national-operator")

    async def answer(**params: str) -> dict[str, Any]:
        response = await client.get("/data-health", params=params, headers=national)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def july() -> dict[str, Any] | None:
        rows = {r["region"]: r for r in (await answer(month="2025-07"))["rows"]}
        # Jakarta's facts travel on other partitions: wait for both of them too (both arrived
        # in June; its unit alone would already give it a latest fact).
        in_june = {r["region"]: r for r in (await answer(month="2025-06"))["rows"]}
        arrived = rows.get("74", {}).get("received") == 4 and in_june.get("31", {}).get("received")
        return rows if arrived == 2 else None

    rows = await eventually(july, 60)

    kendari_july = rows["74"]
    assert kendari_july["late"] == 2
    assert kendari_july["restated_months"] == ["2025-05", "2025-06"]
    assert kendari_july["units_reporting"] == 1
    assert kendari_july["latest_received_at"] == "2025-07-02T10:00:00+08:00"
    assert kendari_july["latest_event_at"] == "2025-07-01T10:00:00+08:00"
    assert kendari_july["median_lag_hours"] is not None and kendari_july["median_lag_hours"] > 24
    # Jakarta sent nothing in July: its latest fact is June's, nothing arrived, nothing late.
    assert (rows["31"]["received"], rows["31"]["late"], rows["31"]["units_reporting"]) == (0, 0, 0)
    assert rows["31"]["latest_event_at"] == "2025-06-15T09:00:00+07:00"  # 10:00 WITA

    june_health = {r["region"]: r for r in (await answer(month="2025-06"))["rows"]}
    assert (june_health["31"]["received"], june_health["31"]["late"]) == (2, 0)

    # A province operator reads their own province, not another's nor Indonesia's.
    operator = bearer("province-operator:74")
    own = await client.get(
        "/data-health", params={"within": "74", "month": "2025-07"}, headers=operator
    )
    assert [r["region"] for r in own.json()["rows"]] == ["74"]
    for within in ("31", ""):
        refused = await client.get("/data-health", params={"within": within}, headers=operator)
        assert refused.status_code == 403, within
    future = await client.get("/data-health", params={"month": "2999-01"}, headers=national)
    assert future.status_code == 422
