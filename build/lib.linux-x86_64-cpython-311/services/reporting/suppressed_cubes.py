"""The suppressed cubes of the client-derived counts, one per count, province and year, kept
until the read model moves on. Every figure below province level that comes from clients is
cut from one of them: the counts' tables and series, and the counts that medians and rates
carry (admissions for the median days to intake; referrals and those attended for the
referral completion rate), so no table can be subtracted from another.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import cube, db
from services.reporting.cube import Cube, Leaf
from services.reporting.indicators import (
    COUNTS,
    Breakdown,
    Count,
    count_leaves,
    inside,
    lineage,
    month_of,
    read_leaves,
    stock_leaves,
    unit_villages,
)

ATTENDED, NOT_ATTENDED = "attended", "not_attended"
"""Referrals the client attended and the rest (declined, no-show, not yet resolved): the
parts of a referrals cell that the completion rate carries."""


async def attendance_leaves(
    connection: AsyncConnection, generation: int, year: int, within: str
) -> list[Leaf]:
    """A year of referrals by village, month and whether the client attended."""
    r = db.referrals.c
    # Constants inline, so PostgreSQL sees the same expression in SELECT and GROUP BY.
    part = case(
        (r.resolution == literal_column(f"'{ATTENDED}'"), literal_column(f"'{ATTENDED}'")),
        else_=literal_column(f"'{NOT_ATTENDED}'"),
    )
    month = month_of(r.referred_on, connection.dialect.name)
    query = select(
        r.village_code, month, part, func.count(), *lineage(db.referrals), r.unit_id
    ).where(r.generation == generation, r.referred_on.between(date(year, 1, 1), date(year, 12, 31)))
    if within:
        query = query.where(inside(r.village_code, within))
    return await read_leaves(connection, query.group_by(r.village_code, r.unit_id, month, part))


COMPANIONS: dict[
    str, tuple[tuple[str, ...], Callable[[AsyncConnection, int, int, str], Awaitable[list[Leaf]]]]
] = {"referrals": ((ATTENDED, NOT_ATTENDED), attendance_leaves)}
"""Breakdowns that indicators other than the count itself publish (the completion rate's
attended referrals): suppressed together with the count's main breakdown."""


CubeKey = tuple[str, str, int, int, str, str | None, int, int]
"""("count", count, generation, year, province, breakdown, k, min_units), or ("stock", stage,
…, None, k, min_units): everything needed to build the cube again."""


def count_key(
    spec: Count, generation: int, year: int, province: str, by: str | None, k: int, min_units: int
) -> CubeKey:
    """The key of a count's cube. Its totals' breakdown, the breakdowns that refine it and no
    breakdown share one cube (the base); each other breakdown has its own."""
    main = next((name for name, b in spec.breakdowns.items() if b.additive), None)
    if by is not None and (by == main or spec.breakdowns[by].refines is not None):
        by = None
    return ("count", spec.name, generation, year, province, by, k, min_units)


def stock_key(
    stage: str, generation: int, year: int, province: str, k: int, min_units: int
) -> CubeKey:
    return ("stock", stage, generation, year, province, None, k, min_units)


async def suppressed_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
    k: int,
    max_age: float = 0.0,
    min_units: int = 1,
) -> Cube:
    """The province's year of a client-derived count, suppressed. Totals are suppressed
    together with the count's first breakdown that adds up to them, with the breakdowns that
    refine it (closures by outcome and risk level) and with its companion (the breakdown a
    rate carries), so a reader holding all those tables cannot combine them;
    any other breakdown keeps that pattern for its totals. Served as last suppressed by the
    background (`suppressor.py`, with its `as_of`); `max_age` is the suppressor's business."""
    return await served(connection, count_key(spec, generation, year, province, by, k, min_units))


