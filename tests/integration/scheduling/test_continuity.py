"""A unit's month of real use, on both databases with the test's clock: a suspension pauses a
case's plan from its effective date and a return re-plans it; a dissolved unit's case waits on
hold until it is transferred, and its sessions follow it; each case stays with one agent until
that agent leaves (a unit may prefer rotation); dates that would put wrong facts into the
figures are refused, the same for an agent's request and a province's submission."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.scheduling import batches, handlers, sweeper
from services.scheduling.commands import Command, RecordActivity, RecordAttendance
from services.scheduling.db import MIGRATIONS, cases, plans, platform, sessions, units
from services.scheduling.domain import load_templates
from shared.contracts import client_case, registry
from shared.contracts.types import ActivityType
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.rules import RuleViolations
from tests.unit.contracts.examples import from_examples

JAKARTA = {"unit_id": "unit-jakarta-00001", "province_code": "31", "village_code": "31.71.01.1001"}
BOGOR = {"unit_id": "unit-bogor-000001", "province_code": "32", "village_code": "32.71.01.1001"}
AGENT_A, AGENT_B = "agent-jakarta-0000a", "agent-jakarta-0000b"
AGENT_BOGOR = "agent-bogor-000001"
CASE = "case-jakarta-000001"
SCREENED = date(2026, 9, 1)
FORMED = date(2025, 3, 14)
# The low-risk plan: weeks 2 to 12 every week, then 14 and 16; week n is due on
# 1 September + 7n - 1 days (week 2 on 14 September, week 4 on 28 September).


@dataclass
class Db:
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    outbox: Outbox

    async def plan(self, case_id: str = CASE) -> dict[int, dict[str, object]]:
        """Week → the session's state, due date and agent."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(sessions).where(sessions.c.case_id == case_id).order_by(sessions.c.week)
            )
            return {r["week"]: dict(r) for r in rows.mappings()}

    async def case(self, case_id: str = CASE) -> dict[str, object]:
        async with self.engine.connect() as connection:
            row = await connection.execute(select(cases).where(cases.c.case_id == case_id))
            return dict(row.mappings().one())

    async def status(self, e: registry.UnitStatusChanged, *, rotating: frozenset[str]) -> None:
        async with self.factory.begin() as db:
            await handlers.handle_unit_status_changed(
                db, e, today_in=lambda _p: e.effective_on, rotating=rotating
            )

    async def record(self, *commands: Command) -> list[batches.Done]:
        async with self.factory.begin() as db:
            return await batches.handle(db, self.outbox, list(commands))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling")
    engine = create_engine(database_url)
    yield Db(
        engine,
        session_factory(engine),
        Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics()),
    )
    await engine.dispose()


async def _unit(db: Db, where: dict[str, str], agent_ids: list[str]) -> None:
    async with db.factory.begin() as tx:
        await handlers.units_formed(
            tx, [from_examples(registry.UnitFormed, **where, formed_on=FORMED)]
        )
        await handlers.agents_appointed(
            tx,
            [
                from_examples(registry.RecoveryAgentAppointed, **where, agent_id=a)
                for a in agent_ids
            ],
        )


async def _enrol(
    db: Db, case_id: str, *, rotating: frozenset[str] = frozenset(), where: dict[str, str] = JAKARTA
) -> None:
    async with db.factory.begin() as tx:
        await handlers.clients_screened(
            tx,
            [
                from_examples(
                    client_case.ClientScreened,
                    **where,
                    case_id=case_id,
                    screened_at=datetime(2026, 9, 1, 3, tzinfo=UTC),
                )
            ],
        )
        await handlers.clients_enrolled(
            tx,
            db.outbox,
            [
                from_examples(
                    client_case.ClientEnrolled,
                    **where,
                    case_id=case_id,
                    enrolled_on=SCREENED,
                    admission_route="voluntary",
                    risk_level="low",
                    aftercare_source=None,
                )
            ],
            load_templates(),
            lambda _province: SCREENED,
            7,
            rotating,
        )


def _status(to: str, on: date, where: dict[str, str] = JAKARTA) -> registry.UnitStatusChanged:
    came_from = "active" if to != "active" else "suspended"
    return from_examples(
        registry.UnitStatusChanged,
        **where,
        from_status=came_from,
        to_status=to,
        reason="activity_resumed" if to == "active" else "agents_unavailable",
        effective_on=on,
    )


def _attended(session_id: str, on: date, unit: str = JAKARTA["unit_id"]) -> RecordAttendance:
    agent = AGENT_BOGOR if unit == BOGOR["unit_id"] else AGENT_A
    return RecordAttendance(session_id=session_id, unit_id=unit, held_on=on, agent_id=agent)


