"""Scheduling's use cases called through its handler tables on a migrated SQLite database with
the real outbox: an enrolment becoming a plan (`handlers.clients_enrolled`), attendance,
misses and activities set-based (`batches.HANDLERS`), an agent's work one command at a time
(`agent_work.HANDLERS`). What each writes, what it stages and under which key, and the rule a
refusal names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.scheduling import agent_work, batches, domain, handlers
from services.scheduling.commands import (
    Command,
    RecordActivity,
    RecordAttendance,
    RecordMiss,
    RecordMissed,
    Reschedule,
)
from services.scheduling.db import MIGRATIONS, activities, cases, plans, platform, sessions
from services.scheduling.records import NotFound
from services.scheduling.settings import Settings
from shared.contracts import client_case, registry
from shared.contracts import scheduling as events
from shared.contracts.types import ActivityType, RescheduleReason, SessionMissReason
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.persistence import session_factory
from shared.regions import local_today
from shared.rules import RuleViolations
from tests.factories import VILLAGE
from tests.reporting_events import enrolled, screened, unit_formed
from tests.unit.conftest import Migrated
from tests.unit.contracts.examples import from_examples
from tests.unit.outbox import Staged, staged

UNIT, OTHER_UNIT = "unit-sultra-000000000001", "unit-sultra-000000000002"
SULSEL_UNIT, SULSEL_VILLAGE = "unit-sulsel-000000000001", "73.71.01.1001"
AGENT, OTHER_AGENT = "agent-sultra-00000000001", "agent-sultra-00000000002"
TEMPLATES = domain.load_templates()
OUTBOX = Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics())
GRACE_DAYS = 60  # nothing missed by the clock yet: each miss here is recorded


def today() -> date:
    """Scheduling dates facts in the province's own day, from the real clock."""
    return local_today(datetime.now(UTC), "74")


@pytest.fixture
async def db(migrated: Migrated) -> AsyncEngine:
    """Scheduling's database after the registry's units and agents (a unit in 74 with its
    agent, another with its own, one in 73) and one client screened five weeks ago and
    enrolled the next day: a plan whose weeks 2 to 5 are overdue, week 6 due, the rest ahead."""
    engine = migrated("scheduling", MIGRATIONS)
    opened = today() - timedelta(days=35)
    formed = [
        unit_formed(unit, village, date(2025, 3, 14))
        for unit, village in (
            (UNIT, VILLAGE),
            (OTHER_UNIT, "74.71.01.1006"),
            (SULSEL_UNIT, SULSEL_VILLAGE),
        )
    ]
    appointed = [
        from_examples(registry.RecoveryAgentAppointed, unit_id=unit, agent_id=agent)
        for unit, agent in ((UNIT, AGENT), (OTHER_UNIT, OTHER_AGENT))
    ]
    case_id = str(uuid.uuid4())
    async with session_factory(engine).begin() as tx:
        await handlers.units_formed(tx, cast(list[registry.UnitFormed], formed))
        await handlers.agents_appointed(tx, appointed)
        case = cast(client_case.ClientScreened, screened(UNIT, VILLAGE, opened, "high", case_id))
        await handlers.clients_screened(tx, [case])
        await enrol(tx, case_id, opened + timedelta(days=1))
    return engine


async def enrol(tx: AsyncSession, case_id: str, on: date) -> None:
    fact = cast(client_case.ClientEnrolled, enrolled(UNIT, VILLAGE, case_id, on, level="high"))
    await handlers.clients_enrolled(
        tx, OUTBOX, [fact], TEMPLATES, lambda _province: today(), GRACE_DAYS
    )


async def rows(engine: AsyncEngine, table: Table) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        query = select(table).order_by(*table.primary_key.columns)
        return [dict(r) for r in (await connection.execute(query)).mappings()]


