"""What a reader of the reporting API can work out, on the real broker and both databases.

The attacker here reads every table a province operator can read for a province-year (the
admissions and referrals tables at every level, period and breakdown, the median days to
intake and the referral completion rate), knows how the cells add up, and solves for the
withheld ones. A median or rate must not show a count the count's table withholds, nor say
"no clients" where that table withholds a zero; together, nothing small may be pinned down.
Unknown regions and periods that have not begun are problems, not zeros.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell
from services.reporting.generations import serving_generation
from services.reporting.indicators import COUNTS
from services.reporting.suppressed_cubes import ATTENDED, NOT_ATTENDED, build_cube, count_key
from services.reporting.suppression import Relation
from services.reporting.suppressor import settled
from shared.contracts import client_case
from shared.messaging.broker import Topics
from shared.runtime import Runtime
from tests.auth import bearer
from tests.eventually import eventually
from tests.reporting_events import enrolled, publish, screened, unit_formed
from tests.unit.contracts.examples import from_examples
from tests.unit.reporting.audit import pinned

OPERATOR = bearer("province-operator:74")
K = 5  # the service's default PULIH_SUPPRESSION_K
YEAR = 2025  # a year that has ended: periods that have not begun are refused
PERIODS = [str(YEAR), *(f"{YEAR}-{m:02d}" for m in range(1, 13))]
# Province 74: regency 74.71 (districts 01 with two units, 02 with one), regency 74.02 (one).
A, B, C, D = ("74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001")
ROUTES = COUNTS["admissions"].breakdowns["admission_route"].values
DESTINATIONS = COUNTS["referrals"].breakdowns["destination_type"].values

Key = tuple[str, Cell]
"""A count's cell: (count, cell)."""
ADMITTED = {"admissions": ("admissions", TOTAL), "clients": ("admissions", TOTAL)}
REFERRED = {"referred": ("referrals", TOTAL), "attended": ("referrals", ATTENDED)}
"""The counts a median's and a rate's fields carry: the cells of their count's tables."""


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=OPERATOR, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _admitted(unit: str, village: str, screened_on: date, enrolled_on: date) -> list[Any]:
    case_id = str(uuid.uuid4())
    return [
        screened(unit, village, screened_on, case_id=case_id),
        enrolled(unit, village, case_id, enrolled_on),
    ]


def _referred(unit: str, village: str, on: date, resolution: str | None) -> list[Any]:
    where = {"unit_id": unit, "province_code": village[:2], "village_code": village}
    case_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    client_ref = hashlib.sha256(case_id.encode()).hexdigest()
    events = [
        from_examples(
            client_case.ClientReferred,
            **where,
            referral_id=referral_id,
            case_id=case_id,
            client_ref=client_ref,
            referred_on=on,
        )
    ]
    if resolution is not None:
        events.append(
            from_examples(
                client_case.ReferralResolved,
                **where,
                referral_id=referral_id,
                case_id=case_id,
                client_ref=client_ref,
                resolution=resolution,
                resolved_on=on + timedelta(days=5),
            )
        )
    return events


def _scenario() -> list[Any]:
    units = {v: f"unit-{uuid.uuid4().hex[:16]}" for v in (A, B, C, D)}
    events: list[Any] = [unit_formed(u, v, date(YEAR - 1, 3, 1)) for v, u in units.items()]
    may, march = date(YEAR, 5, 1), date(YEAR, 3, 1)
    # Admissions in May: 74.71.01 six, 74.71.02 two (withheld; 74.71.01 is its complement),
    # 74.02.01 five; each ten days after its screening. In March only 74.71.01 admits (three):
    # the whole province's activity sits in one regency.
    for village, n in ((A, 6), (C, 2), (D, 5)):
        for _ in range(n):
            events += _admitted(units[village], village, may, may + timedelta(days=10))
    for _ in range(3):
        events += _admitted(units[A], A, march, march + timedelta(days=7))
    # Referrals in May, each attended: A seven (the complement of B's two); D twelve, half
    # attended.
    for _ in range(7):
        events += _referred(units[A], A, may, "attended")
    for _ in range(2):
        events += _referred(units[B], B, may, "attended")
    for n in range(12):
        events += _referred(units[D], D, may, "attended" if n % 2 else "no_show")
    return events


