"""The registry's use cases called through its handler table (`handlers.handle`) on a migrated
SQLite database with the real outbox: the rows each command writes, the canonical events it
stages, and what a province is told when a fact breaks a rule."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import handlers
from services.registry.commands import (
    ChangeUnitStatus,
    Command,
    DeactivateAgent,
    RecordFunding,
    RecordTraining,
)
from services.registry.consumers import explain
from services.registry.db import (
    MIGRATIONS,
    agent_trainings,
    agents,
    offices,
    platform,
    regions,
    unit_funding,
    unit_status_changes,
    units,
)
from services.registry.domain import Scope, Training
from services.registry.handlers import Done, Order
from shared.contracts import registry as events
from shared.contracts.types import (
    AgentDeactivationReason,
    FundingSource,
    TrainingKind,
    UnitStatus,
    UnitStatusReason,
)
from shared.messaging.broker import Topics
from shared.messaging.outbox import Outbox
from shared.persistence import session_factory
from shared.security.encryption import KeyRing
from shared.security.roles import Forbidden
from tests.factories import VILLAGE, appoint_agent, form_unit
from tests.privacy import SECOND_NAME
from tests.unit.conftest import Migrated
from tests.unit.outbox import staged

TODAY = date(2026, 11, 22)
SULTRA = Scope.of_regions("74")  # what a province's facts act with
OTHER_VILLAGE = "74.71.01.1006"
SULSEL_VILLAGE = "73.71.01.1001"
OUTBOX = Outbox(platform.outbox, source="/pulih/registry", topics=Topics())


@pytest.fixture
async def db(migrated: Migrated) -> AsyncEngine:
    """The registry's database with three villages and their offices, as `load_regions`
    leaves them."""
    engine = migrated("registry", MIGRATIONS)
    village = {"level": "village", "name": "Kelurahan", "time_zone": None, "edition": "test"}
    async with engine.begin() as connection:
        await connection.execute(
            insert(regions),
            [
                {**village, "code": code, "parent_code": code[:8], "province_code": code[:2]}
                for code in (VILLAGE, OTHER_VILLAGE, SULSEL_VILLAGE)
            ],
        )
        await connection.execute(
            insert(offices),
            [
                {"code": "BNNK-74.71", "kind": "BNNK", "region_code": "74.71", "name": "Kendari"},
                {"code": "BNNP-74", "kind": "BNNP", "region_code": "74", "name": "Sultra"},
                {"code": "BNNP-73", "kind": "BNNP", "region_code": "73", "name": "Sulsel"},
            ],
        )
    return engine


async def handle(
    engine: AsyncEngine,
    commands: Sequence[Command],
    scope: Scope = SULTRA,
    ring: KeyRing | None = None,
) -> list[Done]:
    """One batch through the handler table, committed as the consumer commits it."""
    async with session_factory(engine).begin() as tx:
        return await handlers.handle(
            tx,
            OUTBOX,
            [Order(c, scope) for c in commands],
            today=TODAY,
            ring=ring,
        )


async def rows(engine: AsyncEngine, table: Table, *columns: str) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        query = select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in columns))
        return [tuple(r) for r in (await connection.execute(query)).all()]


def answers(done: Sequence[Done]) -> list[list[tuple[str | None, str]] | None]:
    """Per command: the (field, rule) pairs of the province's `EventRejected`, or None."""
    return [
        [(r.field, r.rule) for r in explain(d.error)] if d.error is not None else None for d in done
    ]


async def test_a_unit_formed_with_its_funding_is_written_and_staged_keyed_by_unit(
    db: AsyncEngine,
) -> None:
    [done] = await handle(db, [form_unit(funding_source=FundingSource.BNN)])

    assert done.error is None
    assert await rows(db, units, "unit_id", "village_code", "province_code", "status") == [
        ("unit-0000000000000001", VILLAGE, "74", "active")
    ]
    assert await rows(db, unit_funding, "funding_id", "fiscal_year", "source") == [
        ("unit-0000000000000001-2025", 2025, "bnn")
    ]
    out = await staged(db, platform.outbox)
    assert [(s.kind, s.topic, s.key) for s in out] == [
        ("UnitFormed", events.TOPIC, "unit-0000000000000001"),
        ("UnitFundingRecorded", events.TOPIC, "unit-0000000000000001"),
    ]
    assert done.event_id == out[0].event_id  # the receipt names the unit's own event
    formed = out[0].data
    assert isinstance(formed, events.UnitFormed)
    assert (formed.village_code, formed.formed_on) == (VILLAGE, date(2025, 3, 14))


