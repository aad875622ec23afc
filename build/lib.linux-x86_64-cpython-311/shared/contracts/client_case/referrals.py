"""Referrals: a client sent on to another service, and what became of it."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.contracts.base import contract
from shared.contracts.client_case.common import (
    AGENT_ID_EXAMPLE,
    CASE_ID_EXAMPLE,
    CLIENT_REF_EXAMPLE,
    CONTEXT,
    TOPIC,
)
from shared.contracts.types import (
    ClientRef,
    EntityId,
    FacilityCode,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RiskLevel,
    UnitScopedEvent,
)


@contract(context=CONTEXT, name="ClientReferred", version=1, topic=TOPIC, subject="case_id")
class ClientReferred(UnitScopedEvent):
    """The unit referred a client to another service (clinic, residential care, hospital,
    IPWL). Produced by `client-case`; its outcome follows as ``ReferralResolved``."""

    referral_id: EntityId = Field(
        description="Id of this referral.",
        examples=["01JD9W2Y4A6C8E0G2J4K6M8P0R"],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    destination_type: ReferralDestinationType = Field(
        description="Kind of service the client is referred to.",
        examples=["klinik_pratama"],
    )
    destination_facility: FacilityCode | None = Field(
        default=None,
        description="Code of the receiving facility, when known.",
        examples=["KP-BNNK-74.71"],
    )
    reason: ReferralReason = Field(
        description="Why the client was referred, as a code.",
        examples=["moderate_risk"],
    )
    risk_level: RiskLevel = Field(
        description="The client's risk level at the time of referral.",
        examples=["moderate"],
    )
    referred_on: date = Field(
        description="Date of the referral.",
        examples=["2025-05-21"],
    )
    referred_by_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who made the referral.",
        examples=[AGENT_ID_EXAMPLE],
    )


@contract(context=CONTEXT, name="ReferralResolved", version=1, topic=TOPIC, subject="case_id")
class ReferralResolved(UnitScopedEvent):
    """The unit learned what became of a referral. Produced by `client-case`; a referral may
    resolve in steps (accepted, then attended), each a new event."""

    referral_id: EntityId = Field(
        description="Id of the referral this resolves.",
        examples=["01JD9W2Y4A6C8E0G2J4K6M8P0R"],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    destination_type: ReferralDestinationType = Field(
        description="Kind of service the client was referred to (repeated for reporting).",
        examples=["klinik_pratama"],
    )
    resolution: ReferralResolution = Field(
        description="What became of the referral.",
        examples=["attended"],
    )
    resolved_on: date = Field(
        description="Date of the outcome (acceptance, first attendance, refusal, no-show).",
        examples=["2025-05-28"],
    )
