"""The 16-week pathway of a case, routing by risk, and referrals: plain rules.

Stages run screening → intake → services → aftercare, and a case can be closed from any of
them with an outcome. Routing is a per-province policy (configuration): sources disagree on
whether units keep moderate-risk clients, so no answer is hard-coded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    CaseStage,
    ClosureOutcome,
    EarlyCompletion,
    ReferralDestinationType,
    ReferralResolution,
    RiskLevel,
)
from shared.rules import Violation, check

WEEKS = 16

NEXT_STAGE = {
    CaseStage.SCREENING: CaseStage.INTAKE,
    CaseStage.INTAKE: CaseStage.SERVICES,
    CaseStage.SERVICES: CaseStage.AFTERCARE,
}


@dataclass(frozen=True)
class RoutingPolicy:
    """Where each risk level goes: None keeps the client in the unit."""

    low: ReferralDestinationType | None = None
    moderate: ReferralDestinationType | None = None
    high: ReferralDestinationType | None = ReferralDestinationType.BALAI_REHABILITASI
    injecting: ReferralDestinationType | None = ReferralDestinationType.KLINIK_PRATAMA
    """Where a client who injected in the past 3 months goes when their level would keep
    them in the unit (testing and assessment of injecting risk)."""

    def destination(
        self, level: RiskLevel, *, injecting: bool = False
    ) -> ReferralDestinationType | None:
        by_level = {
            RiskLevel.LOW: self.low,
            RiskLevel.MODERATE: self.moderate,
            RiskLevel.HIGH: self.high,
        }[level]
        return by_level or (self.injecting if injecting else None)

    @classmethod
    def parse(cls, text: str) -> RoutingPolicy:
        """`moderate=klinik_pratama,high=balai_rehabilitasi,injecting=klinik_pratama` (levels
        not named stay in the unit, except high, which goes to residential care, and injecting in
        the past 3 months, which goes to a Klinik Pratama, unless set to `unit`)."""
        values: dict[str, ReferralDestinationType | None] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            level, _, target = item.partition("=")
            name = level.strip()
            values[name if name == "injecting" else RiskLevel(name).value] = (
                None if target.strip() == "unit" else ReferralDestinationType(target.strip())
            )
        return cls(**values)


@dataclass(frozen=True)
class Case:
    case_id: str
    client_id: str
    client_ref: str
    unit_id: str
    province_code: str
    village_code: str
    stage: CaseStage
    opened_on: date
    risk_level: RiskLevel | None = None
    admission_route: AdmissionRoute | None = None
    aftercare_source: AftercareSource | None = None
    enrolled_on: date | None = None
    closed_on: date | None = None
    outcome: ClosureOutcome | None = None
    version: int = 1
    injecting_risk_on: date | None = None
    """The latest screening that found injecting in the past 3 months."""

    def week(self, on: date) -> int:
        """The case week (1 to 16) a date falls in, counted from screening."""
        return max(1, min(WEEKS, (on - self.opened_on).days // 7 + 1))


def enrol(
    case: Case, *, route: AdmissionRoute, source: AftercareSource | None, on: date, today: date
) -> Case:
    v = []
    if case.stage is not CaseStage.SCREENING:
        v.append(Violation("case_id", "stage-screening", f"the case is in {case.stage}"))
    if (route is AdmissionRoute.AFTERCARE) != (source is not None):
        v.append(
            Violation(
                "aftercare_source",
                "aftercare-source",
                "give the previous service exactly when the route is aftercare",
            )
        )
    v += _dated(on, case, today, "enrolled_on")
    check(v)
    return Case(
        **{
            **case.__dict__,
            "stage": CaseStage.INTAKE,
            "admission_route": route,
            "aftercare_source": source,
            "enrolled_on": on,
            "version": case.version + 1,
        }
    )


def advance(case: Case, to: CaseStage, *, on: date, today: date) -> Case:
    v = []
    if NEXT_STAGE.get(case.stage) is not to:
        v.append(
            Violation(
                "to_stage",
                "next-stage",
                f"from {case.stage} the next stage is "
                f"{NEXT_STAGE.get(case.stage, 'none: close the case')}",
            )
        )
    if case.stage is CaseStage.SCREENING:
        v.append(Violation("to_stage", "enrol-first", "a screened client is enrolled first"))
    v += _dated(on, case, today, "changed_on")
    check(v)
    return Case(**{**case.__dict__, "stage": to, "version": case.version + 1})


def close(
    case: Case,
    outcome: ClosureOutcome,
    *,
    on: date,
    today: date,
    early: EarlyCompletion | None = None,
) -> Case:
    """Close the case. Completing it before week 16 (the screening week is week 1) needs a
    reason; a reason goes with completion only."""
    v = []
    if case.stage is CaseStage.CLOSED:
        v.append(Violation("case_id", "open-case", "the case is already closed"))
    v += _dated(on, case, today, "closed_on")
    if outcome is ClosureOutcome.COMPLETED and early is None and case.week(on) < WEEKS:
        v.append(
            Violation(
                "early_completion_reason",
                "early-completion-reason",
                f"the case is in week {case.week(on)} of {WEEKS}: say why it is completed early",
            )
        )
    if early is not None and outcome is not ClosureOutcome.COMPLETED:
        v.append(
            Violation("early_completion_reason", "completed-only", "only a completion is early")
        )
    check(v)
    return Case(
        **{
            **case.__dict__,
            "stage": CaseStage.CLOSED,
            "closed_on": on,
            "outcome": outcome,
            "version": case.version + 1,
        }
    )


def screened(case: Case, level: RiskLevel, *, on: date, injecting: bool) -> Case:
    """A screening's result on its case: the level of the latest screening, and the
    injecting-risk flag when it found injecting in the past 3 months. A person with an open
    case in the unit who is screened again is re-screened on that case (one open case per
    person per unit)."""
    check(
        [
            Violation(
                "screened_at", "not-before-screening", f"the case was opened on {case.opened_on}"
            )
        ]
        if on < case.opened_on
        else []
    )
    return Case(
        **{
            **case.__dict__,
            "risk_level": level,
            "injecting_risk_on": on if injecting else case.injecting_risk_on,
            "version": case.version + 1,
        }
    )


def weeks_in_service(case: Case, closed_on: date) -> int:
    start = case.enrolled_on or case.opened_on
    return max(0, (closed_on - start).days // 7)


def _dated(on: date, case: Case, today: date, field: str) -> list[Violation]:
    if on > today:
        return [Violation(field, "not-in-future", "the date is in the future")]
    if on < case.opened_on:
        return [
            Violation(field, "not-before-screening", f"the case was opened on {case.opened_on}")
        ]
    return []


@dataclass(frozen=True)
class Referral:
    referral_id: str
    case_id: str
    destination_type: ReferralDestinationType
    referred_on: date
    resolution: ReferralResolution | None = None
    resolved_on: date | None = None

    def overdue(self, today: date, answer_within_days: int) -> bool:
        """An open referral with no answer after the allowed days is visible as overdue."""
        return self.resolution is None and today > self.referred_on + timedelta(
            days=answer_within_days
        )


def refer(
    case: Case, referral_id: str, destination: ReferralDestinationType, *, on: date, today: date
) -> Referral:
    """A referral of an open case, dated within the case's life."""
    v = []
    if case.stage is CaseStage.CLOSED:
        v.append(Violation("case_id", "open-case", "the case is closed"))
    v += _dated(on, case, today, "referred_on")
    check(v)
    return Referral(referral_id, case.case_id, destination, on)


