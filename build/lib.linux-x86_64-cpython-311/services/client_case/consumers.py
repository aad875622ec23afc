"""What the client-case service consumes: the registry's units (so a screening is recorded only
in a unit that exists and is active) and agents (so screeners, referrers and reporters are
agents of the case's unit), scheduling's word on attendance, and provincial screenings on the
inbound topics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case import handlers
from services.client_case.commands import CloseCase
from services.client_case.db import cases, known_agents, known_units
from services.client_case.handlers import Keys, provincial
from services.client_case.settings import Settings
from shared.contracts import registry, scheduling
from shared.contracts.envelope import Envelope, Reason
from shared.contracts.types import ClosureOutcome
from shared.messaging.consumer import BatchHandler, Handler, runs_of
from shared.messaging.inbound.answers import Accepted, Answer, ApplyBatch, Refused, Submission
from shared.messaging.outbox import Outbox
from shared.persistence import insert_ignoring_duplicates, update_rows
from shared.regions import latest_today
from shared.rules import RuleViolations
from shared.runtime import DataRuntime
from shared.security.encryption import CannotDecrypt

CONSUMES = [registry.TOPIC, scheduling.TOPIC]


def canonical_facts(runtime: DataRuntime[Settings]) -> Handler:
    """Canonical facts from other services: the registry's units, and scheduling's word on
    clients who stop coming (the drop-out policy) or come back."""
    settings = runtime.settings
    outbox = runtime.outbox

    keys = Keys(settings.key_ring, settings.pseudonym_key_bytes)

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        """The facts that come one at a time; units and attendance: `canonical_batches`."""
        data = envelope.data
        if isinstance(data, registry.UnitStatusChanged):
            await session.execute(
                update(known_units)
                .where(known_units.c.unit_id == data.unit_id)
                .values(status=data.to_status)
            )
        elif isinstance(data, scheduling.CaseAtRiskOfDropOut):
            # scheduling flags on the province's own day, which may be ahead of UTC's
            today = latest_today(datetime.now(UTC))
            ctx = handlers.Context(session, outbox, keys, today, settings.routing_for)
            await _at_risk(ctx, data, settings.drop_out_policy)

    return handle


async def _at_risk(
    ctx: handlers.Context, data: scheduling.CaseAtRiskOfDropOut, policy: str
) -> None:
    """Flag the open case; under the `close` policy, close it as dropped out that day."""
    flagged = await ctx.session.execute(
        update(cases)
        .where(cases.c.case_id == data.case_id, cases.c.closed_on.is_(None))
        .values(at_risk_on=data.flagged_on)
    )
    if policy == "close" and flagged.rowcount == 1:  # type: ignore[attr-defined]
        await handlers.execute(
            ctx, CloseCase(data.case_id, ClosureOutcome.DROPPED_OUT, data.flagged_on)
        )


def canonical_batches(runtime: DataRuntime[Settings]) -> BatchHandler:
    """`canonical_facts` a partition's batch at once: the facts that come in bulk — units
    formed, agents appointed or deactivated, sessions attended — one statement per run; the
    rest one by one."""
    one_by_one = canonical_facts(runtime)

    async def handle(db: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        for run in runs_of(envelopes, registry.IN_BULK):
            facts: list[Any] = [e.data for e in run]
            if isinstance(facts[0], registry.UnitFormed):
                dialect = db.bind.dialect.name if db.bind else "sqlite"
                await db.execute(
                    insert_ignoring_duplicates(known_units, dialect),
                    [
                        {
                            "unit_id": f.unit_id,
                            "province_code": f.province_code,
                            "village_code": f.village_code,
                            "status": "active",
                        }
                        for f in facts
                    ],
                )
            elif isinstance(facts[0], registry.RecoveryAgentAppointed):
                dialect = db.bind.dialect.name if db.bind else "sqlite"
                await db.execute(
                    insert_ignoring_duplicates(known_agents, dialect),
                    [{"agent_id": f.agent_id, "unit_id": f.unit_id} for f in facts],
                )
            elif isinstance(facts[0], registry.RecoveryAgentDeactivated):
                await update_rows(
                    db,
                    known_agents.c.agent_id,
                    [{"agent_id": f.agent_id, "deactivated_on": f.deactivated_on} for f in facts],
                )
            elif isinstance(facts[0], scheduling.SessionCompleted):  # the client came back
                await db.execute(
                    update(cases)
                    .where(cases.c.case_id.in_({f.case_id for f in facts}))
                    .values(at_risk_on=None)
                )
            else:
                for envelope in run:
                    await one_by_one(db, envelope)

    return handle


def inbound_facts(runtime: DataRuntime[Settings]) -> ApplyBatch:
    """Provincial screenings on `ibm.inbound.<province>`: identity opened from its sealed box,
    the client found or registered, the answers scored with this service's rule set; the
    canonical `ClientScreened` and the receipt go out together. Enrolments and closures follow
    their screening by the province's submission id. A partition's batch at once
    (`handlers.provincial`)."""
    settings = runtime.settings
    keys = Keys(settings.key_ring, settings.pseudonym_key_bytes)
    private_key = settings.identity_private_key.get_secret_value()

    async def apply(db: AsyncSession, outbox: Outbox, subs: Sequence[Submission]) -> list[Answer]:
        batch = [provincial.Submitted(s.province, cast(provincial.Fact, s.data)) for s in subs]
        done = await provincial.handle(db, outbox, batch, keys, private_key)
        return [
            Refused(_explain(d.error) or [])
            if d.error
            else Accepted(d.event_id or "", created=d.created)
            for d in done
        ]

    return apply


def _explain(exc: Exception) -> list[Reason] | None:
    if isinstance(exc, RuleViolations):
        return [Reason(v.field, v.rule, v.message) for v in exc.violations]
    if isinstance(exc, CannotDecrypt | provincial.SealedWrongly):
        return [
            Reason(
                "identity_sealed",
                "sealed-to-client-case",
                "the identity block is not sealed to client-case's public key",
            )
        ]
    if isinstance(exc, handlers.NotFound):
        return [Reason(None, "exists", str(exc))]
    return None
