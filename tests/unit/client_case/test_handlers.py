"""Client-case's use cases called through its two handler tables on a migrated SQLite database
with the real outbox: an agent's commands one at a time (`handlers.execute`) and a province's
facts set-based (`handlers.provincial.handle`). What each writes, what it stages (keyed by
case, the pseudonym only: never a NIK, name or phone), and the rule a refusal names."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.client_case import commands as c
from services.client_case import handlers
from services.client_case.db import (
    MIGRATIONS,
    cases,
    clients,
    known_agents,
    known_units,
    people,
    platform,
    screenings,
    submissions,
)
from services.client_case.domain.identity import Identity
from services.client_case.domain.pathway import RoutingPolicy
from services.client_case.handlers import Keys, provincial
from shared.contracts import client_case as events
from shared.contracts import client_case_inbound as inbound
from shared.contracts.types import (
    AdmissionRoute,
    CaseStage,
    ClosureOutcome,
    Programme,
    ReferralDestinationType,
)
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.persistence import session_factory
from shared.rules import RuleViolations
from shared.security.encryption import KeyRing, generate_service_keypair, seal_identity
from tests.factories import HIGH_RISK, VILLAGE, assist_answers, screening_submitted
from tests.privacy import NAME, NIK, NIK_SPACED, PHONE
from tests.unit.conftest import Migrated
from tests.unit.outbox import staged

UNIT, SUSPENDED, SULSEL = (f"unit-{x}-000000000001" for x in ("sultra", "paused", "sulsel"))
AGENT, OTHER_UNITS_AGENT = "agent-00000000042", "agent-00000000077"
SCREENED_AT = datetime(2025, 5, 20, 2, 15, tzinfo=UTC)
TODAY = date(2025, 6, 30)
KEYS = Keys(KeyRing({"k1": os.urandom(32)}, "k1"), os.urandom(32))
PRIVATE_KEY, PUBLIC_KEY = generate_service_keypair()
OUTBOX = Outbox(platform.outbox, source="/pulih/client-case", topics=Topics())


@pytest.fixture
async def db(migrated: Migrated) -> AsyncEngine:
    """Client-case's database knowing, from the registry's events, an active unit in 74, a
    suspended one, one in 73, and an agent of the first and of the third."""
    engine = migrated("client-case", MIGRATIONS)
    async with engine.begin() as connection:
        await connection.execute(
            insert(known_units),
            [
                {
                    "unit_id": unit,
                    "province_code": village[:2],
                    "village_code": village,
                    "status": to,
                }
                for unit, village, to in (
                    (UNIT, VILLAGE, "active"),
                    (SUSPENDED, "74.71.01.1006", "suspended"),
                    (SULSEL, "73.71.01.1001", "active"),
                )
            ],
        )
        await connection.execute(
            insert(known_agents),
            [
                {"agent_id": AGENT, "unit_id": UNIT},
                {"agent_id": OTHER_UNITS_AGENT, "unit_id": SULSEL},
            ],
        )
    return engine


async def execute(engine: AsyncEngine, command: c.Command, today: date = TODAY) -> Any:
    """One command through `handlers.HANDLERS`, committed as a route commits it."""
    async with session_factory(engine).begin() as tx:
        routing = RoutingPolicy.parse("high=balai_rehabilitasi,injecting=klinik_pratama")
        ctx = handlers.Context(tx, OUTBOX, KEYS, today, lambda _province: routing)
        return await handlers.execute(ctx, command)


def screen(client_id: str, unit_id: str = UNIT, **changes: Any) -> c.ScreenClient:
    fields: dict[str, Any] = {
        "client_id": client_id,
        "unit_id": unit_id,
        "answers": assist_answers(),
        "agent_id": AGENT,
        "programme": Programme.SIL,
        "screened_at": SCREENED_AT,
    }
    return c.ScreenClient(**{**fields, **changes})


async def rows(engine: AsyncEngine, table: Table) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        return [dict(r) for r in (await connection.execute(select(table))).mappings()]


def broken(error: BaseException | None) -> list[tuple[str | None, str]]:
    assert isinstance(error, RuleViolations), error
    return [(v.field, v.rule) for v in error.violations]


async def test_a_registered_client_s_screening_opens_a_case_staged_with_the_pseudonym_only(
    db: AsyncEngine,
) -> None:
    registered = await execute(
        db, c.RegisterClient(UNIT, Identity(nik=NIK_SPACED, name=NAME, phone=PHONE), "25-29")
    )
    case, result, destination = await execute(db, screen(registered.client_id))

    [client] = await rows(db, clients)
    assert (client["client_id"], client["registered_unit_id"]) == (registered.client_id, UNIT)
    for value in (NIK, NAME, PHONE):  # sealed, and the person found by a keyed pseudonym
        assert value.encode() not in client["identity_sealed"]
    [person] = await rows(db, people)
    assert NIK not in person["lookup"] and person["client_ref"] == client["client_ref"]
    [opened] = await rows(db, cases)
    assert (opened["case_id"], opened["stage"], opened["risk_level"]) == (
        case.case_id,
        "screening",
        "high",
    )
    assert [(s["case_id"], s["overall_level"]) for s in await rows(db, screenings)] == [
        (case.case_id, "high")
    ]
    assert (result.overall_level, destination) == (
        "high",
        ReferralDestinationType.BALAI_REHABILITASI,
    )
    [event] = await staged(db, platform.outbox)  # fails on any identity value in the record
    assert (event.kind, event.topic, event.key) == ("ClientScreened", events.TOPIC, case.case_id)
    assert isinstance(event.data, events.ClientScreened)
    assert (event.data.client_ref, event.data.age_band) == (client["client_ref"], "25-29")


async def test_a_nik_registered_again_is_the_unit_s_own_client_and_another_unit_s_new_one(
    db: AsyncEngine,
) -> None:
    first = await execute(db, c.RegisterClient(UNIT, Identity(nik=NIK)))
    again = await execute(db, c.RegisterClient(UNIT, Identity(nik=NIK_SPACED, phone=PHONE)))
    elsewhere = await execute(db, c.RegisterClient(SULSEL, Identity(nik=NIK)))

    assert (again.client_id, again.new) == (first.client_id, False)
    assert elsewhere.new and elsewhere.client_id != first.client_id
    held = {r["client_id"]: r["client_ref"] for r in await rows(db, clients)}
    assert len(held) == 2 and held[first.client_id] == held[elsewhere.client_id]
    assert len(await rows(db, people)) == 1
    assert await staged(db, platform.outbox) == []  # registering publishes nothing


async def test_a_case_s_course_is_written_and_staged_in_order_under_its_case_key(
    db: AsyncEngine,
) -> None:
    client = await execute(db, c.RegisterClient(UNIT, Identity()))
    case, _, _ = await execute(db, screen(client.client_id))
    await execute(db, c.Enrol(case.case_id, AdmissionRoute.VOLUNTARY, date(2025, 5, 27)))
    await execute(db, c.ChangeStage(case.case_id, CaseStage.SERVICES, date(2025, 6, 3)))
    closed = await execute(
        db, c.CloseCase(case.case_id, ClosureOutcome.DROPPED_OUT, date(2025, 6, 24))
    )

    assert (closed.stage, closed.outcome, closed.version) == ("closed", "dropped_out", 4)
    [row] = await rows(db, cases)
    assert (row["stage"], row["admission_route"], row["enrolled_on"], row["closed_on"]) == (
        "closed",
        "voluntary",
        date(2025, 5, 27),
        date(2025, 6, 24),
    )
    out = await staged(db, platform.outbox)
    assert [(s.kind, s.key) for s in out] == [
        ("ClientScreened", case.case_id),
        ("ClientEnrolled", case.case_id),
        ("CaseStageChanged", case.case_id),
        ("CaseClosed", case.case_id),
    ]
    closure = out[-1].data
    assert isinstance(closure, events.CaseClosed)
    assert (closure.last_stage, closure.weeks_in_service) == ("services", 4)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"unit_id": "unit-unknown-0000000001"}, ("unit_id", "unit-exists")),
        ({"unit_id": SUSPENDED}, ("unit_id", "unit-active")),
        ({"agent_id": OTHER_UNITS_AGENT}, ("screener_agent_id", "agent-of-unit")),
        ({"screened_at": datetime(2099, 1, 1, tzinfo=UTC)}, ("screened_at", "not-in-future")),
    ],
)
async def test_a_screening_breaking_a_rule_is_refused_naming_it_and_writes_nothing(
    db: AsyncEngine, changes: dict[str, Any], rule: tuple[str, str]
) -> None:
    client = await execute(db, c.RegisterClient(UNIT, Identity()))
    with pytest.raises(RuleViolations) as refused:
        await execute(db, screen(client.client_id, **changes))

    assert broken(refused.value) == [rule]
    assert await rows(db, cases) == []
    assert await staged(db, platform.outbox) == []


async def test_erasing_a_client_shreds_their_key_and_withdraws_their_open_case(
    db: AsyncEngine,
) -> None:
    client = await execute(db, c.RegisterClient(UNIT, Identity(nik=NIK, name=NAME)))
    case, _, _ = await execute(db, screen(client.client_id))

    assert await execute(db, c.EraseClient(client.client_id)) == [case.case_id]

    [row] = await rows(db, clients)
    assert row["wrapped_data_key"] is None and row["erased_at"] is not None
    assert await rows(db, people) == []  # the NIK leads to nobody now
    assert [(r["stage"], r["outcome"]) for r in await rows(db, cases)] == [("closed", "withdrawn")]
    assert [s.kind for s in await staged(db, platform.outbox)] == ["ClientScreened", "CaseClosed"]


async def province_sends(
    engine: AsyncEngine, facts: Sequence[inbound.ScreeningSubmitted | inbound.EnrolmentSubmitted]
) -> list[provincial.Done]:
    """A partition's batch from province 74 through `provincial.HANDLERS`."""
    batch = [provincial.Submitted("74", f) for f in facts]
    async with session_factory(engine).begin() as tx:
        return await provincial.handle(tx, OUTBOX, batch, KEYS, PRIVATE_KEY)


