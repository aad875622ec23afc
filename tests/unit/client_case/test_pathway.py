"""The 16-week pathway, the per-province routing policy and closed-loop referrals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.client_case.domain import pathway
from services.client_case.domain.pathway import Case, Referral, RoutingPolicy
from services.client_case.settings import Settings
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
from shared.rules import RuleViolations

TODAY = date(2026, 11, 22)
OPENED = date(2026, 9, 1)
CASE = Case(
    case_id="case-0000000000000001",
    client_id="client-1",
    client_ref="f" * 64,
    unit_id="unit-1",
    province_code="74",
    village_code="74.71.01.1005",
    stage=CaseStage.SCREENING,
    opened_on=OPENED,
    risk_level=RiskLevel.MODERATE,
)


def rules(exc: pytest.ExceptionInfo[RuleViolations]) -> set[str]:
    return {v.rule for v in exc.value.violations}


def test_the_pathway_runs_screening_intake_services_aftercare_closed() -> None:
    case = pathway.enrol(
        CASE, route=AdmissionRoute.VOLUNTARY, source=None, on=date(2026, 9, 8), today=TODAY
    )
    assert (case.stage, case.version) == (CaseStage.INTAKE, 2)
    case = pathway.advance(case, CaseStage.SERVICES, on=date(2026, 9, 15), today=TODAY)
    case = pathway.advance(case, CaseStage.AFTERCARE, on=date(2026, 11, 1), today=TODAY)
    closed = pathway.close(
        case,
        ClosureOutcome.COMPLETED,
        on=date(2026, 11, 20),
        today=TODAY,
        early=EarlyCompletion.GOALS_MET,  # week 12 of 16
    )
    assert closed.stage is CaseStage.CLOSED and closed.outcome is ClosureOutcome.COMPLETED
    assert pathway.weeks_in_service(case, date(2026, 11, 20)) == 10
    with pytest.raises(RuleViolations) as twice:
        pathway.close(closed, ClosureOutcome.OTHER, on=TODAY, today=TODAY)
    assert rules(twice) == {"open-case"}


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (CaseStage.INTAKE, CaseStage.AFTERCARE),  # skips services
        (CaseStage.SERVICES, CaseStage.INTAKE),  # backwards
        (CaseStage.AFTERCARE, CaseStage.CLOSED),  # closing is `close`, with an outcome
        (CaseStage.SCREENING, CaseStage.INTAKE),  # enrolment does that
    ],
)
def test_only_the_next_stage_is_allowed(start: CaseStage, to: CaseStage) -> None:
    with pytest.raises(RuleViolations):
        pathway.advance(replace(CASE, stage=start), to, on=date(2026, 10, 1), today=TODAY)


def test_enrolment_rules() -> None:
    with pytest.raises(RuleViolations) as broken:
        pathway.enrol(
            CASE, route=AdmissionRoute.AFTERCARE, source=None, on=date(2026, 8, 1), today=TODAY
        )
    assert rules(broken) == {"aftercare-source", "not-before-screening"}
    with pytest.raises(RuleViolations) as broken:
        pathway.enrol(
            CASE,
            route=AdmissionRoute.COMPULSORY,
            source=AftercareSource.BALAI,
            on=date(2027, 1, 1),
            today=TODAY,
        )
    assert rules(broken) == {"aftercare-source", "not-in-future"}
    enrolled = pathway.enrol(
        CASE,
        route=AdmissionRoute.AFTERCARE,
        source=AftercareSource.KLINIK_PRATAMA,
        on=OPENED,
        today=TODAY,
    )
    assert enrolled.aftercare_source is AftercareSource.KLINIK_PRATAMA


def test_case_weeks_count_from_screening_and_stop_at_sixteen() -> None:
    assert CASE.week(OPENED) == 1
    assert CASE.week(date(2026, 9, 8)) == 2
    assert CASE.week(date(2027, 6, 1)) == 16


def test_routing_is_a_policy_per_province() -> None:
    default = RoutingPolicy.parse("high=balai_rehabilitasi")
    assert default.destination(RiskLevel.MODERATE) is None
    assert default.destination(RiskLevel.HIGH) is ReferralDestinationType.BALAI_REHABILITASI
    settings = Settings(routing_by_province={"74": "moderate=klinik_pratama,high=unit"})
    sultra = settings.routing_for("74")
    assert sultra.destination(RiskLevel.MODERATE) is ReferralDestinationType.KLINIK_PRATAMA
    assert sultra.destination(RiskLevel.HIGH) is None  # this province keeps high risk
    assert settings.routing_for("73") == RoutingPolicy()
    with pytest.raises(ValueError):
        RoutingPolicy.parse("severe=balai_rehabilitasi")


def test_injecting_in_the_past_3_months_is_routed_by_the_province() -> None:
    default = RoutingPolicy()
    assert default.destination(RiskLevel.LOW) is None
    assert (
        default.destination(RiskLevel.LOW, injecting=True) is ReferralDestinationType.KLINIK_PRATAMA
    )
    assert (  # the level's own destination comes first
        default.destination(RiskLevel.HIGH, injecting=True)
        is ReferralDestinationType.BALAI_REHABILITASI
    )
    keeps = RoutingPolicy.parse("high=balai_rehabilitasi,injecting=unit")
    assert keeps.destination(RiskLevel.MODERATE, injecting=True) is None
    flagged = pathway.screened(CASE, RiskLevel.LOW, on=date(2026, 9, 20), injecting=True)
    assert flagged.injecting_risk_on == date(2026, 9, 20)
    again = pathway.screened(flagged, RiskLevel.LOW, on=date(2026, 10, 20), injecting=False)
    assert again.injecting_risk_on == date(2026, 9, 20)  # the flag stays with the case


def test_referrals_close_the_loop_and_go_overdue() -> None:
    referral = Referral(
        "ref-1", CASE.case_id, ReferralDestinationType.KLINIK_PRATAMA, date(2026, 11, 1)
    )
    assert not referral.overdue(date(2026, 11, 15), answer_within_days=14)
    assert referral.overdue(date(2026, 11, 16), answer_within_days=14)
    answered = pathway.resolve(
        referral, ReferralResolution.ATTENDED, on=date(2026, 11, 10), today=TODAY
    )
    assert not answered.overdue(date(2027, 1, 1), answer_within_days=14)
    with pytest.raises(RuleViolations) as again:
        pathway.resolve(answered, ReferralResolution.NO_SHOW, on=TODAY, today=TODAY)
    assert rules(again) == {"open-referral"}
    with pytest.raises(RuleViolations) as early:
        pathway.resolve(referral, ReferralResolution.ACCEPTED, on=date(2026, 10, 1), today=TODAY)
    assert rules(early) == {"not-before-referral"}


def test_an_accepted_referral_resolves_once_more_and_then_is_final() -> None:
    referral = Referral(
        "ref-1", CASE.case_id, ReferralDestinationType.KLINIK_PRATAMA, date(2026, 11, 1)
    )
    accepted = pathway.resolve(
        referral, ReferralResolution.ACCEPTED, on=date(2026, 11, 5), today=TODAY
    )
    with pytest.raises(RuleViolations) as twice:
        pathway.resolve(accepted, ReferralResolution.ACCEPTED, on=TODAY, today=TODAY)
    assert rules(twice) == {"open-referral"}
    with pytest.raises(RuleViolations) as backwards:
        pathway.resolve(accepted, ReferralResolution.ATTENDED, on=date(2026, 11, 4), today=TODAY)
    assert rules(backwards) == {"not-before-acceptance"}
    attended = pathway.resolve(
        accepted, ReferralResolution.ATTENDED, on=date(2026, 11, 9), today=TODAY
    )
    assert (attended.resolution, attended.resolved_on) == (
        ReferralResolution.ATTENDED,
        date(2026, 11, 9),
    )
    with pytest.raises(RuleViolations) as final:
        pathway.resolve(attended, ReferralResolution.DECLINED, on=TODAY, today=TODAY)
    assert rules(final) == {"open-referral"}


def test_production_refuses_the_development_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULIH_ENVIRONMENT", "production")
    monkeypatch.setenv("PULIH_AUTH_ISSUER", "https://login.bnn.go.id/realms/pulih")
    monkeypatch.setenv("PULIH_AUTH_JWKS_URL", "https://login.bnn.go.id/realms/pulih/certs")
    monkeypatch.setenv("PULIH_SECRET_KEY", "a-real-secret-from-a-kubernetes-secret")
    with pytest.raises(ValueError, match="PULIH_MASTER_KEYS"):
        Settings()
    monkeypatch.setenv("PULIH_MASTER_KEYS", "m1:" + "C" * 43 + "=")
    with pytest.raises(ValueError, match="client-case keys"):
        Settings()  # the pseudonym and identity keys are still the development ones


def test_completing_before_week_16_needs_a_reason_and_only_completion_takes_one() -> None:
    case = pathway.enrol(CASE, route=AdmissionRoute.VOLUNTARY, source=None, on=OPENED, today=TODAY)
    day_18 = OPENED + timedelta(days=18)
    with pytest.raises(RuleViolations) as silent:
        pathway.close(case, ClosureOutcome.COMPLETED, on=day_18, today=TODAY)
    assert [(v.field, v.rule) for v in silent.value.violations] == [
        ("early_completion_reason", "early-completion-reason")
    ]
    early = pathway.close(
        case, ClosureOutcome.COMPLETED, on=day_18, today=TODAY, early=EarlyCompletion.GOALS_MET
    )
    assert early.outcome is ClosureOutcome.COMPLETED
    with pytest.raises(RuleViolations) as misplaced:
        pathway.close(
            case,
            ClosureOutcome.DROPPED_OUT,
            on=day_18,
            today=TODAY,
            early=EarlyCompletion.GOALS_MET,
        )
    assert rules(misplaced) == {"completed-only"}
    assert pathway.close(case, ClosureOutcome.DROPPED_OUT, on=day_18, today=TODAY).outcome
