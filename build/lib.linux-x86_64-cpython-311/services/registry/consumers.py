"""Facts provincial systems publish on their inbound topics (`ibm.inbound.<province>`).

The registry takes the registry's event types: each becomes the command an operator of that
province would give over HTTP, and a partition's batch goes through `handlers.handle` at once.
Each is answered on the province's receipts topic: `EventAccepted` naming the canonical event
it became, or `EventRejected` naming every broken rule. The registry also answers every other
message on an inbound topic (`shared.contracts.inbound`), so nothing goes unanswered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import handlers
from services.registry.commands import (
    AppointAgent,
    ChangeUnitStatus,
    Command,
    DeactivateAgent,
    FormUnit,
    RecordFunding,
    RecordTraining,
)
from services.registry.domain import AlreadyRecorded, Conflict, Decree, NotFound, Scope, Training
from services.registry.settings import Settings
from shared.contracts import registry as events
from shared.contracts.base import EventData
from shared.contracts.envelope import Reason
from shared.messaging.inbound.answers import (
    Accepted,
    Answer,
    ApplyBatch,
    Refused,
    Submission,
    rule_reasons,
)
from shared.messaging.outbox import Outbox
from shared.runtime import DataRuntime

NOT_REPORTED = "not_reported"  # a province's facts carry no signatory


def _form(e: events.UnitFormed) -> FormUnit:
    return FormUnit(
        unit_id=e.unit_id,
        village_code=e.village_code,
        name=e.unit_name,
        decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
        formed_on=e.formed_on,
        formation=e.formation,
        facilitating_office=e.facilitating_office,
    )


def _status(e: events.UnitStatusChanged) -> ChangeUnitStatus:
    return ChangeUnitStatus(
        unit_id=e.unit_id, to_status=e.to_status, reason=e.reason, effective_on=e.effective_on
    )


def _funding(e: events.UnitFundingRecorded) -> RecordFunding:
    return RecordFunding(
        funding_id=e.funding_id,
        unit_id=e.unit_id,
        fiscal_year=e.fiscal_year,
        source=e.source,
        amount_idr=e.amount_idr,
    )


def _appoint(e: events.RecoveryAgentAppointed) -> AppointAgent:
    return AppointAgent(
        agent_id=e.agent_id,
        unit_id=e.unit_id,
        role=e.role,
        decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
        appointed_on=e.appointed_on,
    )


def _train(e: events.RecoveryAgentTrained) -> RecordTraining:
    return RecordTraining(
        e.agent_id,
        Training(
            training_id=e.training_id,
            kind=e.training_kind,
            completed_on=e.completed_on,
            provider=e.trainer_office,
            certificate=None,
        ),
    )


def _deactivate(e: events.RecoveryAgentDeactivated) -> DeactivateAgent:
    return DeactivateAgent(e.agent_id, on=e.deactivated_on, reason=e.reason)


COMMANDS: dict[type[EventData], Callable[[Any], Command]] = {
    events.UnitFormed: _form,
    events.UnitStatusChanged: _status,
    events.UnitFundingRecorded: _funding,
    events.RecoveryAgentAppointed: _appoint,
    events.RecoveryAgentTrained: _train,
    events.RecoveryAgentDeactivated: _deactivate,
}
"""Each inbound type as the command it is."""


def inbound_facts(_runtime: DataRuntime[Settings]) -> ApplyBatch:
    scopes: dict[str, Scope] = {}  # a province speaks for its own regions

    async def apply(db: AsyncSession, outbox: Outbox, subs: Sequence[Submission]) -> list[Answer]:
        orders = [
            handlers.Order(
                COMMANDS[type(s.data)](s.data),
                scopes.get(s.province)
                or scopes.setdefault(s.province, Scope.of_regions(s.province)),
            )
            for s in subs
        ]
        done = await handlers.handle(db, outbox, orders, today=datetime.now(UTC).date())
        return [
            Refused(explain(d.error))
            if d.error
            else Accepted(d.event_id or "", created=_created(o.command))
            for o, d in zip(orders, done, strict=True)
        ]

    return apply


def explain(exc: Exception) -> list[Reason]:
    if isinstance(exc, NotFound):  # named by kind, never by the submitted id
        kind = "agent" if "agent" in str(exc) else "unit"
        return [Reason(f"{kind}_id", "exists", f"no {kind} has this id")]
    if isinstance(exc, AlreadyRecorded):
        return [Reason(exc.field, "unique", str(exc))]
    if isinstance(exc, Conflict):
        return [Reason(None, "current-version", str(exc))]
    return rule_reasons(exc) or [Reason(None, "rule", str(exc))]


def _created(command: Command) -> dict[str, str]:
    """The ids a province's registry fact names, echoed on its receipt."""
    if isinstance(command, RecordTraining):
        return {"agent_id": command.agent_id, "training_id": command.training.training_id}
    if isinstance(command, AppointAgent | DeactivateAgent):
        return {"agent_id": command.agent_id}
    if isinstance(command, RecordFunding):
        return {"unit_id": command.unit_id, "funding_id": command.funding_id}
    return {"unit_id": command.unit_id}