async def test_a_province_s_batch_registers_screens_and_enrols_one_person_once(
    db: AsyncEngine,
) -> None:
    sealed = seal_identity(PUBLIC_KEY, {"nik": NIK, "name": NAME})
    done = await province_sends(
        db,
        [
            screening_submitted(UNIT, VILLAGE, 1, identity_sealed=sealed, screened_at=SCREENED_AT),
            screening_submitted(UNIT, VILLAGE, 2, identity_sealed=sealed, screened_at=SCREENED_AT),
            inbound.EnrolmentSubmitted.model_validate(
                {
                    "unit_id": UNIT,
                    "province_code": "74",
                    "village_code": VILLAGE,
                    "submission_id": "sultra-screening-0000001",
                    "admission_route": "voluntary",
                    "enrolled_on": "2025-05-27",
                }
            ),
        ],
    )

    assert [d.error for d in done] == [None, None, None]
    [case] = await rows(db, cases)  # the second screening re-screens the person's open case
    assert (case["stage"], case["version"]) == ("intake", 3)
    assert [d.created for d in done] == [{"case_id": case["case_id"]}] * 3
    assert len(await rows(db, clients)) == 1 and len(await rows(db, screenings)) == 2
    assert sorted(r["submission_id"] for r in await rows(db, submissions)) == [
        "sultra-screening-0000001",
        "sultra-screening-0000002",
    ]
    out = await staged(db, platform.outbox)  # fails on the NIK or name in any record
    assert [(s.kind, s.key) for s in out] == [
        ("ClientScreened", case["case_id"]),
        ("ClientScreened", case["case_id"]),
        ("ClientEnrolled", case["case_id"]),
    ]
    assert [d.event_id for d in done] == [s.event_id for s in out]