def transferred(
    case: Case,
    unit_id: str,
    province_code: str,
    village_code: str,
    *,
    on: date,
    today: date,
    unit_field: str = "unit_id",
) -> Case:
    """The open case, with its history, in another unit."""
    v = []
    if case.stage is CaseStage.CLOSED:
        v.append(Violation("case_id", "open-case", "a closed case is not transferred"))
    if unit_id == case.unit_id:
        v.append(Violation(unit_field, "another-unit", "the case is already in this unit"))
    v += _dated(on, case, today, "transferred_on")
    check(v)
    return Case(
        **{
            **case.__dict__,
            "unit_id": unit_id,
            "province_code": province_code,
            "village_code": village_code,
            "version": case.version + 1,
        }
    )


def resolve(
    referral: Referral,
    resolution: ReferralResolution,
    *,
    on: date,
    today: date,
    field: str = "referral_id",
) -> Referral:
    v = []
    if referral.resolution is not None and not (
        referral.resolution is ReferralResolution.ACCEPTED
        and resolution is not ReferralResolution.ACCEPTED
    ):  # accepted, then attended, declined or a no-show; the others are final
        v.append(Violation(field, "open-referral", f"already resolved as {referral.resolution}"))
    if referral.resolved_on is not None and on < referral.resolved_on:
        v.append(
            Violation(
                "resolved_on",
                "not-before-acceptance",
                f"the referral was accepted on {referral.resolved_on}",
            )
        )
    if on > today:
        v.append(Violation("resolved_on", "not-in-future", "the date is in the future"))
    if on < referral.referred_on:
        v.append(
            Violation(
                "resolved_on",
                "not-before-referral",
                f"the referral was made on {referral.referred_on}",
            )
        )
    check(v)
    return Referral(**{**referral.__dict__, "resolution": resolution, "resolved_on": on})


def ending_referral_problems(
    case: Case, outcome: ClosureOutcome, referral: Referral | None, field: str
) -> list[Violation]:
    """A closure that names the referral it ends with: a referral of this case the destination
    accepted (or the client attended), and only for a case referred out."""
    if referral is None or referral.case_id != case.case_id:
        return [Violation(field, "referral-of-case", "the case has no such referral")]
    v = []
    if outcome is not ClosureOutcome.REFERRED_OUT:
        v.append(Violation(field, "referred-out-only", "only a case referred out names a referral"))
    if referral.resolution not in (ReferralResolution.ACCEPTED, ReferralResolution.ATTENDED):
        v.append(
            Violation(
                field,
                "referral-taken-up",
                "the referral ends the case once the destination accepted or saw the client",
            )
        )
    return v
