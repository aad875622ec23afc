"""Kept answers (services/reporting/answers.py): made once for everyone asking at once, and
thrown away only when what they were made from moves."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from services.reporting import answers as answers_module
from services.reporting import suppressed_cubes
from services.reporting.answers import Answers
from services.reporting.cube import Cube
from services.reporting.db import MIGRATIONS
from services.reporting.figures import Ask, Period
from tests.unit.conftest import Migrated


def _ask(level: str, within: str, indicator: str = "clients_screened") -> Ask:
    return Ask(indicator, Period.parse("2026"), level, within, None, k=5)


async def test_requests_asking_at_once_share_one_computation(migrated: Migrated) -> None:
    engine = migrated("reporting", MIGRATIONS)
    answers, made = Answers(), []
    release = asyncio.Event()

    async def make() -> Response:
        made.append(1)
        await release.wait()
        return Response(b"42", media_type="text/plain")

    ask = _ask("province", "")
    waiting = [
        asyncio.create_task(answers.answer(engine, ask, (ask, "json"), make)) for _ in range(5)
    ]
    await asyncio.sleep(0.05)
    release.set()
    bodies = [r.body for r in await asyncio.gather(*waiting)]
    assert bodies == [b"42"] * 5 and len(made) == 1
    again = await answers.answer(engine, ask, (ask, "json"), make)
    assert again.body == b"42" and len(made) == 1  # kept


async def test_requests_finding_the_version_old_read_it_once(
    migrated: Migrated, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrated("reporting", MIGRATIONS)
    answers, reads = Answers(), []
    real = answers_module.serving_generation

    async def counted(connection: AsyncConnection) -> tuple[int, int]:
        reads.append(1)
        return await real(connection)

    monkeypatch.setattr(answers_module, "serving_generation", counted)
    asks = [_ask("regency", p) for p in ("11", "31", "74")] * 20
    found = await asyncio.gather(*(answers.version(engine, a) for a in asks))
    assert len(reads) == 1 and len({v[:2] for v in found}) == 1
    answers._projected = None  # old again: read again, once
    await asyncio.gather(*(answers.version(engine, a) for a in asks))
    assert len(reads) == 2


async def test_a_cube_made_in_one_province_keeps_other_answers(migrated: Migrated) -> None:
    engine = migrated("reporting", MIGRATIONS)
    answers, store = Answers(), suppressed_cubes.store_of(engine)
    national, in_74, in_31 = _ask("province", ""), _ask("regency", "74"), _ask("regency", "31")
    before = {a: await answers.version(engine, a) for a in (national, in_74, in_31)}
    key = ("count", "clients_screened", 1, 2026, "74", None, 5, 1)
    store.keep(key, Cube(2026, (), False), {})
    after = {a: await answers.version(engine, a) for a in (national, in_74, in_31)}
    assert after[national] == before[national]  # national counts read no cube
    assert after[in_31] == before[in_31]
    assert after[in_74] != before[in_74]  # its province's cube moved
    stock = ("stock", "in_services", 1, 2026, "74", None, 5, 1)
    store.keep(stock, Cube(2026, (), False), {})  # another cube of 74's: not read by it
    assert await answers.version(engine, in_74) == after[in_74]
    # Let go of (beyond the store's capacity) and made again from the same data: no change.
    store.cubes.clear()
    store.keep(key, Cube(2026, (), False), {})
    assert await answers.version(engine, in_74) == after[in_74]
    store.keep(key, Cube(2026, (), False), {("74", 2026): 2})  # from newer data
    newer = await answers.version(engine, in_74)
    assert newer != after[in_74]
    # A request that waited in vain (answered with every figure withheld) is not kept past
    # the cube it waited for, though that cube's data did not move.
    store.cubes.clear()
    store.wait_seconds = 0.01
    withheld = await store.wait_for(key)
    assert withheld.everything_withheld
    store.keep(key, Cube(2026, (), False), {("74", 2026): 2})
    assert await answers.version(engine, in_74) != newer
