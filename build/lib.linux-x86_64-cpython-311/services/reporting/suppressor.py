"""The background suppression: suppressed cubes are made here, never on a request's path.

Each projected batch bumps, in its own transaction, the version of every (province, year) it
touched (`cube_changes`). This task polls those versions (and wakes when a request asks for a
cube nobody has made yet), and re-suppresses only the cubes whose province changed in their
year or an earlier one (a stock at a year's end, and closures crossed with their screening's
risk, reach back), at most once per `min_gap` seconds each, and rests after each round in
proportion to it, so that while events keep arriving it takes at most `share` of a core (the
rest is the projection's and the requests'): under load the cubes are a few rounds old
instead of a second. A request asking for a cube nobody has made yet ends the rest. Requests
read the last cube made, with its `as_of`. Every replica runs its own suppressor over the
shared read model: suppression is deterministic, so they serve the same pattern for the same
figures.

What is kept: every cube asked for since (within the store's memory budget, most recently
used), plus the base cubes of every count and stock of the provinces and years that have
facts, made ahead so that a first request finds them (newest years first, while the kept
cubes take less than half the budget).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import db
from services.reporting.cube import kept
from services.reporting.generations import serving_generation
from services.reporting.indicators import COUNTS, STOCKS
from services.reporting.suppressed_cubes import (
    CubeKey,
    CubeStore,
    build_cube,
    count_key,
    stock_key,
    store_of,
)
from shared.heap import give_back
from shared.persistence import refresh_statistics

log = logging.getLogger(__name__)

Versions = dict[tuple[str, int], int]

STATISTICS_EVERY_SECONDS = 300.0
"""How often the database's planner is told the tables' sizes again (`refresh_statistics`):
reading a province's leaves takes milliseconds with them, a scan of the whole table without."""


def relevant(versions: Versions, province: str, year: int) -> Versions:
    """The changes a province-year's cubes depend on: its year, earlier years, every year (0)."""
    return {(p, y): v for (p, y), v in versions.items() if p == province and y <= year}


class Suppressor:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        k: int,
        min_units: int,
        min_gap: float = 1.0,
        share: float = 1.0,
        interval: float = 0.5,
        wait_seconds: float = 10.0,
        budget: int = 96 * 2**20,
    ) -> None:
        self.engine = engine
        self.k = k
        self.min_units = min_units
        self.min_gap = min_gap
        self.share = share
        self.interval = interval
        self.store: CubeStore = store_of(engine)
        self.store.wait_seconds = wait_seconds
        self.store.budget = budget
        self._warmed: set[tuple[int, str, int]] = set()
        self.made = 0
        """Cubes suppressed so far (for tests and benchmarks)."""

    async def run(self, stop: asyncio.Event) -> None:
        self.store.wake = asyncio.Event()  # this event loop's
        self.store.suppressing = True
        try:
            statistics_due = 0.0
            while not stop.is_set():
                try:
                    if time.monotonic() >= statistics_due:  # the read model grows
                        await refresh_statistics(self.engine)
                        statistics_due = time.monotonic() + STATISTICS_EVERY_SECONDS
                    started = time.monotonic()
                    await self.once()
                    busy = time.monotonic() - started
                except Exception:
                    log.exception("background suppression failed; trying again")
                    await asyncio.sleep(1)
                    busy = 0.0
                rest = busy * (1 - self.share) / self.share
                await self._rest(max(self.interval, rest), stop)
                self.store.wake.clear()
        finally:
            self.store.suppressing = False
            for waiting in self.store.asked.values():
                waiting.cancel()
            self.store.asked.clear()

    async def _rest(self, seconds: float, stop: asyncio.Event) -> None:
        """Until `seconds` have passed, a request asks for a cube, or the service stops."""
        waits = [asyncio.ensure_future(e.wait()) for e in (self.store.wake, stop)]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def versions(self) -> tuple[int, Versions]:
        c = db.cube_changes.c
        async with self.engine.connect() as connection:
            generation, _ = await serving_generation(connection)
            found = await connection.execute(
                select(c.province_code, c.year, c.version).where(c.generation == generation)
            )
            return generation, {(p, int(y)): int(v) for p, y, v in found.all()}

    def _ahead(self, generation: int, versions: Versions) -> list[tuple[str, int]]:
        """Province-years with facts whose base cubes were not made ahead yet, newest first."""
        # A rebuild switched generations: the new one's cubes are made ahead again.
        self._warmed = {w for w in self._warmed if w[0] == generation}
        years = sorted({(y, p) for p, y in versions if y > 0}, reverse=True)
        return [(p, y) for y, p in years if (generation, p, y) not in self._warmed]

    def _base_keys(self, generation: int, province: str, year: int) -> list[CubeKey]:
        """The base cube of every client-derived count and every stock of a province-year."""
        self._warmed.add((generation, province, year))
        return [
            count_key(spec, generation, year, province, None, self.k, self.min_units)
            for spec in COUNTS.values()
            if spec.client_derived
        ] + [
            stock_key(stage, generation, year, province, self.k, self.min_units)
            for stage, _ in STOCKS.values()
        ]

    def _stale(self, generation: int, versions: Versions) -> list[CubeKey]:
        now = datetime.now(UTC)
        stale = []
        for key in list(self.store.cubes):
            if key[2] != generation:
                continue  # an old generation's: no request asks for it any more
            if relevant(versions, key[4], key[3]) == self.store.built_on.get(key):
                continue
            made = self.store.cubes[key].as_of
            if made is not None and (now - made).total_seconds() < self.min_gap:
                continue  # made a moment ago: the next round takes it
            stale.append(key)
        return stale

    async def once(self) -> int:
        """One round: cubes asked for, then stale ones, then ones made ahead. Returns how
        many were made."""
        generation, versions = await self.versions()
        queue = self._stale(generation, versions)
        ahead = self._ahead(generation, versions)
        made = 0
        while True:
            if self.store.asked:
                key = next(iter(self.store.asked))
            elif queue:
                key = queue.pop(0)
                if self.store.built_on.get(key) == relevant(versions, key[4], key[3]):
                    continue  # made meanwhile, for a request
            elif ahead and self.store.nbytes < self.store.budget // 2:
                queue = self._base_keys(generation, *ahead.pop(0))
                continue
            else:
                break
            started = time.perf_counter()
            async with self.engine.connect() as connection:
                built = kept(await build_cube(connection, key))
            self.store.keep(key, built, relevant(versions, key[4], key[3]))
            give_back()  # what making it took, before the next is made
            made += 1
            log.debug("suppressed %s in %.2fs", key, time.perf_counter() - started)
        self.made += made
        return made


async def settled(engine: AsyncEngine) -> bool:
    """Every kept cube of the serving generation is made from the figures as they are now,
    and no request waits for one (tests wait for this; requests never do)."""
    store = store_of(engine)
    if store.asked:
        return False
    c = db.cube_changes.c
    async with engine.connect() as connection:
        generation, _ = await serving_generation(connection)
        found = await connection.execute(
            select(c.province_code, c.year, c.version).where(c.generation == generation)
        )
        versions = {(p, int(y)): int(v) for p, y, v in found.all()}
    return all(
        relevant(versions, key[4], key[3]) == store.built_on.get(key)
        for key in store.cubes
        if key[2] == generation
    )
