"""An agent's work on one session or case — a miss, a move, a close, a re-plan — as commands
(`commands.AgentCommand`) with one handler table, `HANDLERS`; the HTTP routes only build the
command and call `execute`. Each use case is in `records.py`; attendance and activities, which
provinces send in batches, have their set-based table in `batches.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, records
from services.scheduling.commands import AgentCommand, CloseMissed, RecordMiss, Replan, Reschedule
from services.scheduling.domain import SessionState
from services.scheduling.settings import Settings
from shared.messaging.outbox import Outbox
from shared.regions import local_today
from shared.security.roles import Forbidden


@dataclass(frozen=True)
class Context:
    db: AsyncSession
    outbox: Outbox
    settings: Settings


def today_of(row: RowMapping) -> date:
    """The province's own day (WIB, WITA, WIT)."""
    return local_today(datetime.now(UTC), row["province_code"])


def _agents_only(units: Collection[str]) -> None:
    if not units:
        raise Forbidden("only a unit's agents work its sessions and plans")


async def session_of(db: AsyncSession, session_id: str, units: Collection[str]) -> RowMapping:
    """The session, for an agent of its case's unit. Only agents work sessions (others: 403);
    an agent of another unit is told it does not exist (a session is a record about a person:
    its existence is not disclosed)."""
    _agents_only(units)
    row = await records.session_row(db, session_id)
    if row["unit_id"] not in units:
        raise records.NotFound(f"no session {session_id} among your unit's")
    return row


async def record_miss(ctx: Context, cmd: RecordMiss) -> SessionState:
    row = await session_of(ctx.db, cmd.session_id, cmd.units)
    await records.miss_session(
        ctx.db,
        ctx.outbox,
        row,
        reason=cmd.reason,
        agent_id=cmd.agent_id,
        today=today_of(row),
        drop_out_after=ctx.settings.drop_out_after_misses,
    )
    return SessionState.MISSED


async def reschedule(ctx: Context, cmd: Reschedule) -> SessionState:
    row = await session_of(ctx.db, cmd.session_id, cmd.units)
    return await records.reschedule_session(
        ctx.db,
        ctx.outbox,
        row,
        to_due_on=cmd.due_on,
        reason=cmd.reason,
        agent_id=cmd.agent_id,
        today=today_of(row),
        grace_days=ctx.settings.missed_after_days,
    )


async def close_missed(ctx: Context, cmd: CloseMissed) -> date:
    row = await session_of(ctx.db, cmd.session_id, cmd.units)
    today = today_of(row)
    await records.close_missed_session(ctx.db, row, agent_id=cmd.agent_id, today=today)
    return today


async def replan(ctx: Context, cmd: Replan) -> list[domain.Session]:
    _agents_only(cmd.units)
    case = await records.case_row(ctx.db, cmd.case_id)
    if case["unit_id"] not in cmd.units:  # a case's existence is not disclosed
        raise records.NotFound(f"no case {cmd.case_id}")
    return await records.replan_case(
        ctx.db,
        ctx.outbox,
        case,
        starts_on=cmd.starts_on,
        reason=cmd.reason,
        agent_id=cmd.agent_id,
        today=today_of(case),
        rotate=case["unit_id"] in ctx.settings.rotating_units,
    )


HANDLERS: dict[type[AgentCommand], Callable[[Context, Any], Awaitable[Any]]] = {
    RecordMiss: record_miss,
    Reschedule: reschedule,
    CloseMissed: close_missed,
    Replan: replan,
}


async def execute(ctx: Context, command: AgentCommand) -> Any:
    """Run one command in the context's transaction: its result, or its refusal raised."""
    return await HANDLERS[type(command)](ctx, command)