def _refusals(done: list[batches.Done]) -> list[list[tuple[str, str]]]:
    return [
        [(v.field, v.rule) for v in d.error.violations]
        if isinstance(d.error, RuleViolations)
        else []
        for d in done
    ]


async def test_a_suspension_pauses_the_plan_and_the_units_return_replans_it(db: Db) -> None:
    await _unit(db, JAKARTA, [AGENT_A, AGENT_B])
    await _enrol(db, CASE)
    before = await db.plan()
    # Suspended from 22 September: weeks 2 and 3 (due 14 and 21 September) are not touched.
    await db.status(_status("suspended", date(2026, 9, 22)), rotating=frozenset())
    held = await db.plan()
    assert {w: s["state"] for w, s in held.items() if w <= 3} == {2: "planned", 3: "planned"}
    assert {s["state"] for w, s in held.items() if w >= 4} == {"on_hold"}
    # What really happened can still be recorded: week 3 after the suspension began, and
    # week 4 (on hold) held on the day before it; not week 5, held while the unit was stopped.
    refusals = _refusals(
        await db.record(
            _attended(str(held[3]["session_id"]), date(2026, 9, 23)),
            _attended(str(held[4]["session_id"]), date(2026, 9, 21)),
            _attended(str(held[5]["session_id"]), date(2026, 9, 23)),
        )
    )
    assert refusals == [[], [], [("session_id", "open-session")]]
    # The sweeper leaves sessions on hold alone: they are not missed while the unit is stopped.
    await sweeper.sweep_once(
        db.factory,
        db.outbox,
        now=datetime(2026, 10, 30, 3, tzinfo=UTC),
        grace_days=7,
        drop_out_after=3,
    )
    assert {s["state"] for w, s in (await db.plan()).items() if w >= 5} == {"on_hold"}

    # Back from 2 November: weeks 5 to 16 are re-planned from then, in order, as far apart
    # as before, with the case's own agent; the first is due at the end of that week.
    await db.status(_status("active", date(2026, 11, 2)), rotating=frozenset())
    after = await db.plan()
    assert after[5]["due_on"] == date(2026, 11, 8)
    shift = date(2026, 11, 8) - before[5]["due_on"]  # type: ignore[operator]
    assert all(after[w]["due_on"] == before[w]["due_on"] + shift for w in after if w >= 5)  # type: ignore[operator]
    assert after[5]["state"] == "due" and after[6]["state"] == "planned"
    assert {s["state"] for w, s in after.items() if w >= 6} == {"planned"}
    # What was due before the suspension went its own way: week 2, never held, was missed.
    assert (after[2]["state"], after[3]["state"], after[4]["state"]) == ("missed", "done", "done")
    assert {s["agent_id"] for w, s in after.items() if w >= 5} == {AGENT_A}
    assert (await db.case())["primary_agent_id"] == AGENT_A


async def test_a_dissolved_units_case_waits_on_hold_and_follows_its_transfer(db: Db) -> None:
    await _unit(db, JAKARTA, [AGENT_A])
    await _unit(db, BOGOR, [AGENT_BOGOR])
    await _enrol(db, CASE)
    await db.status(_status("dissolved", date(2026, 9, 22)), rotating=frozenset())
    assert {s["state"] for w, s in (await db.plan()).items() if w >= 4} == {"on_hold"}

    # A return of the unit would re-plan it; a dissolution leaves it waiting for a transfer.
    transferred = from_examples(
        client_case.CaseTransferred,
        **BOGOR,
        case_id=CASE,
        from_unit_id=JAKARTA["unit_id"],
        from_province_code="31",
        transferred_on=date(2026, 10, 5),
    )
    async with db.factory.begin() as tx:
        await handlers.cases_transferred(
            tx, [transferred], lambda _p: date(2026, 10, 5), frozenset()
        )
    plan = await db.plan()
    assert (await db.case())["unit_id"] == BOGOR["unit_id"]
    assert (await db.case())["primary_agent_id"] == AGENT_BOGOR
    # Week 4 onwards, held since 22 September, restart in the week of 5 October.
    assert plan[4]["due_on"] == date(2026, 10, 11)
    assert plan[4]["state"] == "due"
    assert {s["agent_id"] for w, s in plan.items() if w >= 4} == {AGENT_BOGOR}
    # The receiving unit records them; the unit the case left no longer can.
    refusals = _refusals(
        await db.record(
            _attended(str(plan[4]["session_id"]), date(2026, 10, 6)),
            _attended(str(plan[5]["session_id"]), date(2026, 10, 6), unit=BOGOR["unit_id"]),
        )
    )
    assert refusals == [[("session_id", "session-of-unit")], []]


