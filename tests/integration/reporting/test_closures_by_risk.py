"""Closures by outcome crossed with the risk level the client was screened at, on the real
broker and both databases: BNN's "clients rehabilitated by risk level", exact at national and
province level, suppressed below it together with the outcome table it refines."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Any

import httpx

from services.reporting.suppressor import settled
from shared.contracts import client_case
from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import publish, screened, unit_formed
from tests.unit.contracts.examples import from_examples

OPERATOR = bearer("province-operator:74")
YEAR = 2025
A, C, D = ("74.71.01.1001", "74.71.02.1001", "74.02.01.2001")
BY = "outcome,risk_level"


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=OPERATOR, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _closed(unit: str, village: str, level: str, outcome: str, month: int) -> list[Any]:
    case_id = str(uuid.uuid4())
    return [
        screened(unit, village, date(YEAR, month, 1), level, case_id=case_id),
        from_examples(
            client_case.CaseClosed,
            unit_id=unit,
            province_code="74",
            village_code=village,
            case_id=case_id,
            client_ref=hashlib.sha256(case_id.encode()).hexdigest(),
            outcome=outcome,
            last_stage="services",
            closed_on=date(YEAR, month, 20),
            weeks_in_service=3,
            referral_id=None,
        ),
    ]


async def test_closures_by_outcome_and_risk_level(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    units = {v: f"unit-{uuid.uuid4().hex[:16]}" for v in (A, C, D)}
    events: list[Any] = [unit_formed(u, v, date(YEAR - 1, 3, 1)) for v, u in units.items()]
    # A: six completed at moderate risk, two dropped out at high risk (small); D: seven
    # completed at low risk; C: five completed at moderate risk.
    for village, level, outcome, n in (
        (A, "moderate", "completed", 6),
        (A, "high", "dropped_out", 2),
        (D, "low", "completed", 7),
        (C, "moderate", "completed", 5),
    ):
        for _ in range(n):
            events += _closed(units[village], village, level, outcome, 5)
    await publish(kafka_bootstrap, topics, events)

    async def projected() -> bool:
        table = await _get(client, "/indicators/closures", period=str(YEAR), within="74", by=BY)
        parts = {r["part"]: r["value"] for r in table["rows"]}
        # The units too (another topic): a unit not yet known leaves its village out.
        formed = await _get(client, "/indicators/units_formed", period=str(YEAR - 1), within="74")
        return (
            table["within"]["value"] == 20
            and parts.get("dropped_out,high") == 2
            and formed["within"]["value"] == 3
        )

    await eventually(projected, 60)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 60)  # the suppressed tables caught up too

    # The province: exact, every outcome by every risk level (and "unknown" where a case's
    # screening has not arrived).
    province = await _get(client, "/indicators/closures", period=str(YEAR), within="74", by=BY)
    parts = {r["part"]: r["value"] for r in province["rows"] if r["value"]}
    assert parts == {"completed,moderate": 11, "completed,low": 7, "dropped_out,high": 2}
    assert {"completed,unknown", "other,high"} <= {r["part"] for r in province["rows"]}
    catalog = (await client.get("/indicators", headers=OPERATOR)).json()
    (closures,) = [i for i in catalog if i["name"] == "closures"]
    assert closures["breakdowns"][BY]["adds_up_to_total"] is True

    # Below province level the crossed table and the outcome table are cut from one pattern:
    # A's two high-risk drop-outs are withheld, and wherever a region's outcome is shown with
    # all its risk levels shown, they add up to it.
    for period in (str(YEAR), f"{YEAR}-05"):
        for level in ("regency", "district", "village"):
            params = {"period": period, "level": level, "within": "74"}
            crossed = await _get(client, "/indicators/closures", by=BY, **params)
            outcomes = await _get(client, "/indicators/closures", by="outcome", **params)
            fine = {(r["region"], r["part"]): r for r in crossed["rows"]}
            for row in outcomes["rows"]:
                refinements = [r for (g, p), r in fine.items() if g == row["region"]]
                refinements = [r for r in refinements if r["part"].startswith(f"{row['part']},")]
                if row["withheld"] or any(r["withheld"] for r in refinements):
                    continue
                assert row["value"] == sum(r["value"] for r in refinements), (period, row)
            small = [r for r in crossed["rows"] if r["value"] is not None and 0 < r["value"] < 5]
            assert small == [], (period, level)
    villages = await _get(
        client, "/indicators/closures", period=str(YEAR), level="village", within="74", by=BY
    )
    shown = {(r["region"], r["part"]): r for r in villages["rows"]}
    assert shown[(A, "dropped_out,high")]["withheld"]
    assert shown[(D, "completed,low")]["value"] in (7, None)  # 7, or withheld as a complement

    # The series crosses the same way, withheld as its tables are.
    series = await _get(client, "/indicators/closures/series", year=YEAR, region=A, by=BY)
    may = {r["part"]: r for r in series["rows"] if r["period"] == f"{YEAR}-05"}
    assert may["dropped_out,high"]["withheld"]
