"""The sweeper with the test's clock, on both databases: sessions turn overdue and then
missed on their province's local day (a WIT and a WIB unit side by side), each change is
staged as an event, and done or cancelled sessions are left alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.scheduling import sweeper
from services.scheduling.db import MIGRATIONS, platform, sessions
from services.scheduling.domain import load_templates
from services.scheduling.handlers import (
    agents_appointed,
    clients_enrolled,
    clients_screened,
    units_formed,
)
from shared.contracts import client_case, registry
from shared.contracts.base import EventData
from shared.contracts.envelope import from_kafka
from shared.contracts.scheduling import CaseAtRiskOfDropOut, SessionMissed
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from tests.unit.contracts.examples import from_examples

SCREENED = date(2026, 9, 1)
# Week 2 (the intake) is due on 14 September. 15:30 UTC on the 14th is 22:30 in Jakarta (still
# the 14th) and 00:30 on the 15th in Sorong (WIT): overdue there, still due in Jakarta.
JUST_AFTER_MIDNIGHT_IN_WIT = datetime(2026, 9, 14, 15, 30, tzinfo=UTC)


async def _case(session, outbox: Outbox, unit: str, province: str, village: str) -> str:  # type: ignore[no-untyped-def]
    await units_formed(
        session,
        [
            from_examples(
                registry.UnitFormed, unit_id=unit, province_code=province, village_code=village
            )
        ],
    )
    await agents_appointed(
        session,
        [
            from_examples(
                registry.RecoveryAgentAppointed,
                unit_id=unit,
                province_code=province,
                village_code=village,
                agent_id=f"agent-of-{unit}",
            )
        ],
    )
    case_id = f"case-of-{unit}"
    await clients_screened(
        session,
        [
            from_examples(
                client_case.ClientScreened,
                unit_id=unit,
                province_code=province,
                village_code=village,
                case_id=case_id,
                screened_at=datetime(2026, 9, 1, 3, tzinfo=UTC),
            )
        ],
    )
    await clients_enrolled(
        session,
        outbox,
        [
            from_examples(
                client_case.ClientEnrolled,
                unit_id=unit,
                province_code=province,
                village_code=village,
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
    )
    return case_id


async def _database(
    database_url: str,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession], Outbox]:
    """Scheduling's tables in a fresh database, and an outbox staging into it."""
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling")
    engine = create_engine(database_url)
    outbox = Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics())
    return engine, session_factory(engine), outbox


async def staged_events(engine: AsyncEngine) -> list[EventData]:
    """The events in the outbox, in the order staged."""
    async with engine.connect() as connection:
        rows = (
            (await connection.execute(select(platform.outbox).order_by(platform.outbox.c.id)))
            .mappings()
            .all()
        )
    return [
        from_kafka([(n, v.encode()) for n, v in r["headers"]], r["key"], r["value"]).data
        for r in rows
    ]


async def staged(engine: AsyncEngine) -> list[str]:
    """The names of the events in the outbox, in the order staged."""
    return [type(e).__name__ for e in await staged_events(engine)]


async def test_sessions_go_overdue_and_missed_on_their_provinces_day(database_url: str) -> None:
    engine, factory, outbox = await _database(database_url)
    async with factory.begin() as session:
        sorong = await _case(session, outbox, "unit-sorong-000001", "96", "96.71.01.1001")
        jakarta = await _case(session, outbox, "unit-jakarta-00001", "31", "31.71.01.1001")

    async def states(case_id: str) -> dict[int, str]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(sessions.c.week, sessions.c.state).where(sessions.c.case_id == case_id)
            )
            return dict(rows.all())

    moved = await sweeper.sweep_once(
        factory, outbox, now=JUST_AFTER_MIDNIGHT_IN_WIT, grace_days=7, drop_out_after=3
    )
    assert (await states(sorong))[2] == "overdue"
    assert (await states(jakarta))[2] == "due"
    assert moved.get(sweeper.SessionState.OVERDUE) == 1
    assert (await staged(engine)).count("SessionOverdue") == 1

    again = await sweeper.sweep_once(
        factory, outbox, now=JUST_AFTER_MIDNIGHT_IN_WIT, grace_days=7, drop_out_after=3
    )
    assert again == {}  # nothing new to say

    a_week_later = datetime(2026, 9, 22, 3, tzinfo=UTC)
    await sweeper.sweep_once(factory, outbox, now=a_week_later, grace_days=7, drop_out_after=3)
    assert (await states(sorong))[2] == "missed" and (await states(jakarta))[2] == "missed"
    kinds = await staged(engine)
    assert kinds.count("SessionMissed") == 2
    assert kinds.count("CasePlanCreated") == 2
    await engine.dispose()


