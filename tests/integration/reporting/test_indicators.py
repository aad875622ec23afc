"""The reporting service on the real broker, on both databases: canonical events become
indicators by event time, small client-derived cells below province level are withheld with
their complements, every figure carries its lineage, an invalid record goes to the dead-letter
topic without stopping the rest, and a rebuild reproduces the live figures and switches over.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from services.reporting.answers import answers_of
from services.reporting.api import indicators as reporting_api
from services.reporting.app import CANONICAL
from services.reporting.queries import table
from services.reporting.rebuild import rebuild
from services.reporting.suppressor import settled
from services.reporting.warming import first_asked
from shared.contracts import client_case
from shared.messaging.broker import Topics, make_producer
from shared.runtime import Runtime
from tests.auth import bearer
from tests.bus import read_topic
from tests.eventually import eventually
from tests.integration.reporting.conftest import reporting_settings, serving
from tests.reporting_events import activity, enrolled, publish, screened, unit_formed
from tests.unit.contracts.examples import from_examples

NATIONAL = bearer("reporting-consumer")

# Province 74 (Sulawesi Tenggara): regency 74.71 with two districts, regency 74.02 with one.
A, B, C, D = ("74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001")
E = "31.71.01.1001"  # DKI Jakarta
UA, UB, UC, UD, UE = (f"unit-{x}-000000000001" for x in "abcde")


def _scenario() -> list[Any]:
    events: list[Any] = [
        unit_formed(UA, A, date(2025, 3, 1)),
        unit_formed(UB, B, date(2025, 4, 1)),
        unit_formed(UC, C, date(2025, 5, 1), "mandiri"),
        unit_formed(UD, D, date(2026, 2, 1), "mandiri"),
        unit_formed(UE, E, date(2026, 5, 1)),
        activity(UA, A, date(2026, 3, 10)),
        activity(UD, D, date(2026, 6, 10)),
    ]
    events += [screened(UA, A, date(2026, 3, 2 + n), "high") for n in range(3)]
    events += [screened(UA, A, date(2026, 4, 2 + n), "moderate") for n in range(4)]
    events += [screened(UB, B, date(2026, 3, 20), "low")]
    events += [screened(UB, B, date(2026, 4, 20), "high")]
    events += [screened(UC, C, date(2026, 5, 5 + n), "moderate") for n in range(6)]
    events += [screened(UD, D, date(2026, 6, 2), "moderate")]
    events += [screened(UE, E, date(2026, 6, 3 + n), "low") for n in range(3)]
    first = events[7]  # enrolled 10 days after its screening, in services from April
    events.append(enrolled(UA, A, first.case_id, date(2026, 3, 12), level="high"))
    events.append(
        from_examples(
            client_case.CaseStageChanged,
            unit_id=UA,
            province_code="74",
            village_code=A,
            case_id=first.case_id,
            from_stage="intake",
            to_stage="services",
            changed_on=date(2026, 4, 1),
        )
    )
    return events


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=NATIONAL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _values(table: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(r["region"], r["part"]): r["value"] for r in table["rows"]}


async def test_events_become_suppressed_explainable_rebuildable_indicators(
    reporting: tuple[Runtime, httpx.AsyncClient], kafka_bootstrap: str, topics: Topics
) -> None:
    runtime, client = reporting
    events = _scenario()
    times = [
        datetime(2026, 7, 1, tzinfo=UTC).replace(minute=n % 60, hour=n // 60)
        for n in range(len(events))
    ]
    await publish(
        kafka_bootstrap, topics, [(e, {"time": t}) for e, t in zip(events, times, strict=True)]
    )

    # A record that is not a valid event goes to the dead-letter topic; the rest flows on.
    producer = make_producer(kafka_bootstrap, client_id="broken-service")
    await producer.start()
    await producer.send_and_wait(
        topics.name("ibm.client-case"),
        value=b"{not json",
        key=b"case-x",
        headers=[
            ("ce_id", b"broken-1"),
            ("ce_source", b"/pulih/test"),
            ("ce_type", b"id.go.bnn.ibm.client-case.ClientScreened.v1"),
            ("ce_specversion", b"1.0"),
        ],
    )
    await producer.stop()
    late = screened(UA, A, date(2026, 1, 15), "moderate")  # delivered last
    await publish(kafka_bootstrap, topics, [(late, {"time": datetime(2026, 7, 2, tzinfo=UTC)})])

    async def all_projected() -> bool:
        table = await _get(client, "/indicators/clients_screened", period="2026")
        return table["within"]["value"] == 20

    await eventually(all_projected, 40)
    assert runtime.engine is not None
    await eventually(lambda: settled(runtime.engine), 40)  # the suppressed tables caught up too

    provinces = await _get(client, "/indicators/clients_screened", period="2026")
    assert _values(provinces) == {("31", "*"): 3, ("74", "*"): 17}  # province level: never withheld
    assert provinces["within"]["events"] == 20
    # The latest screening happened on 5 June at 10:00 WITA; the latest event arrived on 2 July.
    within = provinces["within"]
    assert datetime.fromisoformat(within["latest_event_at"]) == datetime(2026, 6, 5, 2, tzinfo=UTC)
    assert within["latest_received_at"].startswith("2026-07-02T00:00:00")
    row = {r["region"]: r for r in provinces["rows"]}["74"]
    assert row["latest_event_at"] == "2026-06-02T10:00:00+08:00"  # in the province's zone

    # The late screening restates January, the month it happened in.
    series = await _get(client, "/indicators/clients_screened/series", year=2026, region="74")
    by_month = {r["period"]: r["value"] for r in series["rows"]}
    assert (by_month["2026-01"], by_month["2026-03"], by_month["2026-04"]) == (1, 4, 5)

    # Below province level: 74.02 has one screening and is withheld; 74.71 would give it away
    # (17 - 74.71), so it is withheld too.
    regencies = await _get(
        client, "/indicators/clients_screened", period="2026", level="regency", within="74"
    )
    assert _values(regencies) == {("74.02", "*"): None, ("74.71", "*"): None}
    assert all(r["withheld"] and r["events"] is None for r in regencies["rows"])
    villages = await _get(
        client, "/indicators/clients_screened", period="2026", level="village", within="74.71"
    )
    shown = {k[0]: v for k, v in _values(villages).items()}
    assert shown[B] is None  # two screenings
    assert sum(v is None for v in shown.values()) >= 2  # and never alone
    by_risk = await _get(
        client,
        "/indicators/clients_screened",
        period="2026",
        level="province",
        within="74",
        by="risk_level",
    )
    assert _values(by_risk) == {("74", "high"): 4, ("74", "low"): 1, ("74", "moderate"): 12}

    # Units: formed, operational and sustained.
    formed = await _get(
        client, "/indicators/units_formed", period="2025", level="national", by="formation"
    )
    assert _values(formed) == {("", "bnn_target"): 2, ("", "mandiri"): 1}
    operational = await _get(
        client, "/indicators/operational_units", period="2026-03", level="national"
    )
    (row,) = operational["rows"]
    assert (row["value"], row["formed"], row["share"]) == (2, 4, 0.5)  # A and B of A-D
    sustained = await _get(client, "/indicators/sustained_units", period="2026", level="national")
    (row,) = sustained["rows"]
    assert (row["value"], row["formed_before"], row["share"]) == (3, 3, 1.0)
    # Stocks: clients in a stage at the end of the period (a year ends in December).
    for period, expected in (("2026-03", 0), ("2026-04", 1), ("2026", 1)):
        stock = await _get(client, "/indicators/in_services", period=period, level="province")
        assert _values(stock)[("74", "*")] == expected, period
    stock = await _get(
        client, "/indicators/in_services", period="2026", level="regency", within="74"
    )
    assert all(r["withheld"] for r in stock["rows"])  # one client: withheld below province
    median = await _get(
        client, "/indicators/median_days_to_intake", period="2026-03", level="province"
    )
    assert [(r["region"], r["value"]) for r in median["rows"]] == [("31", None), ("74", 10.0)]

    dead = await read_topic(
        kafka_bootstrap, topics.dead_letter("reporting"), until=lambda r: len(r) >= 1
    )
    reason = dict(dead[0].headers)["dlq_reason"].decode()
    assert dead[0].value == b"{not json" and "json" in reason.lower()

    # CSV carries the same figures.
    csv = await client.get(
        "/indicators/clients_screened", headers=NATIONAL, params={"period": "2026", "format": "csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("region,level,part,value,withheld,events")

    # A rebuild replays everything into a new generation and switches; figures are the same.
    before = [
        await _get(
            client, "/indicators/clients_screened", period="2026", level=level, within=within
        )
        for level, within in (("province", ""), ("regency", "74"), ("village", "74.71"))
    ]
    assert runtime.engine is not None
    done = await rebuild(
        runtime.engine,
        kafka_bootstrap,
        [topics.name(t) for t in CANONICAL],
        dead_letter_topic=topics.dead_letter("reporting-rebuild-test"),
        workers=2,  # two processes on PostgreSQL; SQLite takes one writer
    )
    assert (done.previous, done.generation, done.events) == (1, 2, 29)
    after = [
        await _get(
            client, "/indicators/clients_screened", period="2026", level=level, within=within
        )
        for level, within in (("province", ""), ("regency", "74"), ("village", "74.71"))
    ]
    # The same figures, withheld alike; suppressed again for the new generation, later.
    assert _without_as_of(after) == _without_as_of(before)
    assert all(t.get("suppressed_as_of") for t in after[1:])

    # The live projector goes on in the new generation.
    await publish(kafka_bootstrap, topics, [screened(UE, E, date(2026, 8, 1), "low")])

    async def one_more() -> bool:
        table = await _get(client, "/indicators/clients_screened", period="2026")
        return table["within"]["value"] == 21

    await eventually(one_more, 40)


async def test_operators_see_only_their_regions(
    reporting: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _runtime, client = reporting
    province = bearer("province-operator:74")
    mine = await client.get(
        "/indicators/units_formed",
        headers=province,
        params={"period": "2026", "within": "74", "level": "regency"},
    )
    assert mine.status_code == 200, mine.text
    national = await client.get(
        "/indicators/units_formed", headers=province, params={"period": "2026"}
    )
    assert national.status_code == 403
    other = await client.get(
        "/indicators/units_formed", headers=province, params={"period": "2026", "within": "31"}
    )
    assert other.status_code == 403
    agent = await client.get(
        "/indicators/units_formed",
        headers=bearer("unit-agent:unit-0000000000000001"),
        params={"period": "2026"},
    )
    assert agent.status_code == 403
    bad = await client.get(
        "/indicators/clients_screened",
        headers=NATIONAL,
        params={"period": "2026-13", "level": "regency"},
    )
    assert bad.status_code == 422
    rules = {(e["field"], e["rule"]) for e in bad.json()["errors"]}
    assert ("period", "period-form") in rules


def _without_as_of(value: Any) -> Any:
    """A table without the times its suppression was made at."""
    if isinstance(value, dict):
        return {k: _without_as_of(v) for k, v in value.items() if k != "suppressed_as_of"}
    if isinstance(value, list):
        return [_without_as_of(v) for v in value]
    return value


async def test_an_answer_is_served_again_until_the_read_model_moves(
    reporting: tuple[Runtime, httpx.AsyncClient],
    kafka_bootstrap: str,
    topics: Topics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same question is answered from the kept answer while nothing new was projected or
    suppressed, and anew (never stale) as soon as events land."""
    runtime, client = reporting
    assert runtime.engine is not None
    engine = runtime.engine
    computed: list[str] = []

    async def counted(connection: Any, ask: Any) -> Any:
        computed.append(ask.indicator)
        return await table(connection, ask)

    monkeypatch.setattr(reporting_api, "table", counted)
    await publish(
        kafka_bootstrap,
        topics,
        [unit_formed(UA, A, date(2025, 3, 1)), screened(UA, A, date(2026, 3, 2), "high")],
    )

    async def screened_in_2026(n: int) -> bool:
        answer = await _get(client, "/indicators/clients_screened", period="2026")
        return bool(answer["within"]["value"] == n)

    await eventually(lambda: screened_in_2026(1), 40)
    await eventually(lambda: settled(engine), 40)
    params = {"period": "2026"}
    first = await client.get("/indicators/clients_screened", headers=NATIONAL, params=params)
    before = len(computed)
    again = await client.get("/indicators/clients_screened", headers=NATIONAL, params=params)
    assert len(computed) == before  # served from what was kept, not computed again
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert answers_of(engine).kept

    await publish(kafka_bootstrap, topics, [screened(UA, A, date(2026, 3, 3), "low")])
    await eventually(lambda: screened_in_2026(2), 40)  # the kept answer of 1 is not served again
    assert len(computed) > before
    # A province operator of another province is refused, kept answer or not.
    refused = await client.get(
        "/indicators/clients_screened",
        headers=bearer("province-operator:31"),
        params={"period": "2026", "within": "74"},
    )
    assert refused.status_code == 403


