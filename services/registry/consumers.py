"""Facts provincial systems publish on their inbound topics (`ibm.inbound.<province>`).

The registry takes the registry's event types: it checks that the sending province speaks
only for its own villages, applies the same use case as the API, and answers on the
province's receipts topic: `EventAccepted` naming the canonical event it became, or
`EventRejected` naming every broken rule. The registry also answers messages that are not
events of any context (no or unknown `ce_type`), so nothing a province sends goes unanswered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import handlers
from services.registry.domain import (
    AppointAgent,
    ChangeUnitStatus,
    Conflict,
    Decree,
    FormUnit,
    NotFound,
    RecordFunding,
    Scope,
    Training,
)
from shared.contracts import registry as events
from shared.contracts.base import EventData
from shared.contracts.envelope import Reason
from shared.messaging import inbound
from shared.messaging.consumer import Handler, InvalidHandler
from shared.messaging.outbox import Outbox
from shared.runtime import Runtime

NOT_REPORTED = "not_reported"  # a province's UnitFormed carries no signatory


Apply = Callable[[AsyncSession, Outbox, Any, Scope, date], Awaitable[object]]


async def _form(
    session: AsyncSession, outbox: Outbox, e: events.UnitFormed, scope: Scope, today: date
) -> object:
    return await handlers.handle_form_unit(
        session,
        outbox,
        FormUnit(
            unit_id=e.unit_id,
            village_code=e.village_code,
            name=e.unit_name,
            decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
            formed_on=e.formed_on,
            formation=e.formation,
            facilitating_office=e.facilitating_office,
        ),
        scope=scope,
        today=today,
    )


async def _status(
    session: AsyncSession, outbox: Outbox, e: events.UnitStatusChanged, scope: Scope, today: date
) -> object:
    return await handlers.handle_change_unit_status(
        session,
        outbox,
        ChangeUnitStatus(
            unit_id=e.unit_id, to_status=e.to_status, reason=e.reason, effective_on=e.effective_on
        ),
        scope=scope,
        today=today,
    )


async def _funding(
    session: AsyncSession, outbox: Outbox, e: events.UnitFundingRecorded, scope: Scope, today: date
) -> object:
    await handlers.handle_record_funding(
        session,
        outbox,
        RecordFunding(
            funding_id=e.funding_id,
            unit_id=e.unit_id,
            fiscal_year=e.fiscal_year,
            source=e.source,
            amount_idr=e.amount_idr,
        ),
        scope=scope,
        today=today,
    )
    return None


async def _appoint(
    session: AsyncSession,
    outbox: Outbox,
    e: events.RecoveryAgentAppointed,
    scope: Scope,
    today: date,
) -> object:
    return await handlers.handle_appoint_agent(
        session,
        outbox,
        AppointAgent(
            agent_id=e.agent_id,
            unit_id=e.unit_id,
            role=e.role,
            decree=Decree(e.decree_number, e.decree_date, NOT_REPORTED),
            appointed_on=e.appointed_on,
        ),
        scope=scope,
        today=today,
    )


async def _train(
    session: AsyncSession, outbox: Outbox, e: events.RecoveryAgentTrained, scope: Scope, today: date
) -> object:
    return await handlers.handle_record_training(
        session,
        outbox,
        e.agent_id,
        Training(
            training_id=e.training_id,
            kind=e.training_kind,
            completed_on=e.completed_on,
            provider=e.trainer_office,
            certificate=None,
        ),
        scope=scope,
        today=today,
    )


async def _deactivate(
    session: AsyncSession,
    outbox: Outbox,
    e: events.RecoveryAgentDeactivated,
    scope: Scope,
    today: date,
) -> object:
    return await handlers.handle_deactivate_agent(
        session, outbox, e.agent_id, on=e.deactivated_on, reason=e.reason, scope=scope, today=today
    )


USE_CASES: dict[type[EventData], Apply] = {
    events.UnitFormed: _form,
    events.UnitStatusChanged: _status,
    events.UnitFundingRecorded: _funding,
    events.RecoveryAgentAppointed: _appoint,
    events.RecoveryAgentTrained: _train,
    events.RecoveryAgentDeactivated: _deactivate,
}


def inbound_handler(runtime: Runtime) -> Handler:
    async def apply(session: AsyncSession, outbox: Outbox, data: EventData, province: str) -> None:
        await USE_CASES[type(data)](
            session, outbox, data, Scope.of_regions(province), datetime.now(UTC).date()
        )

    return inbound.inbound_handler(
        runtime, owns=lambda data: type(data) in USE_CASES, apply=apply, explain=_explain
    )


def invalid_inbound_handler(runtime: Runtime) -> InvalidHandler:
    """The registry also answers inbound messages whose type names no known context."""
    return inbound.invalid_inbound_handler(runtime, context="registry", answers_unknown=True)


def _explain(exc: Exception) -> list[Reason] | None:
    if isinstance(exc, NotFound):
        return [Reason("unit_id", "exists", str(exc))]
    if isinstance(exc, Conflict):
        return [Reason(None, "current-version", str(exc))]
    return None
