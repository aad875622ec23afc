"""Figures over ranges of years and quarters, and shares over cohorts of units, on the real
broker and both databases: BNN's "units formed 2021-2023", "of the units formed 2021-2023,
how many were still operational in 2024", "clients screened in 2024-Q3"."""

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
from tests.reporting_events import activity, publish, screened, unit_formed

NATIONAL = bearer("national-operator")
PROVINCE = bearer("province-operator:74")
A, B, C, D = ("74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001")


async def _get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] = NATIONAL, **params: Any
) -> dict[str, Any]:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _problems(client: httpx.AsyncClient, path: str, **params: Any) -> set[tuple[str, str]]:
    response = await client.get(path, headers=NATIONAL, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {(e["field"], e["rule"]) for e in response.json()["errors"]}


def _scenario() -> tuple[dict[str, str], list[Any]]:
    """One unit formed each year 2021-2024; the 2022 unit worked only in 2022, the 2021 and
    2023 units screened in 2024's third quarter, as did the 2024 unit."""
    units = {v: f"unit-{uuid.uuid4().hex[:16]}" for v in (A, B, C, D)}
    events: list[Any] = [
        unit_formed(units[v], v, date(year, 3, 1))
        for v, year in ((A, 2021), (B, 2022), (C, 2023), (D, 2024))
    ]
    events.append(activity(units[B], B, date(2022, 6, 1)))
    for month in (7, 8, 9):
        events += [screened(units[A], A, date(2024, month, 2 + n)) for n in range(5)]
        events += [screened(units[D], D, date(2024, month, 2 + n)) for n in range(6)]
    events += [screened(units[C], C, date(2024, 8, 2 + n)) for n in range(2)]
    events.append(screened(units[A], A, date(2024, 10, 1)))  # the fourth quarter
    return units, events


async def _projected(runtime: Runtime, client: httpx.AsyncClient) -> None:
    async def done() -> bool:
        formed = await _get(client, "/indicators/units_formed", period="2021..2024")
        screenings = await _get(client, "/indicators/clients_screened", period="2024")
        activities = await _get(client, "/indicators/activities", period="2022")
        figures = (formed, screenings, activities)
        return tuple(f["within"]["value"] for f in figures) == (4, 36, 1)

    await eventually(done, 60)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 60)  # the suppressed tables caught up too


