"""Scheduling learns other services' facts a run at a time, on both databases: a run of
enrolments makes the same plans, each case held by one agent and the cases shared among the
unit's agents the same way, as the same enrolments one by one; an enrolment delivered twice in
a run makes one plan; closing cases cancels their open sessions."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

from services.scheduling import handlers
from services.scheduling.db import MIGRATIONS, plans, platform, sessions
from services.scheduling.domain import load_templates
from shared.contracts import client_case, registry
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.regions import local_today
from tests.unit.contracts.examples import from_examples

UNIT, PROVINCE, VILLAGE = "unit-kendari-000001", "74", "74.71.01.1001"
WHERE = {"unit_id": UNIT, "province_code": PROVINCE, "village_code": VILLAGE}
NOW = datetime(2026, 9, 2, 3, tzinfo=UTC)


def enrolled(n: int) -> client_case.ClientEnrolled:
    return from_examples(
        client_case.ClientEnrolled,
        **WHERE,
        case_id=f"case-kendari-{n:06d}",
        enrolled_on=date(2026, 9, 1),
        admission_route="voluntary",
        risk_level="moderate" if n % 2 else "low",
        aftercare_source=None,
    )


async def agent_loads(database_url: str, *, set_based: bool) -> tuple[Counter[str], int]:
    """Three agents, six screened cases, six enrolments (the first twice); the open sessions
    each agent carries and how many plans were made."""
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "scheduling")
    engine = create_engine(database_url)
    outbox = Outbox(platform.outbox, source="/pulih/scheduling", topics=Topics())
    agents = [
        from_examples(registry.RecoveryAgentAppointed, **WHERE, agent_id=f"agent-kendari-{a:06d}")
        for a in range(3)
    ]
    screened = [
        from_examples(
            client_case.ClientScreened,
            **WHERE,
            case_id=f"case-kendari-{n:06d}",
            screened_at=datetime(2026, 9, 1, 2, tzinfo=UTC),
        )
        for n in range(6)
    ]
    enrolments = [enrolled(n) for n in range(6)] + [enrolled(0)]
    try:
        async with session_factory(engine).begin() as db:
            await handlers.units_formed(db, [from_examples(registry.UnitFormed, **WHERE)])
            await handlers.agents_appointed(db, agents)
            await handlers.clients_screened(db, screened)
            today_in = partial(local_today, NOW)
            if set_based:
                await handlers.clients_enrolled(
                    db, outbox, enrolments, load_templates(), today_in, 7
                )
            else:  # each in a run of its own: the loads read back from the database each time
                for e in enrolments:
                    await handlers.clients_enrolled(db, outbox, [e], load_templates(), today_in, 7)
        async with engine.connect() as connection:
            loads = Counter(
                dict(
                    (
                        await connection.execute(
                            select(sessions.c.agent_id, func.count()).group_by(sessions.c.agent_id)
                        )
                    ).all()
                )
            )
            made = await connection.scalar(select(func.count()).select_from(plans))
            holders = (
                await connection.execute(select(sessions.c.case_id, sessions.c.agent_id).distinct())
            ).all()
        # Each case is held by one agent (continuity of care), and the cases go round the team.
        assert sorted(c for c, _ in holders) == [f"case-kendari-{n:06d}" for n in range(6)]
        assert set(Counter(a for _, a in holders).values()) == {2}
        async with session_factory(engine).begin() as db:
            await handlers.cases_closed(
                db,
                [
                    from_examples(client_case.CaseClosed, **WHERE, case_id="case-kendari-000000"),
                    from_examples(client_case.CaseClosed, **WHERE, case_id="case-kendari-000001"),
                ],
            )
        async with engine.connect() as connection:
            left_open = await connection.scalar(
                select(func.count())
                .select_from(sessions)
                .where(
                    sessions.c.case_id.in_(["case-kendari-000000", "case-kendari-000001"]),
                    sessions.c.state.in_(handlers.OPEN_STATES),
                )
            )
        assert left_open == 0
        return loads, int(made or 0)
    finally:
        await engine.dispose()


async def test_a_run_of_enrolments_plans_as_one_by_one_would(
    database_url: str, tmp_path: Path
) -> None:
    one_by_one, plans_one_by_one = await agent_loads(
        f"sqlite+aiosqlite:///{tmp_path}/one-by-one.db", set_based=False
    )
    at_once, plans_at_once = await agent_loads(database_url, set_based=True)
    assert plans_at_once == plans_one_by_one == 6  # the repeated enrolment made no plan
    assert at_once == one_by_one  # shared among the agents the same way