async def served(connection: AsyncConnection, key: CubeKey) -> Cube:
    """The last suppressed cube of `key`. With a suppressor running for this database, a
    request never suppresses: it reads the kept cube, or, the first time a cube is asked for,
    waits a bounded time for the suppressor to make it, and otherwise answers with every cell
    below province level withheld (`as_of` None). Without one (the CLI, tools), it suppresses
    here and keeps the cube."""
    store = store_of(connection.engine)
    kept = store.get(key)
    if kept is not None:
        return kept
    if store.suppressing:
        return await store.wait_for(key)
    built = cube.kept(await build_cube(connection, key))
    store.keep(key, built, {})
    return built


async def build_cube(connection: AsyncConnection, key: CubeKey) -> Cube:
    """Read what `key`'s cube is made of, then suppress it in a worker thread (the event loop
    keeps answering requests meanwhile). With its relations: `cube.kept` lets go of them."""
    as_of = datetime.now(UTC)
    kind, name, generation, year, province, by, k, min_units = key
    if kind == "stock":
        villages = await unit_villages(connection, generation, province)
        leaves = await stock_leaves(connection, generation, year, province, name)

        def suppress() -> Cube:
            with paused_gc():
                built = cube.build(year, leaves, villages, flow=False)
                return cube.apply_suppression(built, k, min_units=min_units)

        built = await asyncio.to_thread(suppress)
    else:
        inputs = await _count_inputs(connection, COUNTS[name], generation, year, province, by)
        built = await asyncio.to_thread(_suppress_count, inputs, k, min_units)
    built.as_of = as_of
    return built


class CubeStore:
    """The suppressed cubes of one database, kept for requests within a memory budget, most
    recently used last."""

    def __init__(self, budget: int = 96 * 2**20) -> None:
        self.budget = budget
        """Bytes the kept cubes may take; the least recently used go beyond it."""
        self.nbytes = 0
        self.cubes: OrderedDict[CubeKey, Cube] = OrderedDict()
        self.built_on: dict[CubeKey, dict[tuple[str, int], int]] = {}
        """The change versions each cube was built on (`cube_changes`)."""
        self.suppressing = False
        """A background suppressor keeps these cubes."""
        self.asked: dict[CubeKey, asyncio.Future[Cube]] = {}
        """Cubes requests are waiting for."""
        self.wake = asyncio.Event()
        self.wait_seconds = 10.0
        self.version = 0
        """Counts the cubes kept from new data (a key kept for the first time, or built on
        newer `cube_changes` than before): an answer made from older ones is not served again.
        A cube made again from the same data after it was let go of changes nothing."""
        self.versions: dict[tuple[str | None, str], int] = {}
        """(count or stage, province), and (None, province) for any of its cubes: `version`
        when one of those cubes was last kept from new data."""
        self._built_before: dict[CubeKey, dict[tuple[str, int], int]] = {}

    def version_of(self, name: str | None, province: str) -> int:
        """The version of a province's cubes of a count or stage (None: of any), '' for
        Indonesia: every province's."""
        return self.versions.get((name, province), 0) if province else self.version

    def get(self, key: CubeKey) -> Cube | None:
        found = self.cubes.get(key)
        if found is not None:
            self.cubes.move_to_end(key)
        return found

    def keep(self, key: CubeKey, built: Cube, versions: dict[tuple[str, int], int]) -> None:
        waiting = self.asked.pop(key, None)
        # A request that waited for this cube may have been answered without it (every
        # figure withheld): that answer goes too, whatever the data.
        if waiting is not None or self._built_before.get(key) != versions:
            self._built_before[key] = versions
            self.version += 1
            self.versions[(key[1], key[4])] = self.versions[(None, key[4])] = self.version
        replaced = self.cubes.pop(key, None)
        self.nbytes += built.nbytes - (0 if replaced is None else replaced.nbytes)
        self.cubes[key] = built
        self.built_on[key] = versions
        if waiting is not None and not waiting.done():
            waiting.set_result(built)
        while self.nbytes > self.budget and len(self.cubes) > 1:
            old, gone = self.cubes.popitem(last=False)
            self.nbytes -= gone.nbytes
            self.built_on.pop(old, None)

    async def wait_for(self, key: CubeKey) -> Cube:
        waiting = self.asked.get(key)
        if waiting is None:
            waiting = self.asked[key] = asyncio.get_running_loop().create_future()
            self.wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.wait_seconds)
        except TimeoutError:
            return Cube(key[3], (), False, everything_withheld=True)