async def test_an_enrolment_delivered_again_makes_no_second_plan(database_url: str) -> None:
    engine, factory, outbox = await _database(database_url)
    async with factory.begin() as session:
        case_id = await _case(session, outbox, "unit-jakarta-00001", "31", "31.71.01.1001")
    async with factory.begin() as session:  # the same fact again (a relay's retry, a replay)
        await clients_enrolled(
            session,
            outbox,
            [
                from_examples(
                    client_case.ClientEnrolled,
                    unit_id="unit-jakarta-00001",
                    province_code="31",
                    village_code="31.71.01.1001",
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
        )
    async with engine.connect() as connection:
        planned = (
            (await connection.execute(select(sessions.c.week).where(sessions.c.case_id == case_id)))
            .scalars()
            .all()
        )
    assert sorted(planned) == sorted(set(planned))  # each week once
    assert (await staged(engine)).count("CasePlanCreated") == 1
    await engine.dispose()


async def test_a_sweep_after_a_long_pause_publishes_each_miss_once_in_chunks(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service was down all of the pathway: the first sweep finds every session missed.
    monkeypatch.setattr(sweeper, "CHUNK", 4)  # so the misses take several transactions
    engine, factory, outbox = await _database(database_url)
    async with factory.begin() as session:
        case_id = await _case(session, outbox, "unit-jakarta-00001", "31", "31.71.01.1001")
    async with engine.connect() as connection:
        weeks = sorted(
            (
                await connection.execute(
                    select(sessions.c.week).where(sessions.c.case_id == case_id)
                )
            ).scalars()
        )
    assert len(weeks) > 2 * 4  # (the low-risk plan's sessions)
    # A sweep while the plan was young: the first sessions turned overdue and due, so the
    # catch-up moves sessions of every open state (on PostgreSQL, no longer stored in order).
    await sweeper.sweep_once(
        factory, outbox, now=datetime(2026, 9, 16, 3, tzinfo=UTC), grace_days=7, drop_out_after=3
    )
    much_later = datetime(2027, 3, 1, 3, tzinfo=UTC)

    relay_woken = Counter[str]()
    moved = await sweeper.sweep_once(
        factory,
        outbox,
        now=much_later,
        grace_days=7,
        drop_out_after=3,
        committed=lambda: relay_woken.update(["chunk"]),
    )

    assert moved == {sweeper.SessionState.MISSED: len(weeks)}
    # The relay is woken after each chunk it can publish, not once the whole sweep is over.
    assert relay_woken["chunk"] == -(-len(weeks) // 4) > 1
    published = await staged_events(engine)
    missed = [e for e in published if isinstance(e, SessionMissed)]
    assert [e.week for e in missed] == weeks  # each once, in the order they fell due
    [flag] = [e for e in published if isinstance(e, CaseAtRiskOfDropOut)]  # once, not per chunk
    assert flag.case_id == case_id and flag.flagged_on == date(2027, 3, 1)
    # The miss that reached the threshold, as the contract says, whatever the chunks.
    assert (flag.consecutive_misses, flag.last_missed_session_id) == (3, missed[2].session_id)
    assert (
        await sweeper.sweep_once(factory, outbox, now=much_later, grace_days=7, drop_out_after=3)
        == {}
    )
    await engine.dispose()
