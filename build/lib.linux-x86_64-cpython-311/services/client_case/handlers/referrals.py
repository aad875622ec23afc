"""Referrals of a case: made to a clinic or hospital, and resolved (admitted, refused or
lost); each stages its canonical event, carrying the pseudonym only."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import (
    referrals,
)
from services.client_case.domain import pathway
from services.client_case.domain.pathway import Referral
from services.client_case.handlers.common import (
    NotFound,
    load_case,
    load_referral,
    require_agent_of,
    where_of,
)
from shared.contracts import client_case as events
from shared.contracts.types import (
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
)
from shared.messaging.outbox import Outbox


async def handle_refer(
    session: AsyncSession,
    outbox: Outbox,
    case_id: str,
    *,
    destination: ReferralDestinationType,
    facility: str | None,
    reason: ReferralReason,
    on: date,
    agent_id: str,
    today: date,
) -> Referral:
    case = await load_case(session, case_id)
    referral = pathway.refer(case, str(uuid.uuid4()), destination, on=on, today=today)
    await require_agent_of(session, "referred_by_agent_id", agent_id, case.unit_id, on)
    await session.execute(
        insert(referrals).values(
            referral_id=referral.referral_id,
            case_id=case_id,
            destination_type=destination,
            destination_facility=facility,
            reason=reason,
            referred_on=on,
        )
    )
    assert case.risk_level is not None
    await outbox.add(
        session,
        events.ClientReferred(
            **where_of(case),
            referral_id=referral.referral_id,
            destination_type=destination,
            destination_facility=facility,
            reason=reason,
            risk_level=case.risk_level,
            referred_on=on,
            referred_by_agent_id=agent_id,
        ),
    )
    return referral


async def handle_resolve_referral(
    session: AsyncSession,
    outbox: Outbox,
    referral_id: str,
    *,
    resolution: ReferralResolution,
    on: date,
    today: date,
) -> Referral:
    referral = await load_referral(session, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    resolved = pathway.resolve(referral, resolution, on=on, today=today)
    await session.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id)
        .values(resolution=resolution, resolved_on=on)
    )
    case = await load_case(session, referral.case_id)
    await outbox.add(
        session,
        events.ReferralResolved(
            **where_of(case),
            referral_id=referral_id,
            destination_type=referral.destination_type,
            resolution=resolution,
            resolved_on=on,
        ),
    )
    return resolved
