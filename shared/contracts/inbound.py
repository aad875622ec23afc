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
