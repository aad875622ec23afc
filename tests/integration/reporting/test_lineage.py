"""Every figure's lineage, on the real broker and both databases: how many distinct events fed
it (an event a relay delivers again at a new offset counts once and changes nothing), when
the latest fact among them happened (event time, in the province's zone) and when the latest
of them reached the platform."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from services.reporting.suppressor import settled
from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import activity, publish, screened, unit_formed

NATIONAL = bearer("national-operator")
A = "74.71.01.1001"  # Sulawesi Tenggara: WITA, UTC+8


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=NATIONAL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_figure_says_when_its_facts_happened_and_arrived_and_counts_each_event_once(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    unit = f"unit-{uuid.uuid4().hex[:16]}"
    arrived = datetime(2025, 7, 1, 3, tzinfo=UTC)
    first = screened(unit, A, date(2025, 3, 2))  # 10:00 WITA on 2 March
    second = screened(unit, A, date(2025, 3, 9))
    await publish(
        kafka_bootstrap,
        topics,
        [
            (unit_formed(unit, A, date(2024, 3, 1)), {"time": arrived}),
            (first, {"time": arrived, "event_id": "screened-1"}),
            (second, {"time": arrived, "event_id": "screened-2"}),
            (activity(unit, A, date(2025, 3, 10)), {"time": arrived}),
        ],
    )
    # The relay delivers the first screening again, at a new offset, a day later.
    await publish(
        kafka_bootstrap,
        topics,
        [
            (first, {"time": datetime(2025, 7, 2, tzinfo=UTC), "event_id": "screened-1"}),
            (screened(unit, A, date(2025, 4, 1)), {"time": datetime(2025, 7, 3, tzinfo=UTC)}),
        ],
    )

    async def projected() -> bool:
        table = await _get(client, "/indicators/clients_screened", period="2025", within="74")
        return bool(table["within"]["value"] == 3)

    await eventually(projected, 60)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 60)  # the suppressed tables caught up too

    march = await _get(client, "/indicators/clients_screened", period="2025-03", within="74")
    (row,) = march["rows"]
    assert (row["value"], row["events"]) == (2, 2)  # the re-delivered screening counts once
    assert row["latest_event_at"] == "2025-03-09T10:00:00+08:00"  # when it happened, there
    assert row["latest_received_at"] == "2025-07-01T11:00:00+08:00"  # not the re-delivery
    national = await _get(client, "/indicators/clients_screened", period="2025-03")
    assert datetime.fromisoformat(national["within"]["latest_event_at"]) == datetime(
        2025, 3, 9, 2, tzinfo=UTC
    )

    # A fact dated by day happened at the start of that day in the province.
    activities = await _get(client, "/indicators/activities", period="2025-03", within="74")
    (row,) = activities["rows"]
    assert (row["value"], row["events"], row["latest_event_at"]) == (
        1,
        1,
        "2025-03-10T00:00:00+08:00",
    )
