"""Answers to indicator requests, kept while the read model stands still.

An indicator's answer depends only on what was asked (`figures.Ask` and the format) and on
the read model: its generation, how far it has projected (the sum of its positions, which
moves with every batch written) and, for tables read from suppressed cubes, those cubes of
that province (which the background suppressor replaces). While those
stand still, the same question gets the same bytes, so they are kept and served again rather
than queried and suppressed anew: many readers (dashboards, reporting consumers) ask for the
same national and provincial figures. Requests asking the same question at once share one
computation of it (a national table counts a million screenings). Access is checked on every
request before an answer is looked up; answers carry no caller.

The version is read from the database at most every `VERSION_SECONDS` per process (replicas
project different partitions, so only the database knows how far they all are): an answer
trails the read model by at most that, and requests in between touch no database at all.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from services.reporting.figures import Ask
from services.reporting.generations import serving_generation
from services.reporting.queries import cubes_read
from services.reporting.suppressed_cubes import store_of


@dataclass(frozen=True)
class Kept:
    body: bytes
    media_type: str | None
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers))


VERSION_SECONDS = 0.1
"""How long one read of the read model's version stands (at 200 requests/s reading it on
every request was a third of reporting's time)."""


@dataclass
class Answers:
    """The last answer to each question, with the read-model version it was made from; the
    least recently asked go first beyond `capacity`."""

    capacity: int = 1024
    kept: OrderedDict[Hashable, tuple[Hashable, Kept]] = field(default_factory=OrderedDict)
    _projected: tuple[float, tuple[int, int]] | None = None  # (read at, generation & reached)
    _making: dict[tuple[Hashable, Hashable], asyncio.Future[Response]] = field(default_factory=dict)
    _reading: asyncio.Future[tuple[float, tuple[int, int]]] | None = None
    """The read of the version under way: requests arriving meanwhile wait for it."""

    async def answer(
        self,
        engine: AsyncEngine,
        ask: Ask,
        question: Hashable,
        make: Callable[[], Awaitable[Response]],
    ) -> Response:
        """The kept answer to `question` (`ask` in some format) if the read model it was made
        from still stands, else `make`'s, made once for everyone asking it meanwhile."""
        version = await self.version(engine, ask)
        if (kept := self.get(question, version)) is not None:
            return kept
        making = self._making.get((question, version))
        if making is None:
            making = self._making[(question, version)] = asyncio.ensure_future(make())
            making.add_done_callback(lambda _: self._making.pop((question, version), None))
        response = await asyncio.shield(making)  # a caller gone does not cancel the others'
        self.keep(question, version, response)
        return self.get(question, version) or response

    async def version(self, engine: AsyncEngine, ask: Ask) -> Hashable:
        """What an answer to `ask` made now is made from: generation, projected positions and
        the version of the suppressed cubes it reads, if any."""
        now = time.monotonic()
        if self._projected is None or now - self._projected[0] >= VERSION_SECONDS:
            # One read for every request that finds the version old: right after a start at
            # national size, hundreds of requests read it at once, a sixth of reporting's time.
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(_projected(engine, now))
            self._projected = await asyncio.shield(self._reading)
        read = cubes_read(ask)
        cubes = 0 if read is None else store_of(engine).version_of(*read)
        return (*self._projected[1], cubes)

    def get(self, question: Hashable, version: Hashable) -> Response | None:
        found = self.kept.get(question)
        if found is None or found[0] != version:
            return None
        self.kept.move_to_end(question)
        return found[1].response()

    def keep(self, question: Hashable, version: Hashable, response: Response) -> None:
        skipped = {"content-length"}
        headers = tuple((k, v) for k, v in response.headers.items() if k not in skipped)
        self.kept[question] = (version, Kept(bytes(response.body), response.media_type, headers))
        self.kept.move_to_end(question)
        while len(self.kept) > self.capacity:
            self.kept.popitem(last=False)


async def _projected(engine: AsyncEngine, now: float) -> tuple[float, tuple[int, int]]:
    async with engine.connect() as connection:
        return now, await serving_generation(connection)


_ANSWERS: weakref.WeakKeyDictionary[Engine, Answers] = weakref.WeakKeyDictionary()


def answers_of(engine: AsyncEngine) -> Answers:
    """The kept answers of an engine (one per database a process serves), gone with it."""
    answers = _ANSWERS.get(engine.sync_engine)
    if answers is None:
        answers = _ANSWERS[engine.sync_engine] = Answers()
    return answers
