"""Requests never suppress: with a background suppressor running they read the last cube it
made, and the first request for a cube it has not made yet waits a bounded time, then gets
every figure withheld rather than suppressing on its own path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Cube, Leaf
from services.reporting.indicators import COUNTS
from services.reporting.periods import row_of
from services.reporting.suppressed_cubes import count_key, served, store_of
from services.reporting.suppressor import Suppressor
from shared.persistence import create_engine
from tests.eventually import eventually


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    made = create_engine("sqlite+aiosqlite://")
    try:
        yield made
    finally:
        await made.dispose()


KEY = count_key(COUNTS["admissions"], 1, 2025, "74", None, 5, 1)
VILLAGE = Cell("74.71.01.1001", "2025", TOTAL)


def suppressed(screened: int) -> Cube:
    """The village's year with `screened` clients, as the suppressor makes it."""
    leaf = Leaf(VILLAGE.region, "2025-03", TOTAL, screened, screened, None, None, "unit-1")
    return cube.kept(cube.apply_suppression(cube.build(2025, [leaf], [VILLAGE.region]), 5))


async def test_a_request_reads_the_last_cube_made_with_its_time(engine: AsyncEngine) -> None:
    store = store_of(engine)
    store.suppressing = True
    made = suppressed(7)
    made.as_of = datetime(2025, 6, 1, tzinfo=UTC)
    store.keep(KEY, made, {("74", 2025): 3})
    async with engine.connect() as connection:
        c = await served(connection, KEY)
    row = row_of(c, VILLAGE)
    assert (row.value, row.extra["suppressed_as_of"]) == (7, made.as_of)


async def test_a_first_request_waits_for_the_suppressor_never_suppresses_itself(
    engine: AsyncEngine,
) -> None:
    store = store_of(engine)
    store.suppressing, store.wait_seconds = True, 0.2
    async with engine.connect() as connection:  # an empty database: building would fail
        nothing_yet = await served(connection, KEY)
        assert row_of(nothing_yet, VILLAGE).withheld
        assert row_of(nothing_yet, VILLAGE).extra["suppressed_as_of"] is None
        assert KEY in store.asked  # the suppressor is asked for it

        store.wait_seconds = 5
        waiting = asyncio.create_task(served(connection, KEY))
        await asyncio.sleep(0)
        made = suppressed(9)
        store.keep(KEY, made, {})  # what the suppressor does when it has made it
        assert row_of(await waiting, VILLAGE).value == 9


async def test_cubes_are_made_ahead_again_for_a_rebuilt_generation(engine: AsyncEngine) -> None:
    suppressor = Suppressor(engine, k=5, min_units=1)
    versions = {("74", 0): 1, ("74", 2025): 3}
    assert suppressor._ahead(1, versions) == [("74", 2025)]
    first = suppressor._base_keys(1, "74", 2025)
    assert first and {key[2:5] for key in first} == {(1, 2025, "74")}
    assert suppressor._ahead(1, versions) == []  # made ahead once
    assert suppressor._ahead(2, versions) == [("74", 2025)]  # after a rebuild


async def test_the_least_recently_read_cubes_go_beyond_the_memory_budget(
    engine: AsyncEngine,
) -> None:
    store = store_of(engine)
    one = suppressed(7)
    store.budget = 2 * one.nbytes + one.nbytes // 2  # room for two
    keys = [count_key(COUNTS["admissions"], 1, 2025, p, None, 5, 1) for p in ("71", "72", "73")]
    store.keep(keys[0], suppressed(7), {})
    store.keep(keys[1], suppressed(8), {})
    assert store.get(keys[0]) is not None  # read again: the second is now the oldest
    store.keep(keys[2], suppressed(9), {})
    assert list(store.cubes) == [keys[0], keys[2]]
    assert store.nbytes == sum(c.nbytes for c in store.cubes.values()) <= store.budget


async def test_the_suppressor_rests_after_a_round_until_a_cube_is_asked_for(
    engine: AsyncEngine,
) -> None:
    """While events keep arriving it takes at most its share of a core: after a round of
    0.1 s at a share of 1 % it rests about 10 s, and a request for a cube not made yet ends the
    rest at once."""
    suppressor = Suppressor(engine, k=5, min_units=1, share=0.01, interval=0.01)
    rounds: list[float] = []

    async def once() -> int:
        rounds.append(time.monotonic())
        if len(rounds) == 1:
            await asyncio.sleep(0.1)
        return 0

    suppressor.once = once  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(suppressor.run(stop))
    try:
        await asyncio.sleep(0.6)
        assert len(rounds) == 1  # without the rest: a round every 0.01 s
        suppressor.store.wait_seconds = 0
        await suppressor.store.wait_for(KEY)  # a request asks, and is answered pending
        await eventually(lambda: len(rounds) >= 2, 5)
        assert rounds[1] - rounds[0] < 5
    finally:
        stop.set()
        await running
