"""Which service answers which type published on a province's inbound topic.

Decided once, from the `ce_type` header alone, before any body is decoded: the owner of an
accepted type decodes, applies and answers it; every other message on an inbound topic — a
canonical type of any context, a receipt, an unknown type, no type, bytes that are not an
event — is answered by `ANSWERS_THE_REST` with an `EventRejected`. So each inbound message
gets exactly one answer from exactly one service.
"""

from __future__ import annotations

from shared.contracts import client_case_inbound as client_case
from shared.contracts import registry, scheduling_inbound
from shared.contracts.base import EventData

ACCEPTED: dict[str, tuple[type[EventData], ...]] = {
    "registry": (
        registry.UnitFormed,
        registry.UnitStatusChanged,
        registry.UnitFundingRecorded,
        registry.RecoveryAgentAppointed,
        registry.RecoveryAgentTrained,
        registry.RecoveryAgentDeactivated,
    ),
    "client-case": (
        client_case.ScreeningSubmitted,
        client_case.EnrolmentSubmitted,
        client_case.ClosureSubmitted,
        client_case.StageChangeSubmitted,
        client_case.ReferralSubmitted,
        client_case.ReferralResolutionSubmitted,
        client_case.RelapseSubmitted,
        client_case.TransferSubmitted,
    ),
    "scheduling": (
        scheduling_inbound.AttendanceSubmitted,
        scheduling_inbound.MissSubmitted,
        scheduling_inbound.ActivitySubmitted,
    ),
}
"""The types each service accepts from provinces, by service name."""

ANSWERS_THE_REST = "registry"

OWNERS: dict[str, str] = {
    cls.event_type: service for service, types in ACCEPTED.items() for cls in types
}
"""CloudEvents type → the service that answers it."""


def owner_of(event_type: str | None) -> str:
    """The service that answers an inbound message carrying this `ce_type` (or none)."""
    return OWNERS.get(event_type or "", ANSWERS_THE_REST)


def accepted_types() -> list[str]:
    return sorted(OWNERS)


IDS: dict[str, str] = {
    "UnitFormed": "unit_id: chosen by the province, unique nationally (a ULID is best); the "
    "unit's later facts name it. village_code: a village of the official region list with no "
    "active unit (rule one-active-unit-per-village; a second unit in a village is formed by an "
    "operator over HTTP); facilitating_office: BNNP-<province> (every province has one) or a "
    "BNNK-<regency> covering the village (rule covers-village). Village codes: the registry's "
    "GET /regions, through the gateway.",
    "UnitStatusChanged": "unit_id: a unit of this province.",
    "UnitFundingRecorded": "funding_id: chosen by the province; the same id again corrects "
    "that record, a new id is a new allocation.",
    "RecoveryAgentAppointed": "agent_id: chosen by the province, unique nationally, "
    "pseudonymous (never a NIK or a name); unit_id: an active unit of this province.",
    "RecoveryAgentTrained": "training_id: chosen by the province for a training batch "
    "(angkatan) — one batch, many agents, each agent once per batch; agent_id: an active agent "
    "of this province.",
    "RecoveryAgentDeactivated": "agent_id: an agent of this province.",
    "ScreeningSubmitted": "submission_id: chosen by the province, unique within it; every "
    "later fact of the case names the case by it. A later screening of a person with an open "
    "case in the unit re-screens that case: its own submission_id names the same case, but keep "
    "naming the case by the first one, so its facts share one record key and stay in order. "
    "The receipt gives the canonical case_id. "
    "province_client_key (optional): the province's own id for the person when no NIK is "
    "sealed.",
    "EnrolmentSubmitted": "submission_id: the screening's.",
    "StageChangeSubmitted": "submission_id: the screening's.",
    "ReferralSubmitted": "submission_id: the screening's; referral_key: chosen by the "
    "province, unique within it, named by the resolutions and the closure. The receipt gives "
    "the canonical referral_id.",
    "ReferralResolutionSubmitted": "submission_id: the screening's; referral_key: the referral's.",
    "RelapseSubmitted": "submission_id: the screening's.",
    "TransferSubmitted": "submission_id: the screening's; unit_id: the receiving unit, active, "
    "in this province.",
    "ClosureSubmitted": "submission_id: the screening's; referral_key (optional): the referral "
    "the case ends with (outcome referred_out).",
    "AttendanceSubmitted": "session_id: scheduling's, read at the gateway's GET /plans/{case_id}.",
    "MissSubmitted": "session_id: scheduling's, read at the gateway's GET /plans/{case_id}.",
    "ActivitySubmitted": "submission_id: chosen by the province, unique within it; the "
    "receipt gives the canonical activity_id.",
}
"""Who chooses which id, for each type a province publishes (by event name)."""
