"""What agents and provinces record, on both databases: misses in a row flag a case once per
run (attendance ends the run), rescheduling keeps the first planned date and the reason within
its rules, and a province's activity is recorded once (and late, if held before the unit
stopped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.scheduling import batches, records, sweeper
from services.scheduling.commands import RecordActivity, RecordAttendance, RecordMissed
from services.scheduling.db import MIGRATIONS, cases, platform, sessions, units
from shared.contracts.scheduling import CaseAtRiskOfDropOut
from shared.contracts.types import ActivityType, RescheduleReason, SessionMissReason
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.rules import RuleViolations
from tests.integration.scheduling.test_sweeper import _case, staged, staged_events

AGENT = "agent-of-unit-jakarta-00001"  # appointed by _case
UNIT = "unit-jakarta-00001"


@dataclass
class Db:
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    outbox: Outbox
    case_id: str

    async def row(self, week: int) -> RowMapping:
        async with self.factory() as session:
            session_id = (
                await session.execute(
                    select(sessions.c.session_id).where(
                        sessions.c.case_id == self.case_id, sessions.c.week == week
                    )
                )
            ).scalar_one()
            return await records.session_row(session, session_id)

    async def at_risk_on(self) -> date | None:
        async with self.engine.connect() as connection:
            flagged = await connection.execute(
                select(cases.c.at_risk_on).where(cases.c.case_id == self.case_id)
            )
            return flagged.scalar()

    async def sweep(self, when: datetime) -> None:
        await sweeper.sweep_once(
            self.factory, self.outbox, now=when, grace_days=7, drop_out_after=3
        )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    """A Jakarta unit with one agent and a low-risk case screened on 1 September 2026: one
    session a week from week 2 (due 14 September), each due on the same weekday."""
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling")
    engine = create_engine(database_url)
    factory = session_factory(engine)
    outbox = Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics())
    async with factory.begin() as session:
        case_id = await _case(session, outbox, UNIT, "31", "31.71.01.1001")
    yield Db(engine, factory, outbox, case_id)
    await engine.dispose()


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 3, tzinfo=UTC)  # 10:00 in Jakarta


async def test_misses_in_a_row_flag_the_case_once_per_run(db: Db) -> None:
    # By 6 October weeks 2, 3 and 4 (due 14, 21, 28 September) are a week past due: missed.
    await db.sweep(_at(date(2026, 10, 6)))
    assert (await staged(db.engine)).count("CaseAtRiskOfDropOut") == 1
    assert await db.at_risk_on() == date(2026, 10, 6)

    await db.sweep(_at(date(2026, 10, 13)))  # week 5 missed too: the same run, no new flag
    assert (await staged(db.engine)).count("CaseAtRiskOfDropOut") == 1

    # The client came to week 5 after all (recorded late): the run is over.
    async with db.factory.begin() as session:
        await batches.execute(
            session,
            db.outbox,
            RecordAttendance(
                session_id=(await db.row(5))["session_id"],
                unit_id=UNIT,
                held_on=date(2026, 10, 9),
                agent_id=AGENT,
                duration_minutes=30,
            ),
        )
    assert await db.at_risk_on() is None

    await db.sweep(_at(date(2026, 10, 30)))  # weeks 6 and 7 missed: two in a row
    assert (await staged(db.engine)).count("CaseAtRiskOfDropOut") == 1
    await db.sweep(_at(date(2026, 11, 3)))  # week 8 makes three
    flags = [e for e in await staged_events(db.engine) if isinstance(e, CaseAtRiskOfDropOut)]
    assert len(flags) == 2
    assert flags[1].consecutive_misses == 3
    assert flags[1].last_missed_session_id == (await db.row(8))["session_id"]
    assert flags[1].flagged_on == date(2026, 11, 3)


async def test_an_agent_records_a_miss_with_its_reason(db: Db) -> None:
    async with db.factory.begin() as session:
        with pytest.raises(RuleViolations) as early:
            await records.miss_session(
                session,
                db.outbox,
                await db.row(3),  # due 21 September: its week begins on the 15th
                reason=SessionMissReason.CLIENT_UNREACHABLE,
                agent_id="someone-else-000001",
                today=date(2026, 9, 10),
                drop_out_after=3,
            )
    assert {(v.field, v.rule) for v in early.value.violations} == {
        ("session_id", "week-begun"),
        ("agent_id", "agent-of-unit"),
    }
    async with db.factory.begin() as session:
        await records.miss_session(
            session,
            db.outbox,
            await db.row(2),
            reason=SessionMissReason.CLIENT_UNREACHABLE,
            agent_id=AGENT,
            today=date(2026, 9, 10),
            drop_out_after=3,
        )
    missed = await db.row(2)
    assert (missed["state"], missed["miss_reason"]) == ("missed", "client_unreachable")
    assert (await staged(db.engine))[-1] == "SessionMissed"


async def test_rescheduling_keeps_the_planned_date_and_the_reason(db: Db) -> None:
    today = date(2026, 9, 10)  # week 2 is due on the 14th

    async def move(to: date) -> str:
        async with db.factory.begin() as session:
            state = await records.reschedule_session(
                session,
                db.outbox,
                await db.row(2),
                to_due_on=to,
                reason=RescheduleReason.CLIENT_REQUEST,
                agent_id=AGENT,
                today=today,
                grace_days=7,
            )
        return str(state)

    for to, rule in (
        (date(2026, 9, 5), "not-in-past"),
        (date(2026, 10, 20), "within-window"),  # 36 days after the planned 14 September
        (date(2026, 9, 14), "changed"),
    ):
        with pytest.raises(RuleViolations) as refused:
            await move(to)
        assert [v.rule for v in refused.value.violations] == [rule]

    assert await move(date(2026, 9, 16)) == "due"
    assert await move(date(2026, 10, 10)) == "planned"  # 26 days after the planned date
    moved = await db.row(2)
    assert (moved["due_on"], moved["rescheduled_from"], moved["reschedule_reason"]) == (
        date(2026, 10, 10),
        date(2026, 9, 14),
        "client_request",
    )
    assert (await staged(db.engine)).count("SessionRescheduled") == 2

    # The sweeper follows the new date: nothing is overdue on the old one.
    await db.sweep(_at(date(2026, 9, 16)))
    assert (await db.row(2))["state"] == "planned"


async def test_a_provinces_activity_is_recorded_once(db: Db) -> None:
    def activity(agent: str) -> RecordActivity:
        return RecordActivity(
            unit_id=UNIT,
            activity_type=ActivityType.OUTREACH,
            held_on=date(2026, 9, 12),
            agent_ids=(agent,),
            participants=25,
            participants_female=11,
            submission=("31", "jakarta-activity-0001"),
        )

    # In one batch: a stranger named as agent, then the activity, then the same again.
    async with db.factory.begin() as tx:
        done = await batches.handle(
            tx, db.outbox, [activity("someone-else-000001"), activity(AGENT), activity(AGENT)]
        )
    refusals = [
        [(v.field, v.rule) for v in d.error.violations]
        if isinstance(d.error, RuleViolations)
        else []
        for d in done
    ]
    assert refusals == [
        [("agent_ids", "agent-of-unit")],
        [],
        [("submission_id", "unique-submission")],
    ]
    assert done[1].event_id is not None
    async with db.factory.begin() as tx:  # and in a later batch
        [again] = await batches.handle(tx, db.outbox, [activity(AGENT)])
    assert isinstance(again.error, RuleViolations)
    assert (await staged(db.engine)).count("ActivityHeld") == 1


async def test_an_activity_held_before_the_unit_stopped_is_recorded_when_it_arrives(
    db: Db,
) -> None:
    async with db.factory.begin() as tx:  # the registry suspended the unit on 1 October
        await tx.execute(
            update(units)
            .where(units.c.unit_id == UNIT)
            .values(status="suspended", status_on=date(2026, 10, 1))
        )

    def held_on(day: date, number: int) -> RecordActivity:
        return RecordActivity(
            unit_id=UNIT,
            activity_type=ActivityType.AWARENESS,
            held_on=day,
            agent_ids=(AGENT,),
            participants=40,
            submission=("31", f"jakarta-activity-late-{number}"),
        )

    async with db.factory.begin() as tx:
        before, after = await batches.handle(
            tx, db.outbox, [held_on(date(2026, 9, 30), 1), held_on(date(2026, 10, 1), 2)]
        )
    assert before.error is None and before.event_id is not None
    assert isinstance(after.error, RuleViolations)
    assert [(v.field, v.rule) for v in after.error.violations] == [("unit_id", "unit-active")]


async def test_a_province_records_only_its_own_units_sessions_and_activities(db: Db) -> None:
    """Jakarta's unit (31) is not Sulawesi Tenggara's (74) to record, whatever the message's
    own region fields say."""
    session_id = (await db.row(2))["session_id"]
    held = date(2026, 9, 13)
    commands: list[RecordAttendance | RecordMissed | RecordActivity] = [
        RecordAttendance(session_id, UNIT, held, AGENT, province="74"),
        RecordMissed(session_id, UNIT, SessionMissReason.CLIENT_ABSENT, AGENT, province="74"),
        RecordActivity(
            unit_id=UNIT,
            activity_type=ActivityType.OUTREACH,
            held_on=held,
            agent_ids=(AGENT,),
            participants=10,
            submission=("74", "sultra-activity-of-jakarta"),
        ),
        RecordAttendance(session_id, UNIT, held, AGENT, province="31"),  # Jakarta's own
    ]
    async with db.factory.begin() as tx:
        done = await batches.handle(tx, db.outbox, commands)
    refusals = [
        [(v.field, v.rule) for v in d.error.violations]
        if isinstance(d.error, RuleViolations)
        else []
        for d in done
    ]
    assert refusals[:3] == [[("unit_id", "own-province")]] * 3
    assert refusals[3] != [("unit_id", "own-province")]