_STORES: weakref.WeakKeyDictionary[Engine, CubeStore] = weakref.WeakKeyDictionary()


def store_of(engine: AsyncEngine) -> CubeStore:
    """The cube store of an engine (one per database a process serves), gone with it."""
    store = _STORES.get(engine.sync_engine)
    if store is None:
        store = _STORES[engine.sync_engine] = CubeStore()
    return store


@dataclass
class CountInputs:
    """What a count's cube is made of, read from the read model (no I/O after this)."""

    year: int
    villages: list[str]
    main: str | None
    main_leaves: list[Leaf]
    companion: tuple[tuple[str, ...], list[Leaf]] | None
    refinements: list[tuple[tuple[str, ...], list[Leaf]]]
    other: tuple[Breakdown, list[Leaf], list[Leaf]] | None
    """A breakdown with its own cube: its leaves and the totals' leaves."""
    parts: tuple[str, ...]


async def _count_inputs(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    year: int,
    province: str,
    by: str | None,
) -> CountInputs:
    villages = await unit_villages(connection, generation, province)
    main = next((name for name, b in spec.breakdowns.items() if b.additive), None)
    leaves = await count_leaves(connection, spec, generation, year, province, main)
    companion = None
    if spec.name in COMPANIONS:
        parts, companion_leaves = COMPANIONS[spec.name]
        companion = (parts, await companion_leaves(connection, generation, year, province))
    refinements = []
    for name, crossed in spec.breakdowns.items():
        if crossed.refines is not None:
            assert crossed.refines == main, "a crossed breakdown refines the main one"
            fine = await count_leaves(connection, spec, generation, year, province, name)
            refinements.append((crossed.values, fine))
    other = None
    if not (by is None or by == main or spec.breakdowns[by].refines is not None):
        totals = await count_leaves(connection, spec, generation, year, province, None)
        own = await count_leaves(connection, spec, generation, year, province, by)
        other = (spec.breakdowns[by], own, totals)
    parts = spec.breakdowns[main].values if main else ()
    return CountInputs(year, villages, main, leaves, companion, refinements, other, parts)


_GC_PAUSES = 0
_GC_LOCK = threading.Lock()


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a cube is built and suppressed: it makes
    hundreds of thousands of objects, none of them in cycles, and the collector's passes
    over them took more than half of building a province-year at national size."""
    global _GC_PAUSES
    with _GC_LOCK:
        _GC_PAUSES += 1
        if _GC_PAUSES == 1:
            gc.disable()
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0:
                gc.enable()


def _suppress_count(inputs: CountInputs, k: int, min_units: int) -> Cube:
    """The suppression itself: CPU only."""
    with paused_gc():
        return _suppressed_count(inputs, k, min_units)


def _suppressed_count(inputs: CountInputs, k: int, min_units: int) -> Cube:
    year, villages = inputs.year, inputs.villages
    built = cube.build(year, inputs.main_leaves, villages, parts=inputs.parts)
    if inputs.companion is not None:
        parts, leaves = inputs.companion
        built = cube.merge(built, cube.build(year, leaves, villages, parts=parts))
    for parts, fine in inputs.refinements:
        built = cube.refine(built, cube.build(year, fine, villages, parts=parts))
    base = cube.apply_suppression(built, k, min_units=min_units)
    if inputs.other is None:
        return base
    breakdown, own, totals = inputs.other
    return cube.apply_suppression(
        cube.build(
            year,
            own,
            villages,
            parts=breakdown.values,
            additive=breakdown.additive,
            totals=totals,
        ),
        k,
        totals=base,
        min_units=min_units,
    )