def _learn(known: dict[Key, int], key: Key, value: int) -> None:
    assert known.setdefault(key, value) == value, f"{key}: two tables disagree"


async def test_no_table_gives_back_what_another_withholds(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    await publish(kafka_bootstrap, topics, _scenario())

    async def projected() -> bool:
        """Every unit (another topic, so in any order), admission and referral resolved."""
        units = await _get(client, "/indicators/units_formed", period=str(YEAR - 1), within="74")
        rate = await _get(
            client, "/indicators/referral_completion_rate", period=str(YEAR), within="74"
        )
        admissions = await _get(client, "/indicators/admissions", period=str(YEAR), within="74")
        figures = (units["within"]["value"], admissions["within"]["value"])
        return (*figures, rate["within"].get("attended")) == (4, 16, 15)

    await eventually(projected, 60)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 60)  # the suppressed tables caught up too

    # The finding: the median showed "clients" on every district it showed, beside an
    # admissions table that withholds 74.71.02's two and their complements; published figures
    # minus those counts gave the two back. Now a median shows where the table does, with
    # the table's figure.
    shown = []
    for period in (str(YEAR), f"{YEAR}-05"):
        params = {"period": period, "level": "district", "within": "74"}
        counts = await _get(client, "/indicators/admissions", **params)
        medians = await _get(client, "/indicators/median_days_to_intake", **params)
        pairs = list(zip(counts["rows"], medians["rows"], strict=True))
        assert [r["withheld"] for r, _ in pairs] == [m["withheld"] for _, m in pairs]
        assert {r["region"] for r, _ in pairs if r["withheld"]} >= {"74.71.02"}
        shown += [(r, m) for r, m in pairs if not m["withheld"]]
    assert shown, "a median shows where the admissions table does"
    for r, m in shown:
        assert (m["admissions"], m["clients"], m["value"]) == (r["value"], None, 10.0)
    # The other finding: in March all of province 74's admissions sit in 74.71; a row saying
    # 74.02 had none would say 74.71's withheld median and count are the province's.
    march = await _get(
        client,
        "/indicators/median_days_to_intake",
        period=f"{YEAR}-03",
        level="regency",
        within="74",
    )
    assert [(r["region"], r["withheld"]) for r in march["rows"]] == [
        ("74.02", True),
        ("74.71", True),
    ]
    province = await _get(
        client, "/indicators/median_days_to_intake", period=f"{YEAR}-03", within="74"
    )
    (row,) = province["rows"]
    assert (row["value"], row["clients"], row["admissions"]) == (7.0, 3, 3)  # published by policy
    # The rate of D shows, carrying the referrals table's figures.
    villages = await _get(
        client,
        "/indicators/referral_completion_rate",
        period=f"{YEAR}-05",
        level="village",
        within="74",
    )
    rates = {r["region"]: r for r in villages["rows"]}
    assert (rates[D]["value"], rates[D]["referred"], rates[D]["attended"]) == (0.5, 12, 6)
    assert rates[A]["withheld"] and rates[A]["referred"] is None  # A's seven are B's complement

    # Everything a province operator can read about the province's year, as one attacker.
    known: dict[Key, int] = {}
    withheld_by_tables: set[Key] = set()
    for name, by in (
        ("admissions", None),
        ("admissions", "admission_route"),
        ("referrals", None),
        ("referrals", "destination_type"),
    ):
        for period in PERIODS:
            for level in ("province", "regency", "district", "village"):
                params = {"period": period, "level": level, "within": "74"}
                if by is not None:
                    params["by"] = by
                table = await _get(client, f"/indicators/{name}", **params)
                for r in table["rows"]:
                    key = (name, Cell(r["region"], period, r["part"]))
                    if r["withheld"]:
                        withheld_by_tables.add(key)
                    else:
                        _learn(known, key, r["value"])
    for indicator, carried in (
        ("median_days_to_intake", ADMITTED),
        ("referral_completion_rate", REFERRED),
    ):
        for period in PERIODS:
            for level in ("regency", "district", "village"):
                table = await _get(
                    client, f"/indicators/{indicator}", period=period, level=level, within="74"
                )
                for r in table["rows"]:
                    if r["withheld"]:
                        continue
                    figures = {f: r.get(f) for f in carried}
                    if r["value"] is None and not any(figures.values()):
                        figures = dict.fromkeys(carried, 0)  # "no clients here"
                    for field, (count, part) in carried.items():
                        if figures[field] is None:
                            continue
                        key = (count, Cell(r["region"], period, part))
                        assert key not in withheld_by_tables, (indicator, key)
                        _learn(known, key, figures[field])

    assert runtime.engine is not None
    async with runtime.engine.connect() as connection:
        generation, _ = await serving_generation(connection)
        cubes = {
            name: await build_cube(
                connection, count_key(COUNTS[name], generation, YEAR, "74", None, K, 1)
            )
            for name in ("admissions", "referrals")
        }
    relations = [
        Relation[Key]((name, r.total), tuple((name, p) for p in r.parts))
        for name, c in cubes.items()
        for r in c.relations
        if r.total.region  # a one-province cube's "Indonesia" is only the province again
    ]
    assert any(cell.part == NOT_ATTENDED for cell in cubes["referrals"].figures)
    found = pinned(relations, known, lambda key: cubes[key[0]].figure(key[1]).value, K)
    assert found == []
    assert all(cube.below_province(cell) for _, cell in withheld_by_tables)