async def test_a_case_stays_with_one_agent_until_that_agent_leaves(db: Db) -> None:
    await _unit(db, JAKARTA, [AGENT_A, AGENT_B])
    await _enrol(db, CASE)
    await _enrol(db, "case-jakarta-000002")
    first, second = await db.plan(), await db.plan("case-jakarta-000002")
    assert {s["agent_id"] for s in first.values()} == {AGENT_A}
    assert {s["agent_id"] for s in second.values()} == {AGENT_B}  # A had the first case

    async with db.factory.begin() as tx:
        await handlers.handle_agent_deactivated(
            tx,
            from_examples(registry.RecoveryAgentDeactivated, **JAKARTA, agent_id=AGENT_A),
            rotating=frozenset(),
        )
    assert {s["agent_id"] for s in (await db.plan()).values()} == {AGENT_B}
    assert (await db.case())["primary_agent_id"] == AGENT_B


async def test_a_unit_may_prefer_its_agents_to_take_turns(db: Db) -> None:
    await _unit(db, JAKARTA, [AGENT_A, AGENT_B])
    await _enrol(db, CASE, rotating=frozenset({JAKARTA["unit_id"]}))
    plan = await db.plan()
    assert {s["agent_id"] for s in plan.values()} == {AGENT_A, AGENT_B}
    assert (await db.case())["primary_agent_id"] is None


async def test_dates_that_would_falsify_the_figures_are_refused(db: Db) -> None:
    await _unit(db, JAKARTA, [AGENT_A])
    await _enrol(db, CASE)
    plan = await db.plan()
    week_12 = str(plan[12]["session_id"])  # due 23 November: its week begins on the 17th

    def activity(on: date) -> RecordActivity:
        return RecordActivity(
            unit_id=JAKARTA["unit_id"],
            activity_type=ActivityType.AWARENESS,
            held_on=on,
            agent_ids=(AGENT_A,),
            participants=30,
        )

    done = await db.record(
        _attended(week_12, date(2026, 8, 30)),  # before the client was screened
        _attended(week_12, date(2026, 9, 21)),  # nine weeks before the session's week
        activity(date(2024, 12, 1)),  # before the unit was formed on 14 March 2025
        _attended(week_12, date(2026, 11, 10)),  # a week before its week: an early session
        activity(date(2025, 3, 14)),
    )
    assert _refusals(done) == [
        [("held_on", "after-case-opened")],
        [("held_on", "within-session-window")],
        [("held_on", "after-unit-formed")],
        [],
        [],
    ]
    async with db.engine.connect() as connection:
        held_on = await connection.scalar(
            select(sessions.c.held_on).where(sessions.c.session_id == week_12)
        )
    assert held_on == date(2026, 11, 10)  # the calendar shows the day it took place

    # A unit learned before scheduling kept formation dates is not held to one.
    async with db.factory.begin() as tx:
        await tx.execute(units.update().values(formed_on=None))
    assert _refusals(await db.record(activity(date(2024, 12, 1)))) == [[]]


async def test_plans_the_old_suspension_cancelled_come_back_on_hold(database_url: str) -> None:
    """Before this release a suspension cancelled every open session; the migration puts the
    cancelled sessions of cases still open on hold, so the unit's return or an agent's
    re-plan brings them back. A closed case's cancelled sessions stay cancelled."""
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling", "scheduling_0004")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for case_id, closed in (("case-open-000001", False), ("case-closed-00001", True)):
                await connection.execute(
                    cases.insert().values(
                        case_id=case_id,
                        unit_id="unit-old-0000001",
                        client_ref="c" * 64,
                        closed=closed,
                    )
                )
                await connection.execute(
                    plans.insert().values(
                        plan_id=f"plan-{case_id}",
                        case_id=case_id,
                        template="low",
                        starts_on=SCREENED,
                    )
                )
                await connection.execute(
                    sessions.insert().values(
                        session_id=f"session-{case_id}",
                        plan_id=f"plan-{case_id}",
                        case_id=case_id,
                        week=5,
                        session_type="home_visit",
                        due_on=date(2026, 10, 5),
                        agent_id=AGENT_A,
                        state="cancelled",
                    )
                )
        await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling")
        async with engine.connect() as connection:
            states = dict(
                (await connection.execute(select(sessions.c.case_id, sessions.c.state)))
                .tuples()
                .all()
            )
        assert states == {"case-open-000001": "on_hold", "case-closed-00001": "cancelled"}
    finally:
        await engine.dispose()
