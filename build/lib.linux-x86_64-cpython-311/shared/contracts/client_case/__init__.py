"""Client-case contracts: screening, enrolment, the 16-week course, referral and closure.

Produced by the `client-case` service on ``ibm.client-case``. Every event is keyed by
``case_id``. The service opens a case (stage ``screening``) when it records a screening, so
``ClientScreened`` already has a case id and a client's screening, enrolment, stages,
referrals and closure stay ordered on one partition; a screening that leads nowhere leaves a
case that is closed later. Keying screenings by a separate screening id would let
``ClientEnrolled`` overtake the screening it follows.

No event here carries a direct identifier: a client is only a ``client_ref`` pseudonym, an
agent only an ``agent_id``, and the region is the unit's village, not the client's home.
"""

from shared.contracts.client_case.common import CONTEXT, TOPIC
from shared.contracts.client_case.course import (
    CaseClosed,
    CaseStageChanged,
    CaseTransferred,
    ClientEnrolled,
    RelapseReported,
)
from shared.contracts.client_case.referrals import ClientReferred, ReferralResolved
from shared.contracts.client_case.screening import ClientScreened, SubstanceScore

__all__ = [
    "CONTEXT",
    "TOPIC",
    "CaseClosed",
    "CaseStageChanged",
    "CaseTransferred",
    "ClientEnrolled",
    "ClientReferred",
    "ClientScreened",
    "ReferralResolved",
    "RelapseReported",
    "SubstanceScore",
]