async def test_every_indicator_answers_a_range_of_years_or_a_quarter(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    _units, events = _scenario()
    await publish(kafka_bootstrap, topics, events)
    await _projected(runtime, client)

    formed = await _get(client, "/indicators/units_formed", period="2021..2023", level="national")
    assert formed["period"] == "2021..2023"
    assert [(r["region"], r["value"]) for r in formed["rows"]] == [("", 3)]
    cumulative = await _get(client, "/indicators/units_cumulative", period="2021..2023")
    assert cumulative["within"]["value"] == 3  # formed by the range's end

    # The third quarter of 2024: October's screening is not in it.
    quarter = await _get(client, "/indicators/clients_screened", period="2024-Q3")
    assert quarter["within"]["value"] == 35
    by_risk = await _get(
        client, "/indicators/clients_screened", period="2024-Q3", level="national", by="risk_level"
    )
    assert {r["part"]: r["value"] for r in by_risk["rows"]}["moderate"] == 35

    # Below province level a quarter shows a region where its three months show, as their
    # sum, and withholds it where any month is withheld: nothing the monthly tables hide.
    for level in ("regency", "district", "village"):
        params = {"level": level, "within": "74"}
        rows = await _get(
            client, "/indicators/clients_screened", PROVINCE, period="2024-Q3", **params
        )
        months = [
            {
                r["region"]: r
                for r in (
                    await _get(
                        client,
                        "/indicators/clients_screened",
                        PROVINCE,
                        period=f"2024-{m:02d}",
                        **params,
                    )
                )["rows"]
            }
            for m in (7, 8, 9)
        ]
        for row in rows["rows"]:
            parts = [month[row["region"]] for month in months]
            if any(p["withheld"] for p in parts):
                assert row["withheld"] and row["value"] is None, (level, row)
            else:
                assert row["value"] == sum(p["value"] for p in parts), (level, row)
        assert any(r["withheld"] for r in rows["rows"])  # C's two screenings
    villages = await _get(
        client,
        "/indicators/clients_screened",
        PROVINCE,
        period="2024-Q3",
        level="village",
        within="74",
    )
    assert {r["region"]: r["value"] for r in villages["rows"]}[C] is None

    # A range below province level: withheld where a year is (C's screenings are 2024's).
    ranged = await _get(
        client,
        "/indicators/clients_screened",
        PROVINCE,
        period="2023..2024",
        level="village",
        within="74",
    )
    year = await _get(
        client,
        "/indicators/clients_screened",
        PROVINCE,
        period="2024",
        level="village",
        within="74",
    )
    assert [(r["region"], r["withheld"], r["value"]) for r in ranged["rows"]] == [
        (r["region"], r["withheld"], r["value"]) for r in year["rows"]
    ]

    # A stock at the end of a quarter is the stock at the end of its last month.
    stock = await _get(client, "/indicators/in_services", period="2024-Q3", level="province")
    september = await _get(client, "/indicators/in_services", period="2024-09", level="province")
    assert stock["rows"] == september["rows"]

    # Periods that are none of the forms, or have not begun, name the field and the rule.
    path = "/indicators/clients_screened"
    assert await _problems(client, path, period="2024-Q5") == {("period", "period-form")}
    assert await _problems(client, path, period="2024..2021") == {("period", "range-order")}
    assert await _problems(client, path, period="2025..2099") == {("period", "not-future")}
    assert await _problems(client, "/indicators/sustained_units", period="2024-Q3") == {
        ("period", "years-only")
    }


async def test_shares_over_a_cohort_carry_their_numerator_and_denominator(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    _units, events = _scenario()
    await publish(kafka_bootstrap, topics, events)
    await _projected(runtime, client)

    async def share(indicator: str, **params: Any) -> tuple[Any, ...]:
        table = await _get(client, f"/indicators/{indicator}", level="national", **params)
        (row,) = table["rows"]
        assert table["within"]["share"] == row["share"]
        return row["numerator"], row["denominator"], row["share"], table["definitions"]

    # Of the units formed 2021-2023, those still operational in 2024: the 2021 and 2023 units.
    n, d, s, defined = await share("sustained_units", period="2024", cohort="2021..2023")
    assert (n, d, s) == (2, 3, 0.6667)
    assert defined == {
        "numerator": "Units formed in 2021 to 2023 that held an activity, delivered a service "
        "or screened someone at least once in 2024.",
        "denominator": "Units formed in 2021 to 2023.",
    }
    # Of the units formed 2021-2024, those operational at least once in 2021-2024.
    n, d, s, _ = await share("operational_units", period="2021..2024", cohort="2021..2024")
    assert (n, d, s) == (4, 4, 1.0)
    # Of those formed 2021-2022, operational in 2021-2023: only the 2022 unit's activity.
    n, d, s, defined = await share("operational_units", period="2021..2023", cohort="2021..2022")
    assert (n, d, s) == (1, 2, 0.5)
    assert defined["denominator"] == "Units formed in 2021 to 2022."
    # Without a cohort the share divides by the units formed by the period's end, not by
    # every unit ever formed.
    n, d, s, defined = await share("operational_units", period="2022")
    assert (n, d, s) == (1, 2, 0.5)
    assert defined["denominator"] == "Units formed by 2022-12-31."

    # Per province, a region with units but none operational shows 0, not nothing.
    provinces = await _get(
        client, "/indicators/operational_units", period="2023", level="province", cohort="2022"
    )
    assert [(r["region"], r["value"], r["denominator"]) for r in provinces["rows"]] == [
        ("74", 0, 1)
    ]

    assert await _problems(
        client, "/indicators/clients_screened", period="2024", cohort="2021..2023"
    ) == {("cohort", "cohort-indicator")}
    assert await _problems(
        client, "/indicators/sustained_units", period="2024", cohort="2021..2024"
    ) == {("cohort", "formed-before-period")}
    assert await _problems(
        client, "/indicators/operational_units", period="2024", cohort="2024-Q1"
    ) == {("cohort", "years-only")}
