"""The client-case use cases. Each loads what its rule needs, lets the domain decide, stores
the result and stages the canonical event in the outbox, in the caller's transaction.

`HANDLERS` maps each command (`services.client_case.commands`) to its use case; HTTP routes
and the drop-out policy only build commands and call `execute`. Provinces' facts come in
partitions' batches and go through the set-based table of `handlers.provincial`.

Privacy is enforced here: identity is encrypted before it is stored, events carry only the
pseudonymous `client_ref`, identity reads need a reason and are audited, and erasure destroys
the person's data key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case import commands as c
from services.client_case.domain.identity import Identity
from services.client_case.domain.pathway import RoutingPolicy
from services.client_case.handlers import cases, identity, referrals
from services.client_case.handlers.common import (
    Gone,
    Keys,
    NotFound,
    load_case,
    require_active_unit,
)
from services.client_case.handlers.identity import client_row, identity_audit, label_of
from shared.messaging.outbox import Outbox


@dataclass(frozen=True)
class Context:
    """What every use case runs with: the transaction, its outbox, the keys, the day, and the
    province's routing policy."""

    session: AsyncSession
    outbox: Outbox
    keys: Keys
    today: date
    routing: Callable[[str], RoutingPolicy]


Handler = Callable[[Context, Any], Awaitable[Any]]

HANDLERS: dict[type[c.Command], Handler] = {
    c.RegisterClient: lambda x, cmd: identity.handle_register_client(
        x.session,
        x.keys,
        unit_id=cmd.unit_id,
        identity=cmd.identity,
        age_band=cmd.age_band,
        sex=cmd.sex,
        today=x.today,
        by=cmd.by,
    ),
    c.ReadIdentity: lambda x, cmd: identity.handle_read_identity(
        x.session, x.keys, cmd.client_id, reader=cmd.by, reason=cmd.reason
    ),
    c.ChangeIdentity: lambda x, cmd: identity.handle_change_identity(
        x.session, x.keys, cmd.client_id, by=cmd.by, reason=cmd.reason, changes=cmd.changes
    ),
    c.EraseClient: lambda x, cmd: identity.handle_erase_client(
        x.session, x.outbox, cmd.client_id, today=x.today
    ),
    c.ScreenClient: lambda x, cmd: cases.handle_screen_client(
        x.session,
        x.outbox,
        client_id=cmd.client_id,
        unit_id=cmd.unit_id,
        answers=cmd.answers,
        agent_id=cmd.agent_id,
        programme=cmd.programme,
        screened_at=cmd.screened_at,
        routing=x.routing,
    ),
    c.Enrol: lambda x, cmd: cases.handle_enrol(
        x.session,
        x.outbox,
        cmd.case_id,
        route=cmd.route,
        source=cmd.source,
        on=cmd.on,
        today=x.today,
    ),
    c.ChangeStage: lambda x, cmd: cases.handle_change_stage(
        x.session, x.outbox, cmd.case_id, to=cmd.to, on=cmd.on, today=x.today
    ),
    c.Refer: lambda x, cmd: referrals.handle_refer(
        x.session,
        x.outbox,
        cmd.case_id,
        destination=cmd.destination,
        facility=cmd.facility,
        reason=cmd.reason,
        on=cmd.on,
        agent_id=cmd.agent_id,
        today=x.today,
    ),
    c.ResolveReferral: lambda x, cmd: referrals.handle_resolve_referral(
        x.session, x.outbox, cmd.referral_id, resolution=cmd.resolution, on=cmd.on, today=x.today
    ),
    c.CloseCase: lambda x, cmd: cases.handle_close(
        x.session,
        x.outbox,
        cmd.case_id,
        outcome=cmd.outcome,
        on=cmd.on,
        referral_id=cmd.referral_id,
        today=x.today,
        early=cmd.early,
    ),
    c.ReportRelapse: lambda x, cmd: cases.handle_report_relapse(
        x.session,
        x.outbox,
        cmd.case_id,
        substances=list(cmd.substances),
        source=cmd.source,
        on=cmd.on,
        agent_id=cmd.agent_id,
        today=x.today,
    ),
    c.TransferCase: lambda x, cmd: cases.handle_transfer(
        x.session, x.outbox, cmd.case_id, to_unit_id=cmd.to_unit_id, on=cmd.on, today=x.today
    ),
}


async def execute(ctx: Context, command: c.Command) -> Any:
    """Run one command in the context's transaction: its result, or its refusal raised."""
    return await HANDLERS[type(command)](ctx, command)


__all__ = [
    "HANDLERS",
    "Context",
    "Gone",
    "Identity",
    "Keys",
    "NotFound",
    "client_row",
    "execute",
    "identity_audit",
    "label_of",
    "load_case",
    "require_active_unit",
]
