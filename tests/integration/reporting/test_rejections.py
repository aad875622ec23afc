"""Rejected submissions per province, from the province's message to the data health: on the
real broker, the real registry and client-case answer a province's broken message with
`EventRejected` on its receipts topic, and the real reporting service (SQLite and PostgreSQL)
counts it in the province's month — once, however often the receipt or the message comes
again — and counts none for a province that had nothing refused."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka.structs import RecordMetadata
from sqlalchemy import select

from services.reporting import db
from services.reporting.app import CANONICAL
from services.reporting.rebuild import rebuild
from services.reporting.settings import Settings
from shared.contracts import client_case_inbound as provincial
from shared.contracts.envelope import from_kafka
from shared.contracts.platform import EventRejected
from shared.messaging.broker import Topics, make_producer
from shared.runtime import Runtime
from tests.auth import bearer
from tests.bus import read_topic
from tests.conftest import fresh_postgres_database
from tests.eventually import eventually
from tests.integration.conftest import (
    HIGH_RISK,
    OPERATOR_74,
    Platform,
    form_unit,
    province_sends,
    refusals,
)
from tests.integration.reporting.conftest import serving
from tests.reporting_events import publish, unit_formed

NATIONAL = bearer("national-operator")
JAKARTA = "31.71.01.1001"


@pytest.fixture
async def reporting(
    platform: Platform,
    database_url: str,
    kafka_bootstrap: str,
    topics: Topics,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """Reporting on a database of its own, of the kind the platform runs on."""
    async with _own_database(database_url, tmp_path, request) as url:
        settings = Settings(
            database_url=url,
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=topics.prefix,
            inbound_provinces="74,31",
        )
        async for running in serving(settings):
            yield running


@contextlib.asynccontextmanager
async def _own_database(
    platform_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    if not platform_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_server_url")) as url:
        yield url


def _screening(
    unit: dict[str, Any], submission: str, **change: Any
) -> provincial.ScreeningSubmitted:
    return provincial.ScreeningSubmitted.model_validate(
        {
            "unit_id": unit["unit_id"],
            "province_code": "74",
            "village_code": unit["village_code"],
            "submission_id": submission,
            "programme": "pbm",
            "screened_at": datetime.now(UTC),
            "screener_agent_id": "agent-00000000042",
            "province_client_key": f"sultra-person-{submission}",
            "substances": HIGH_RISK,
            "injection": "never",
        }
    ).model_copy(update=change)


async def test_a_refused_message_counts_once_for_its_province_this_month(
    platform: Platform, reporting: tuple[Runtime, httpx.AsyncClient]
) -> None:
    p = platform
    runtime, client = reporting
    unit_id = await form_unit(p)
    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()
    # Jakarta reports (a unit formed, as the registry publishes it) and has nothing refused.
    await publish(
        p.bootstrap, p.topics, [unit_formed(f"unit-{uuid.uuid4().hex[:16]}", JAKARTA, date.today())]
    )

    broken, valid = f"sultra-{uuid.uuid4().hex}", f"sultra-{uuid.uuid4().hex}"
    # Screened tomorrow in Kendari: the contract takes it, client-case refuses it.
    in_the_future = _screening(
        unit, "sultra-screening-0009002", screened_at=datetime(2999, 1, 1, tzinfo=UTC)
    )
    receipts = await province_sends(
        p, [(broken, in_the_future), (valid, _screening(unit, "sultra-screening-0009001"))]
    )
    assert list(refusals(receipts)) == [broken]

    month = datetime.now(ZoneInfo("Asia/Makassar")).strftime("%Y-%m")  # Kendari: WITA

    async def health() -> dict[str, dict[str, Any]]:
        answer = await client.get("/data-health", params={"month": month}, headers=NATIONAL)
        assert answer.status_code == 200, answer.text
        return {r["region"]: r for r in answer.json()["rows"]}

    async def counted() -> dict[str, dict[str, Any]] | None:
        rows = await health()
        sultra = rows.get("74", {})
        done = sultra.get("rejected") == 1 and sultra.get("received", 0) >= 2 and "31" in rows
        return rows if done else None

    rows = await eventually(counted, 60, every=0.2)
    assert rows["31"]["rejected"] == 0
    # The valid message arrived as a canonical screening (with the unit formed); the refused
    # one is no fact.
    assert rows["74"]["received"] == 2

    # The province sends the broken message again (another receipt, the same message), and the
    # first receipt is delivered again (the same event): still one rejected submission.
    await province_sends(p, [(broken, in_the_future)])
    topic = p.topics.name("ibm.receipts.74")
    twice = _receipts_of(
        await read_topic(
            p.bootstrap, topic, until=lambda found: len(_receipts_of(found, broken)) == 2
        ),
        broken,
    )
    first = twice[0]
    producer = make_producer(p.bootstrap, client_id="test-relay-again")
    await producer.start()
    try:
        again: RecordMetadata = await producer.send_and_wait(
            topic, value=first.value, key=first.key, headers=list(first.headers)
        )
    finally:
        await producer.stop()
    await _projected(
        runtime, topic, [(twice[1].partition, twice[1].offset), (again.partition, again.offset)]
    )
    rows = await health()
    assert (rows["74"]["rejected"], rows["31"]["rejected"]) == (1, 0)

    # A province operator reads their own; a regency's count is unknown, not zero.
    own = await client.get(
        "/data-health", params={"within": "74", "month": month}, headers=OPERATOR_74
    )
    assert [(r["region"], r["rejected"]) for r in own.json()["rows"]] == [("74", 1)]
    regency = await client.get(
        "/data-health", params={"within": "74.71", "month": month}, headers=OPERATOR_74
    )
    assert [r["rejected"] for r in regency.json()["rows"]] == [None]
    # Another month had nothing refused.
    earlier = await client.get("/data-health", params={"month": "2025-01"}, headers=NATIONAL)
    assert all(r["rejected"] == 0 for r in earlier.json()["rows"])

    # A rebuild replays the receipts with the canonical topics (and starts from the rejections
    # the receipts topics may no longer hold): the same count in the new generation.
    assert runtime.engine is not None
    done = await rebuild(
        runtime.engine,
        p.bootstrap,
        [p.topics.name(t) for t in CANONICAL] + [topic],
        dead_letter_topic=p.topics.dead_letter("reporting-rebuild-test"),
    )
    assert done.generation == 2
    rows = await health()
    assert (rows["74"]["rejected"], rows["31"]["rejected"]) == (1, 0)


def _receipts_of(records: list[Any], original: str) -> list[Any]:
    found = []
    for record in records:
        answer = from_kafka(record.headers, record.key, record.value).data
        if isinstance(answer, EventRejected) and answer.original_event_id == original:
            found.append(record)
    return found


async def _projected(runtime: Runtime, topic: str, records: list[tuple[int, int]]) -> None:
    """Wait until reporting's positions are past each (partition, offset) of `topic`."""
    assert runtime.engine is not None
    positions = db.positions.c
    engine = runtime.engine

    async def past_them() -> bool:
        async with engine.connect() as connection:
            found = await connection.execute(
                select(positions.partition, positions.next_offset).where(positions.topic == topic)
            )
            reached = {int(partition): int(offset) for partition, offset in found}
        return all(reached.get(partition, 0) > offset for partition, offset in records)

    await eventually(past_them, 60)