async def test_an_agent_appointed_in_the_unit_s_batch_has_a_sealed_name_no_event_carries(
    db: AsyncEngine,
) -> None:
    ring = KeyRing({"k1": os.urandom(32)}, "k1")
    done = await handle(
        db,
        [form_unit(), appoint_agent(display_name=SECOND_NAME)],
        scope=Scope.national(),
        ring=ring,
    )

    assert [d.error for d in done] == [None, None]
    async with db.connect() as connection:
        agent = (await connection.execute(select(agents))).mappings().one()
    assert (agent["agent_id"], agent["unit_id"], agent["active"]) == (
        "agent-000000000000001",
        "unit-0000000000000001",
        True,
    )
    assert SECOND_NAME.encode() not in agent["display_name_sealed"]
    assert handlers.display_name(ring, agent) == SECOND_NAME
    # `staged` fails on any identity value in a key, a header or a body.
    out = await staged(db, platform.outbox)
    assert [(s.kind, s.key) for s in out] == [
        ("UnitFormed", "unit-0000000000000001"),
        ("RecoveryAgentAppointed", "unit-0000000000000001"),
    ]


async def test_a_province_is_told_each_broken_rule_and_refused_facts_write_nothing(
    db: AsyncEngine,
) -> None:
    done = await handle(
        db,
        [
            form_unit(),
            form_unit(unit_id="unit-0000000000000002"),  # the village has an active unit
            form_unit(unit_id="unit-0000000000000001", village_code=OTHER_VILLAGE),  # id taken
            form_unit(unit_id="unit-0000000000000003", village_code="74.71.01.1999"),
            form_unit(
                unit_id="unit-0000000000000004",
                village_code=SULSEL_VILLAGE,
                facilitating_office="BNNP-73",
            ),
            appoint_agent("unit-0000000000000009"),
            appoint_agent(appointed_on=date(2025, 3, 1)),  # before the unit was formed
        ],
    )

    assert answers(done) == [
        None,
        [("village_code", "one-active-unit-per-village")],
        [("unit_id", "unique")],
        [("village_code", "exists")],
        [("village_code", "in-scope")],
        [("unit_id", "exists")],
        [("appointed_on", "not-before-formation")],
    ]
    assert await rows(db, units, "unit_id") == [("unit-0000000000000001",)]
    assert await rows(db, agents, "agent_id") == []
    assert [s.kind for s in await staged(db, platform.outbox)] == ["UnitFormed"]


async def test_a_suspended_unit_is_revived_and_a_stale_version_is_refused(
    db: AsyncEngine,
) -> None:
    await handle(db, [form_unit()])

    def change(to: UnitStatus, on: date, expected: int | None = None) -> ChangeUnitStatus:
        reason = UnitStatusReason.NO_ACTIVITY
        return ChangeUnitStatus("unit-0000000000000001", to, reason, on, expected_version=expected)

    done = await handle(
        db,
        [
            change(UnitStatus.SUSPENDED, date(2026, 1, 5), 1),
            change(UnitStatus.ACTIVE, date(2026, 2, 1), 1),  # now at 2
            change(UnitStatus.ACTIVE, date(2026, 2, 1)),
            change(UnitStatus.DISSOLVED, date(2027, 1, 1)),
        ],
    )

    assert answers(done) == [
        None,
        [(None, "current-version")],
        None,
        [("effective_on", "not-in-future")],
    ]
    assert await rows(db, units, "status", "status_since", "version") == [
        ("active", date(2026, 2, 1), 3)
    ]
    assert await rows(db, unit_status_changes, "effective_on", "from_status", "to_status") == [
        (date(2026, 1, 5), "active", "suspended"),
        (date(2026, 2, 1), "suspended", "active"),
    ]
    out = await staged(db, platform.outbox)
    assert [done[0].event_id, done[2].event_id] == [s.event_id for s in out[1:]]
    changed = [s.data for s in out]
    assert [
        (e.from_status, e.to_status) for e in changed if isinstance(e, events.UnitStatusChanged)
    ] == [
        ("active", "suspended"),
        ("suspended", "active"),
    ]


