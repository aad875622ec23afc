"""One valid instance of every event contract, built from the examples its fields declare.

Building from the declared examples keeps the documentation honest: an example that stops
validating (or a field without one) breaks the contract tests, not a provincial developer
copying it from the AsyncAPI document.
"""

from __future__ import annotations

from shared.contracts.base import EventData, example_of
from shared.contracts.catalog import all_contracts
from shared.contracts.client_case import (
    CaseClosed,
    CaseStageChanged,
    CaseTransferred,
    ClientEnrolled,
    ClientReferred,
    ClientScreened,
    ReferralResolved,
    RelapseReported,
)
from shared.contracts.client_case_inbound import (
    ClosureSubmitted,
    EnrolmentSubmitted,
    ReferralResolutionSubmitted,
    ReferralSubmitted,
    RelapseSubmitted,
    ScreeningSubmitted,
    StageChangeSubmitted,
    TransferSubmitted,
)
from shared.contracts.platform import EventAccepted, EventRejected
from shared.contracts.registry import (
    RecoveryAgentAppointed,
    RecoveryAgentDeactivated,
    RecoveryAgentTrained,
    UnitFormed,
    UnitFundingRecorded,
    UnitStatusChanged,
)
from shared.contracts.scheduling import (
    ActivityHeld,
    CaseAtRiskOfDropOut,
    CasePlanCreated,
    SessionCompleted,
    SessionMissed,
    SessionOverdue,
    SessionRescheduled,
)
from shared.contracts.scheduling_inbound import (
    ActivitySubmitted,
    AttendanceSubmitted,
    MissSubmitted,
)

# Listed by hand on purpose: a new contract must be added here, which the assertion in
# example_events() enforces.
CONTRACTS: tuple[type[EventData], ...] = (
    UnitFormed,
    UnitStatusChanged,
    UnitFundingRecorded,
    RecoveryAgentAppointed,
    RecoveryAgentTrained,
    RecoveryAgentDeactivated,
    ClientScreened,
    ClientEnrolled,
    CaseStageChanged,
    ClientReferred,
    ReferralResolved,
    CaseClosed,
    RelapseReported,
    CaseTransferred,
    ScreeningSubmitted,
    EnrolmentSubmitted,
    ClosureSubmitted,
    StageChangeSubmitted,
    RelapseSubmitted,
    ReferralSubmitted,
    ReferralResolutionSubmitted,
    TransferSubmitted,
    CasePlanCreated,
    SessionCompleted,
    SessionMissed,
    SessionOverdue,
    ActivityHeld,
    SessionRescheduled,
    CaseAtRiskOfDropOut,
    AttendanceSubmitted,
    MissSubmitted,
    ActivitySubmitted,
    EventAccepted,
    EventRejected,
)


from_examples = example_of


def example_events() -> list[EventData]:
    """One valid instance of every contract in the catalog."""
    missing = set(all_contracts()) ^ set(CONTRACTS)
    assert not missing, f"examples and catalog differ: {sorted(c.__name__ for c in missing)}"
    return [from_examples(cls) for cls in CONTRACTS]
