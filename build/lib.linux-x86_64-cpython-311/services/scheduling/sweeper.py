"""The clock-driven sweeper: sessions become due, overdue and missed as days pass in their
province, and each change to overdue or missed is published. `now` is passed in, so tests
drive the clock; the service runs `sweep_once` every `sweep_interval_seconds`.

Set-based: a sweep reads no session that keeps its state. Each state the clock gives is a
range of due dates (`windows`, the same rule as `domain.sweep`), so a sweep is one UPDATE per
state on the index of (state, due date), and rows are read back only for the sessions that
turned overdue or missed, to publish them: at national size millions of open sessions
stay where they are, and a minute's sweep changes the few whose day has come."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduling import records
from services.scheduling.db import cases, sessions, units
from services.scheduling.domain import SessionState
from services.scheduling.records import OPEN_STATES, SESSION_ROW
from shared.contracts import scheduling as events
from shared.contracts.base import EventData
from shared.contracts.types import SessionMissReason
from shared.messaging.outbox import Outbox
from shared.regions import PROVINCE_CODES, local_today
from shared.runtime import DataRuntime

log = logging.getLogger(__name__)

CHUNK = 2_000
"""Sessions turned overdue or missed (and published) in one transaction. A sweep after a long
pause — a service down over a weekend, a history delivered late — moves many at once."""

DUE_WEEK = timedelta(days=7)


def windows(today: date, grace_days: int) -> list[tuple[SessionState, date | None, date | None]]:
    """The state an open session is in `today`, by its due date: [from, until), either end
    open when None. The same rule as `domain.sweep`: missed `grace_days` after its due date,
    overdue after it, due in its week, planned before."""
    missed_before = today - timedelta(days=grace_days)
    return [
        (SessionState.MISSED, None, missed_before),
        (SessionState.OVERDUE, missed_before, today),
        (SessionState.DUE, today, today + DUE_WEEK),
        (SessionState.PLANNED, today + DUE_WEEK, None),
    ]


def days_of(now: datetime) -> dict[date, list[str]]:
    """The provinces by the date it is in them at `now`: one date most of the day, two while
    the east has passed midnight and the west has not (from 15:00 to 17:00 UTC)."""
    days: dict[date, list[str]] = defaultdict(list)
    for province in PROVINCE_CODES:
        days[local_today(now, province)].append(province)
    return days


async def sweep_once(
    sessions_factory: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    *,
    now: datetime,
    grace_days: int,
    drop_out_after: int,
    committed: Callable[[], None] | None = None,
) -> dict[SessionState, int]:
    """Move every open session to the state the province's local day gives it; publish the
    ones that became overdue or missed, and flag a case whose misses in a row reach
    `drop_out_after`. `committed` is called after each transaction that published some.
    Returns how many moved into each state."""
    moved: dict[SessionState, int] = defaultdict(int)
    days = days_of(now)
    for today, provinces in days.items():
        where: list[ColumnElement[bool]] = []
        if len(days) > 1:
            in_provinces = (
                select(cases.c.case_id)
                .join(units, units.c.unit_id == cases.c.unit_id)
                .where(units.c.province_code.in_(provinces))
            )
            where.append(sessions.c.case_id.in_(in_provinces))
        for state, since, until in windows(today, grace_days):
            # The other open states only, so the index is read from what may move.
            now_in = [*where, sessions.c.state.in_([s for s in OPEN_STATES if s != state])]
            if since is not None:
                now_in.append(sessions.c.due_on >= since)
            if until is not None:
                now_in.append(sessions.c.due_on < until)
            if state in (SessionState.DUE, SessionState.PLANNED):  # nothing to publish
                async with sessions_factory.begin() as session:
                    result = await session.execute(
                        update(sessions).where(*now_in).values(state=state.value)
                    )
                moved[state] += result.rowcount  # type: ignore[attr-defined]
                continue
            while True:
                async with sessions_factory.begin() as session:
                    count = await _publish_moved(
                        session, outbox, now_in, state, now, drop_out_after
                    )
                moved[state] += count
                if not count:  # (a chunk may come back short: a row an agent took meanwhile)
                    break
                if committed is not None:
                    committed()  # the relay publishes this chunk while the sweep goes on
    return {state: count for state, count in moved.items() if count}


async def _publish_moved(
    session: AsyncSession,
    outbox: Outbox,
    now_in: Sequence[ColumnElement[bool]],
    state: SessionState,
    now: datetime,
    drop_out_after: int,
) -> int:
    """Up to `CHUNK` sessions into `state` (overdue or missed), each published; a case a
    miss leaves with too many in a row is flagged. The UPDATE names the sessions it moved, so
    one that an agent recorded meanwhile is neither moved nor published."""
    some = (
        select(sessions.c.session_id)
        .join(cases, cases.c.case_id == sessions.c.case_id)
        .join(units, units.c.unit_id == cases.c.unit_id)  # (every one moved is published)
        .where(*now_in)
        .order_by(sessions.c.due_on, sessions.c.session_id)  # a case's misses in order
        .limit(CHUNK)
    )
    changed = list(
        (
            await session.execute(
                update(sessions)
                .where(sessions.c.session_id.in_(some), *now_in)
                .values(state=state.value)
                .returning(sessions.c.session_id)
            )
        ).scalars()
    )
    if not changed:
        return 0
    rows = (
        (
            await session.execute(
                SESSION_ROW.where(sessions.c.session_id.in_(changed)).order_by(
                    sessions.c.due_on, sessions.c.session_id
                )
            )
        )
        .mappings()
        .all()
    )
    await outbox.add_all(session, [_event(row, state, now) for row in rows])
    if state is SessionState.MISSED:
        await records.flag_at_risk(
            session,
            outbox,
            rows,
            today_of=lambda province: local_today(now, province),
            threshold=drop_out_after,
        )
    return len(changed)


def _event(row: Any, state: SessionState, now: datetime) -> EventData:
    common = {
        **records.session_scope(row),
        "week": row["week"],
        "session_type": row["session_type"],
        "due_on": row["due_on"],
    }
    if state is SessionState.OVERDUE:
        return events.SessionOverdue(**common, detected_at=now)
    return events.SessionMissed(
        **common,
        reason=SessionMissReason.OTHER,  # nobody recorded why
        reported_by_agent_id=row["agent_id"],
    )


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
            await sweep_once(
                runtime.sessions,
                runtime.outbox,
                now=clock(),
                grace_days=grace_days,
                drop_out_after=drop_out_after,
                committed=runtime.notify_committed,
            )
        except Exception:
            log.exception("sweep failed; trying again in %.0fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