async def test_an_agent_is_trained_once_per_batch_and_a_deactivated_agent_no_more(
    db: AsyncEngine,
) -> None:
    await handle(db, [form_unit(), appoint_agent()])
    agent = "agent-000000000000001"

    def training(on: date, provider: str = "BNNP-74") -> RecordTraining:
        return RecordTraining(
            agent,
            Training("angkatan-2025-0001", TrainingKind.BASIC, on, provider, certificate=None),
        )

    done = await handle(
        db,
        [
            training(date(2025, 5, 1)),
            training(date(2025, 5, 1)),  # the same batch (angkatan) again
            RecordTraining(
                agent,
                Training(
                    "angkatan-2025-0002",
                    TrainingKind.ADVANCED,
                    date(2025, 6, 1),
                    "BNNK-74.99",
                    None,
                ),
            ),
            DeactivateAgent(agent, date(2025, 12, 1), AgentDeactivationReason.MOVED_AWAY),
            RecordTraining(
                agent,
                Training(
                    "angkatan-2025-0003", TrainingKind.REFRESHER, date(2026, 1, 1), "BNNP-74", None
                ),
            ),
        ],
    )

    assert answers(done) == [
        None,
        [("training_id", "unique")],
        [("provider", "exists")],
        None,
        [("agent_id", "agent-active")],
    ]
    assert await rows(db, agent_trainings, "training_id", "agent_id") == [
        ("angkatan-2025-0001", agent)
    ]
    assert await rows(db, agents, "active", "deactivated_on", "deactivation_reason") == [
        (False, date(2025, 12, 1), "moved_away")
    ]
    assert [s.kind for s in await staged(db, platform.outbox)][2:] == [
        "RecoveryAgentTrained",
        "RecoveryAgentDeactivated",
    ]


async def test_funding_is_recorded_once_per_id_and_not_before_the_unit_was_formed(
    db: AsyncEngine,
) -> None:
    await handle(db, [form_unit()])

    def funding(funding_id: str, year: int, amount: int = 5_000_000) -> RecordFunding:
        return RecordFunding(
            funding_id, "unit-0000000000000001", year, FundingSource.DANA_DESA, amount
        )

    done = await handle(
        db,
        [
            funding("dana-desa-2026-0001", 2026),
            funding("dana-desa-2026-0001", 2026),
            funding("dana-desa-2024-0001", 2024, -1),
        ],
    )

    assert answers(done) == [
        None,
        [("funding_id", "unique")],
        [("fiscal_year", "not-before-formation"), ("amount_idr", "non-negative")],
    ]
    assert await rows(db, unit_funding, "funding_id", "amount_idr") == [
        ("dana-desa-2026-0001", 5_000_000)
    ]
    out = await staged(db, platform.outbox)
    assert [(s.kind, s.key) for s in out][1:] == [("UnitFundingRecorded", "unit-0000000000000001")]


async def test_an_operator_acting_outside_their_region_is_forbidden_whatever_else_is_wrong(
    db: AsyncEngine,
) -> None:
    async with session_factory(db).begin() as tx:
        with pytest.raises(Forbidden):
            await handlers.execute(
                tx,
                OUTBOX,
                form_unit(village_code=SULSEL_VILLAGE, name=" "),
                scope=SULTRA,
                today=TODAY,
            )
    assert await rows(db, units, "unit_id") == []
    assert await staged(db, platform.outbox) == []
