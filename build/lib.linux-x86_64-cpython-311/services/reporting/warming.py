"""The tables readers open first, answered before a replica reports ready.

Right after a start every answer is made for the first time, and dashboards opening at once
ask for the same few dozen tables: a national count over a million screenings, then each
province by regency. Asked of a cold replica within the same second, they queued behind one
another for up to a second each, and the province tables came back pending (every figure
below province level withheld) until the background suppressor had made their cubes.

So a starting replica asks for them itself: once, which asks the suppressor for the cubes
they read (it makes asked cubes first); again once those are made, and keeps the answers.
Only then does `/health/ready` say ready, and a rollout sends readers to a replica that has
them: this year's units formed and clients screened for Indonesia by province and for every
province by regency (what the gateway's region overviews and the dashboard's first map ask).
Answers kept this way are made again, as any, once the read model moves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from services.reporting.api.indicators import ask_for, indicator_answer
from services.reporting.settings import Settings
from services.reporting.suppressed_cubes import store_of
from shared.heap import started as started_heap
from shared.regions import PROVINCE_CODES
from shared.runtime import DataRuntime

log = logging.getLogger(__name__)

FIRST_OPENED = ("clients_screened", "units_formed")
"""The indicators of the region overviews and of the dashboard's first map."""

CUBES_WAIT_SECONDS = 120.0
"""How long a starting replica waits for the cubes of its first tables before answering them
regardless (pending where a cube is still missing)."""


def first_asked() -> list[tuple[str, str, str]]:
    """(indicator, level, within) of the tables readers open first, Indonesia's first."""
    regions = [("province", ""), *(("regency", code) for code in PROVINCE_CODES)]
    return [(indicator, level, within) for level, within in regions for indicator in FIRST_OPENED]


async def warm_up(runtime: DataRuntime[Settings]) -> None:
    """Makes and keeps the answers of `first_asked`, one at a time (each is at most a count
    over a province's or the nation's rows; at once they would only queue)."""
    started = time.monotonic()
    store = store_of(runtime.engine)
    await _answer_first(runtime)  # asks the suppressor for their cubes
    asked = list(store.asked.values())
    if store.suppressing and asked:
        await asyncio.wait(asked, timeout=CUBES_WAIT_SECONDS)
    await _answer_first(runtime)  # from their cubes
    log.info("first tables answered in %.1f s", time.monotonic() - started)
    started_heap()  # the cubes and answers just made are kept: full collections skip them


async def _answer_first(runtime: DataRuntime[Settings]) -> None:
    year = str(datetime.now(UTC).year)
    for indicator, level, within in first_asked():
        ask = ask_for(runtime.settings, indicator, year, level, within, None)
        await indicator_answer(runtime.engine, ask)
