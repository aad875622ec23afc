"""The clock-driven sweeper: sessions become due, overdue and missed as days pass in their
province, and each change to overdue or missed is published. `now` is passed in, so tests
drive the clock; the service runs `sweep_once` every `sweep_interval_seconds`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduling import domain, records
from services.scheduling.db import sessions
from services.scheduling.domain import SessionState
from services.scheduling.records import OPEN_STATES, SESSION_ROW
from shared.contracts import scheduling as events
from shared.contracts.types import SessionMissReason
from shared.messaging.outbox import Outbox
from shared.regions import local_today
from shared.runtime import DataRuntime

log = logging.getLogger(__name__)


async def sweep_once(
    sessions_factory: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: datetime,
    grace_days: int,
    drop_out_after: int,
) -> dict[SessionState, int]:
    """Move every open session to the state the province's local day gives it; publish the
    ones that became overdue or missed, and flag a case whose misses in a row reach
    `drop_out_after`. Returns how many moved into each state."""
    moved: dict[SessionState, int] = {}
    async with sessions_factory.begin() as session:
        rows = (
            (
                await session.execute(
                    SESSION_ROW.where(sessions.c.state.in_(OPEN_STATES)).order_by(sessions.c.due_on)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            current = domain.session_of(row)
            today = local_today(now, row["province_code"])
            after = domain.sweep(current, today, grace_days=grace_days)
            if after.state is current.state:
                continue
            moved[after.state] = moved.get(after.state, 0) + 1
            await session.execute(
                update(sessions)
                .where(sessions.c.session_id == current.session_id)
                .values(state=after.state)
            )
            common = {
                **records.session_scope(row),
                "week": current.week,
                "session_type": current.session_type,
                "due_on": current.due_on,
            }
            if after.state is SessionState.OVERDUE:
                await outbox.add(session, events.SessionOverdue(**common, detected_at=now))
            elif after.state is SessionState.MISSED:
                await outbox.add(
                    session,
                    events.SessionMissed(
                        **common,
                        reason=SessionMissReason.OTHER,  # nobody recorded why
                        reported_by_agent_id=current.agent_id,
                    ),
                )
                await session.flush()
                await records.flag_if_at_risk(
                    session, outbox, row, today=today, threshold=drop_out_after
                )
    return moved


async def run(
    runtime: DataRuntime[Any],
    stop: asyncio.Event,
    *,
    interval: float,
    grace_days: int,
    drop_out_after: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    while not stop.is_set():
        try:
            moved = await sweep_once(
                runtime.sessions,
                runtime.outbox,
                now=clock(),
                grace_days=grace_days,
                drop_out_after=drop_out_after,
            )
            if moved:
                runtime.notify_committed()
        except Exception:
            log.exception("sweep failed; trying again in %.0fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