async def test_a_restarted_replica_is_ready_with_the_first_tables_already_answered(
    database_url: str,
    kafka_bootstrap: str,
    topics: Topics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica started on a read model with figures says ready only once this year's
    overview tables (Indonesia by province, each province by regency) are made: the first
    readers are answered from them, with the figures of the read model."""
    settings = reporting_settings(database_url, kafka_bootstrap, topics, min_units=1)
    today = datetime.now(UTC).date()  # the warm-up's year
    await publish(
        kafka_bootstrap,
        topics,
        [
            unit_formed(UA, A, today.replace(month=1, day=1)),
            unit_formed(UC, C, today.replace(month=1, day=1)),
            screened(UA, A, today.replace(month=1, day=1), "high"),
            screened(UC, C, today.replace(month=1, day=1), "low"),
        ],
    )
    async for _runtime, projecting in serving(settings):  # projects, then stops
        await eventually(functools.partial(_screened, projecting, str(today.year), 2), 40)
    computed: list[str] = []

    async def counted(connection: Any, ask: Any) -> Any:
        computed.append(ask.indicator)
        return await table(connection, ask)

    monkeypatch.setattr(reporting_api, "table", counted)
    async for runtime, client in serving(settings):  # ready: warmed up
        assert runtime.warming is not None and runtime.warming.done()
        warmed = len(computed)
        assert warmed >= len(first_asked())  # each made, and again once its cube was
        national = await _get(client, "/indicators/units_formed", period=str(today.year))
        by_regency = await _get(
            client,
            "/indicators/clients_screened",
            period=str(today.year),
            level="regency",
            within="74",
        )
        assert len(computed) == warmed  # both answered from what warming up made
        assert national["within"]["value"] == 2
        assert {r["region"]: r["value"] for r in national["rows"]}["74"] == 2
        assert by_regency["within"]["value"] == 2
        # ... and from the province's suppressed cube, not pending as a cold replica's first
        # answer is (every figure below province level withheld until the cube is made).
        assert by_regency["suppression"]["pending"] is False
        assert "suppressed_as_of" in by_regency


async def _screened(client: httpx.AsyncClient, period: str, n: int) -> bool:
    answer = await _get(client, "/indicators/clients_screened", period=period)
    return bool(answer["within"]["value"] == n)