async def test_a_province_s_later_screening_of_the_person_re_screens_their_open_case(
    db: AsyncEngine,
) -> None:
    key = {"province_client_key": "sultra-person-0000042"}  # no NIK: the province's own key
    [first] = await province_sends(db, [screening_submitted(UNIT, VILLAGE, 1, **key)])
    never_used = {s: {"ever_used": False} for s in HIGH_RISK}
    [again] = await province_sends(
        db, [screening_submitted(UNIT, VILLAGE, 2, substances=never_used, injection=None, **key)]
    )

    assert first.created == again.created
    [case] = await rows(db, cases)
    assert (case["risk_level"], case["version"]) == ("low", 2)
    out = await staged(db, platform.outbox)
    assert [(s.kind, s.key) for s in out] == [("ClientScreened", case["case_id"])] * 2
    assert [s.data.overall_level for s in out] == ["high", "low"]  # type: ignore[attr-defined]


async def test_a_province_is_told_each_refused_fact_s_field_and_rule(db: AsyncEngine) -> None:
    _, stranger = generate_service_keypair()
    done = await province_sends(
        db,
        [
            screening_submitted(UNIT, VILLAGE, 1),
            screening_submitted(UNIT, VILLAGE, 1),  # the same submission again
            screening_submitted(SULSEL, "73.71.01.1001", 2),
            screening_submitted(UNIT, VILLAGE, 3, identity_sealed=seal_identity(stranger, {})),
            screening_submitted(
                UNIT, VILLAGE, 4, identity_sealed=seal_identity(PUBLIC_KEY, {"nik": "12345"})
            ),
            screening_submitted(UNIT, VILLAGE, 5, screener_agent_id=OTHER_UNITS_AGENT),
        ],
    )

    assert done[0].error is None
    assert broken(done[1].error) == [("submission_id", "unique-submission")]
    assert broken(done[2].error) == [("unit_id", "own-province")]
    assert isinstance(done[3].error, provincial.SealedWrongly)
    assert broken(done[4].error) == [("identity.nik", "nik-16-digits")]
    assert broken(done[5].error) == [("screener_agent_id", "agent-of-unit")]
    assert len(await rows(db, cases)) == 1
    assert [s.kind for s in await staged(db, platform.outbox)] == ["ClientScreened"]