async def plan(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The case's sessions in the order they are due."""
    return sorted(await rows(engine, sessions), key=lambda s: s["due_on"])


async def handle(engine: AsyncEngine, commands: Sequence[Command]) -> list[batches.Done]:
    async with session_factory(engine).begin() as tx:
        return await batches.handle(tx, OUTBOX, commands, drop_out_after=3)


def broken(done: batches.Done) -> list[tuple[str | None, str]]:
    assert isinstance(done.error, RuleViolations), done
    return [(v.field, v.rule) for v in done.error.violations]


def since_setup(out: list[Staged]) -> list[tuple[str, str]]:
    """What was staged after the plan, as (event, record key)."""
    assert out[0].kind == "CasePlanCreated"
    return [(s.kind, s.key) for s in out[1:]]


async def test_an_enrolment_becomes_one_plan_held_by_the_unit_s_agent_staged_once(
    db: AsyncEngine,
) -> None:
    [case] = await rows(db, cases)
    ahead = await plan(db)
    assert len(await rows(db, plans)) == 1 and len(ahead) >= 10
    assert {s["agent_id"] for s in ahead} == {AGENT} and case["primary_agent_id"] == AGENT
    assert {(s["week"], s["state"]) for s in ahead if s["week"] <= 7} == {
        *((week, "overdue") for week in (2, 3, 4, 5)),
        (6, "due"),
        (7, "planned"),
    }

    async with session_factory(db).begin() as tx:  # the same enrolment, delivered again
        await enrol(tx, case["case_id"], today() - timedelta(days=34))

    assert len(await rows(db, sessions)) == len(ahead)
    [created] = await staged(db, platform.outbox)
    assert (created.kind, created.topic, created.key) == (
        "CasePlanCreated",
        events.TOPIC,
        case["case_id"],
    )
    assert isinstance(created.data, events.CasePlanCreated)
    assert {(s.session_id, s.due_on) for s in created.data.sessions} == {
        (s["session_id"], s["due_on"]) for s in ahead
    }


async def test_attendance_is_recorded_once_and_a_province_is_told_each_broken_rule(
    db: AsyncEngine,
) -> None:
    first, second, *_ = await plan(db)
    held = first["due_on"]

    def attended(session: dict[str, Any], **changes: Any) -> RecordAttendance:
        fields = {"session_id": session["session_id"], "unit_id": UNIT, "held_on": held}
        return RecordAttendance(**{**fields, "agent_id": AGENT, "province": "74", **changes})

    done = await handle(
        db,
        [
            attended(first),
            attended(first),  # the same session twice in one batch
            attended(second, agent_id=OTHER_AGENT),
            attended(second, unit_id=OTHER_UNIT),
            attended(second, held_on=today() + timedelta(days=1)),
            attended(second, session_id="session-unknown-000001"),
            attended(second, province="73"),
        ],
    )

    assert done[0].error is None
    assert [broken(d) for d in done[1:]] == [
        [("session_id", "open-session")],
        [("agent_id", "agent-of-unit")],
        [("session_id", "session-of-unit")],
        [("held_on", "not-in-future")],
        [("session_id", "exists")],
        [("unit_id", "own-province")],
    ]
    states = {s["session_id"]: (s["state"], s["held_on"]) for s in await rows(db, sessions)}
    assert states[first["session_id"]] == ("done", held)
    assert states[second["session_id"]] == ("overdue", None)
    out = await staged(db, platform.outbox)
    assert since_setup(out) == [("SessionCompleted", first["case_id"])]
    assert done[0].event_id == out[1].event_id


async def test_a_province_s_third_miss_in_a_row_flags_the_case_at_risk(db: AsyncEngine) -> None:
    ahead = await plan(db)
    case_id = ahead[0]["case_id"]

    def missed(session: dict[str, Any]) -> RecordMissed:
        reason = SessionMissReason.CLIENT_ABSENT
        return RecordMissed(session["session_id"], UNIT, reason, AGENT, province="74")

    week_7 = next(s for s in ahead if s["week"] == 7)
    done = await handle(db, [missed(s) for s in ahead[:3]] + [missed(week_7)])

    assert [d.error is None for d in done[:3]] == [True] * 3
    assert broken(done[3]) == [("session_id", "week-begun")]  # its week is still ahead
    assert [s["state"] for s in await plan(db)][:4] == ["missed"] * 3 + ["overdue"]
    [case] = await rows(db, cases)
    assert case["at_risk_on"] == today()
    out = await staged(db, platform.outbox)
    assert since_setup(out) == [("SessionMissed", case_id)] * 3 + [("CaseAtRiskOfDropOut", case_id)]
    flagged = out[-1].data
    assert isinstance(flagged, events.CaseAtRiskOfDropOut)
    assert (flagged.consecutive_misses, flagged.last_missed_session_id) == (
        3,
        ahead[2]["session_id"],
    )


async def test_a_province_s_activity_is_recorded_once_per_submission(db: AsyncEngine) -> None:
    def activity(unit_id: str = UNIT, number: int = 1, **changes: Any) -> RecordActivity:
        fields: dict[str, Any] = {
            "unit_id": unit_id,
            "activity_type": ActivityType.AWARENESS,
            "held_on": today() - timedelta(days=2),
            "agent_ids": (AGENT,),
            "participants": 40,
            "participants_female": 22,
            "submission": ("74", f"sultra-activity-{number:07d}"),
        }
        return RecordActivity(**{**fields, **changes})

    done = await handle(
        db,
        [
            activity(),
            activity(),  # the same submission again
            activity(number=2, participants_female=41),
            activity(SULSEL_UNIT, 3, agent_ids=()),
            activity(number=4, agent_ids=(OTHER_AGENT,)),
            activity(number=5, held_on=date(2025, 1, 2)),
        ],
    )

    assert done[0].error is None and done[0].result is not None
    assert [broken(d) for d in done[1:]] == [
        [("submission_id", "unique-submission")],
        [("participants_female", "within-participants")],
        [("unit_id", "own-province")],
        [("agent_ids", "agent-of-unit")],
        [("held_on", "after-unit-formed")],
    ]
    [row] = await rows(db, activities)
    assert (row["activity_id"], row["submission_id"], row["participants"]) == (
        done[0].result,
        "sultra-activity-0000001",
        40,
    )
    assert since_setup(await staged(db, platform.outbox)) == [("ActivityHeld", UNIT)]


async def test_an_agent_moves_their_unit_s_session_but_never_another_unit_s(
    db: AsyncEngine,
) -> None:
    first, *_ = await plan(db)
    to = today() + timedelta(days=2)

    async def agent_does(command: Any) -> Any:
        async with session_factory(db).begin() as tx:
            ctx = agent_work.Context(tx, OUTBOX, Settings(missed_after_days=GRACE_DAYS))
            return await agent_work.execute(ctx, command)

    reason = RescheduleReason.CLIENT_REQUEST
    with pytest.raises(NotFound):  # a session of another unit's case is not disclosed
        await agent_does(
            RecordMiss(first["session_id"], (OTHER_UNIT,), SessionMissReason.CLIENT_ABSENT, AGENT)
        )
    with pytest.raises(RuleViolations) as refused:
        await agent_does(
            Reschedule(first["session_id"], (UNIT,), today() - timedelta(days=1), reason, AGENT)
        )
    assert [(v.field, v.rule) for v in refused.value.violations] == [("due_on", "not-in-past")]

    assert await agent_does(Reschedule(first["session_id"], (UNIT,), to, reason, AGENT)) == "due"

    moved = next(s for s in await rows(db, sessions) if s["session_id"] == first["session_id"])
    assert (moved["due_on"], moved["rescheduled_from"], moved["state"]) == (
        to,
        first["due_on"],
        "due",
    )
    out = await staged(db, platform.outbox)
    assert since_setup(out) == [("SessionRescheduled", first["case_id"])]