async def test_unknown_regions_and_future_periods_are_problems_not_zeros(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    _runtime, client = reporting
    unit = f"unit-{uuid.uuid4().hex[:16]}"
    await publish(kafka_bootstrap, topics, [unit_formed(unit, A, date(YEAR - 1, 3, 1))])

    async def formed() -> bool:
        table = await _get(client, "/indicators/units_formed", period=str(YEAR - 1), within="74")
        return bool(table["within"]["value"] == 1)

    await eventually(formed, 60)

    async def problems(path: str, **params: Any) -> set[tuple[str, str]]:
        response = await client.get(path, headers=OPERATOR, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        return {(e["field"], e["rule"]) for e in response.json()["errors"]}

    # A regency with a unit answers; one without (or a code that does not exist) is unknown.
    known = await _get(
        client, "/indicators/admissions", period=str(YEAR), level="district", within="74.71"
    )
    assert [r["region"] for r in known["rows"]] == ["74.71.01"]
    for within in ("74.99", "74.71.09", "74.71.01.1009"):
        assert await problems(
            "/indicators/admissions", period=str(YEAR), level="village", within=within
        ) == {("within", "known-region")}
    assert await problems(
        "/indicators/median_days_to_intake", period=str(YEAR), level="village", within="74.99"
    ) == {("within", "known-region")}
    assert await problems("/indicators/admissions/series", year=YEAR, region="74.99") == {
        ("region", "known-region")
    }
    # A period that has not begun anywhere in Indonesia.
    next_year = datetime.now(UTC).year + 1
    assert await problems("/indicators/admissions", period=f"{next_year}-01", within="74") == {
        ("period", "not-future")
    }
    assert await problems(
        "/indicators/referral_completion_rate", period=str(next_year), within="74"
    ) == {("period", "not-future")}
    assert await problems("/indicators/admissions/series", year=next_year, region="74") == {
        ("year", "not-future")
    }
