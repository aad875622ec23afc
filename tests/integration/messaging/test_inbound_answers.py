"""Every message on a province's inbound topic gets exactly one answer, of the right class:
accepted, a duplicate of an accepted id, refused at once for a broken contract or a constraint
the use case did not anticipate, `internal-error` (and a dead letter) for our own bug; an
infrastructure failure answers nothing and commits nothing, so the batch is retried.

The answering path on both databases, with the records as a broker hands them over."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts import registry as events
from shared.contracts.envelope import from_kafka_lean, to_kafka, wrap
from shared.contracts.platform import EventAccepted, EventRejected
from shared.contracts.types import UnitFormation
from shared.messaging.broker import Topics
from shared.messaging.inbound.answerer import InboundAnswerer
from shared.messaging.inbound.answers import Accepted, Answer, Submission
from shared.messaging.outbox import Outbox
from shared.messaging.tables import platform_tables
from shared.persistence import create_engine, session_factory

TOPIC = "t.ibm.inbound.74"
metadata = MetaData()
tables = platform_tables(metadata, answers_provinces=True)
things = Table("things", metadata, Column("unit_id", String(64), primary_key=True))


def unit_formed(unit_id: str, name: str = "Harapan Baru") -> events.UnitFormed:
    return events.UnitFormed(
        unit_id=unit_id,
        province_code="74",
        village_code="74.71.01.1001",
        unit_name=name,
        formed_on=date(2025, 6, 2),
        decree_number="07/SK/2025",
        decree_date=date(2025, 6, 1),
        formation=UnitFormation.MANDIRI,
        facilitating_office="BNNK-74.71",
    )


class Province:
    """Hands out records at increasing offsets of one partition of the inbound topic."""

    def __init__(self) -> None:
        self.offset = 0

    def record(
        self, key: bytes | None, headers: list[tuple[str, bytes]], value: bytes | None
    ) -> ConsumerRecord[bytes, bytes]:
        self.offset += 1
        return ConsumerRecord(
            topic=TOPIC,
            partition=0,
            offset=self.offset,
            timestamp=0,
            timestamp_type=0,
            key=key,
            value=value,
            checksum=None,
            serialized_key_size=len(key or b""),
            serialized_value_size=len(value or b""),
            headers=headers,
        )

    def fact(self, data: Any, event_id: str) -> ConsumerRecord[bytes, bytes]:
        return self.record(*to_kafka(wrap(data, source="/provinces/74", event_id=event_id)))


async def set_based(db: AsyncSession, outbox: Outbox, subs: Sequence[Submission]) -> list[Answer]:
    """A use case in the shape the services have: one insert for the batch, one outbox write.
    A unit named "boom" is our bug; a second fact for a unit id breaks the primary key."""
    if any(getattr(s.data, "unit_name", "") == "boom" for s in subs):
        raise KeyError("a bug")
    if any(getattr(s.data, "unit_name", "") == "db down" for s in subs):
        raise OperationalError("SELECT 1", {}, ConnectionError("gone"))
    await db.execute(insert(things), [{"unit_id": s.data.unit_id} for s in subs])  # type: ignore[attr-defined]
    staged = await outbox.add_all(db, [s.data for s in subs])
    return [Accepted(e.id) for e in staged]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def answerer(engine: AsyncEngine, dead: list[str], service: str = "registry") -> InboundAnswerer:
    async def dead_letter(record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        dead.append(reason)

    return InboundAnswerer(
        service=service,
        apply=set_based,
        sessions=session_factory(engine),
        tables=tables,
        outbox=Outbox(tables.outbox, source="/pulih/registry", topics=Topics("t.")),
        dialect=engine.dialect.name,
        dead_letter=dead_letter,
    )


async def receipts(engine: AsyncEngine) -> list[EventAccepted | EventRejected]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(tables.outbox.c.headers, tables.outbox.c.value)
            .where(tables.outbox.c.topic == "t.ibm.receipts.74")
            .order_by(tables.outbox.c.id)
        )
        answers = []
        for headers, value in rows:
            data = from_kafka_lean([(k, v.encode()) for k, v in headers], None, value).data
            assert isinstance(data, EventAccepted | EventRejected)
            answers.append(data)
        return answers


def rules(answer: EventAccepted | EventRejected) -> list[tuple[str | None, str]]:
    assert isinstance(answer, EventRejected), answer
    return [(r.field, r.rule) for r in answer.reasons]


async def test_each_failure_class_gets_its_answer_at_once(engine: AsyncEngine) -> None:
    dead: list[str] = []
    registry = answerer(engine, dead)
    p = Province()
    batch = [
        p.fact(unit_formed("unit-0000000000000001"), "sultra-1"),
        p.fact(unit_formed("unit-0000000000000002"), "sultra-2"),
        # the same unit again under another id: the primary key refuses it
        p.fact(unit_formed("unit-0000000000000001"), "sultra-3"),
        p.fact(unit_formed("unit-0000000000000004", name="boom"), "sultra-4"),
        p.record(b"k", [], b"not an event at all"),
        p.fact(unit_formed("unit-0000000000000005"), "sultra-1"),  # sultra-1 resent in-batch
    ]
    outcomes = await registry.process(batch)

    answers = await receipts(engine)
    assert [a.original_event_id for a in answers] == [
        "sultra-1",
        "sultra-2",
        "sultra-3",
        "sultra-4",
        f"{TOPIC}:0:5",
        "sultra-1",
    ]
    first, second, clash, bug, garbage, again = answers
    assert isinstance(first, EventAccepted) and not first.duplicate
    assert isinstance(second, EventAccepted)
    assert rules(clash) == [(None, "constraint")]
    assert rules(bug) == [(None, "internal-error")]
    assert ("ce_id", "required") in rules(garbage)
    assert isinstance(again, EventAccepted) and again.duplicate
    assert again.canonical_event_id == first.canonical_event_id
    assert len(dead) == 1 and dead[0].startswith("internal-error: KeyError")
    assert outcomes == {
        "accepted": 2,
        "duplicate": 1,
        "rejected": 2,
        "dead_lettered": 1,
        "redelivered": 0,
    }

    # Resent later under the same id: a duplicate receipt naming the first canonical event.
    await registry.process([p.fact(unit_formed("unit-0000000000000002"), "sultra-2")])
    # The broker hands the first batch over again (a crash before the offset commit):
    # nothing is applied or answered twice.
    assert (await registry.process(batch))["redelivered"] == len(batch)
    answers = await receipts(engine)
    assert len(answers) == 7
    assert isinstance(answers[-1], EventAccepted) and answers[-1].duplicate
    assert answers[-1].canonical_event_id == second.canonical_event_id  # type: ignore[union-attr]
    async with engine.connect() as connection:
        assert (await connection.scalar(select(func.count()).select_from(things))) == 2


async def test_only_the_owner_answers_and_the_registry_answers_the_rest(
    engine: AsyncEngine,
) -> None:
    registry, scheduling = answerer(engine, []), answerer(engine, [], service="scheduling")
    p = Province()
    screened = p.fact(unit_formed("unit-0000000000000009"), "sultra-9")
    # A canonical type of another context, and a receipt, sent on the inbound topic.
    key, headers, value = to_kafka(wrap(unit_formed("u" * 20), source="/x", event_id="sultra-10"))
    headers = [
        (k, b"id.go.bnn.ibm.client-case.ClientScreened.v1" if k == "ce_type" else v)
        for k, v in headers
    ]
    canonical = p.record(key, headers, value)
    batch = [screened, canonical]

    assert sum((await scheduling.process(batch)).values()) == 0  # not its types: untouched
    await registry.process(batch)
    first, other = await receipts(engine)
    assert isinstance(first, EventAccepted)
    assert rules(other) == [("ce_type", "accepted-inbound-type")]
    assert "ClientScreened" not in other.reasons[0].message.split(";")[1]


async def test_an_infrastructure_failure_answers_nothing_and_is_retried(
    engine: AsyncEngine,
) -> None:
    registry = answerer(engine, [])
    p = Province()
    batch = [
        p.fact(unit_formed("unit-0000000000000011"), "sultra-11"),
        p.fact(unit_formed("unit-0000000000000012", name="db down"), "sultra-12"),
    ]
    with pytest.raises(OperationalError):
        await registry.process(batch)
    assert await receipts(engine) == []
    async with engine.connect() as connection:  # not even the claim of the records stayed
        assert (await connection.scalar(select(func.count()).select_from(tables.inbox))) == 0


def test_the_answer_names_no_submitted_value() -> None:
    """The constraint reason names the constraint, never the values PostgreSQL repeats."""
    from sqlalchemy.exc import IntegrityError

    from shared.messaging.failures import constraint_reason

    class PgError(Exception):
        constraint_name = "things_pkey"

        def __str__(self) -> str:
            return (
                'duplicate key value violates unique constraint "things_pkey" DETAIL: '
                "Key (unit_id)=(3171234567890001) already exists."
            )

    reason = constraint_reason(IntegrityError("INSERT", {}, PgError()))
    assert (reason.field, reason.rule) == (None, "constraint")
    assert "things_pkey" in reason.message
    assert "3171234567890001" not in json.dumps(reason.__dict__)


def test_any_reason_makes_a_valid_receipt() -> None:
    """A reason the receipt's contract would refuse (a path with spaces from a province's own
    dict key, an odd rule, no message) must still make a receipt, or the batch could not be
    answered and its partition would stall."""
    from shared.contracts.envelope import Reason
    from shared.contracts.platform import RejectionReason
    from shared.messaging.inbound.answerer import _receipt_reason

    odd = Reason("substances.my drug.[key]", "enum value/odd", "")
    made = RejectionReason.model_validate(_receipt_reason(odd))
    assert (made.field, made.rule) == ("substances.my_drug.[key]", "enum-value-odd")
    assert made.message
