"""The registry's use cases, set-based. A batch of commands — one from an HTTP request, or a
partition's worth from a province — is handled in three steps:

1. `Batch.load`: everything the rules need, one query per kind of reference (agents, units,
   villages, offices, active units per village, used ids);
2. each command in order against that in-memory state: the domain decides, and an accepted
   command changes the state the next one sees (a unit formed, then its agent appointed);
3. `Batch.write`: one statement per table, and every canonical event in one outbox insert.

`HANDLERS` maps each command type to its use case; the API and the inbound consumer both go
through `handle`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import domain
from services.registry.commands import (
    AppointAgent,
    ChangeUnitStatus,
    Command,
    DeactivateAgent,
    FormUnit,
    RecordFunding,
    RecordTraining,
)
from services.registry.domain import Agent, AlreadyRecorded, NotFound, Scope, Unit
from services.registry.handlers.agents import (
    appoint_agent,
    deactivate_agent,
    display_name,
    record_training,
)
from services.registry.handlers.batch import Batch, Done, Order
from services.registry.handlers.loading import load_agent, load_unit
from services.registry.handlers.units import change_unit_status, form_unit, record_funding
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations
from shared.security.encryption import KeyRing
from shared.security.roles import Forbidden

UseCase = Callable[[Batch, int, Any, Scope], Unit | Agent]

HANDLERS: dict[type[Command], UseCase] = {
    FormUnit: form_unit,
    ChangeUnitStatus: change_unit_status,
    RecordFunding: record_funding,
    AppointAgent: appoint_agent,
    RecordTraining: record_training,
    DeactivateAgent: deactivate_agent,
}

REFUSALS = (RuleViolations, NotFound, AlreadyRecorded, domain.Conflict)


async def handle(
    db: AsyncSession,
    outbox: Outbox,
    orders: Sequence[Order],
    *,
    today: date,
    ring: KeyRing | None = None,
) -> list[Done]:
    """Apply a batch of orders in order; a refused one changes nothing and the rest go on."""
    batch = await Batch.load(db, [o.command for o in orders], today)
    batch.ring = ring
    done: list[Done] = []
    for index, order in enumerate(orders):
        # A refusal raises before the use case touches the batch's state.
        try:
            done.append(
                Done(HANDLERS[type(order.command)](batch, index, order.command, order.scope))
            )
        except REFUSALS as exc:
            done.append(Done(error=exc))
    await batch.write(db, outbox, done)
    return done


async def execute(
    db: AsyncSession,
    outbox: Outbox,
    command: Command,
    *,
    scope: Scope,
    today: date,
    ring: KeyRing | None = None,
) -> Unit | Agent:
    """One command (an HTTP request): its result, or its refusal raised. Acting outside the
    caller's region is refused as such (403), whatever else is wrong, as in every service."""
    [done] = await handle(db, outbox, [Order(command, scope)], today=today, ring=ring)
    if isinstance(done.error, RuleViolations):
        outside = [v for v in done.error.violations if v.rule == "in-scope"]
        if outside:
            raise Forbidden(outside[0].message)
    if done.error is not None:
        raise done.error
    assert done.result is not None
    return done.result


__all__ = [
    "HANDLERS",
    "REFUSALS",
    "Batch",
    "Done",
    "Order",
    "UseCase",
    "display_name",
    "execute",
    "handle",
    "load_agent",
    "load_unit",
]
