"""A case's course as a province records it, each fact naming the case by the screening's
submission id: enrolment, stage changes, referrals and what became of them, relapses, a
transfer to another unit of the province, closure. Each use case checks its rules with the
same domain functions as an agent's entry, then changes the batch's state and stages the
canonical event; each returns the ids its receipt names."""

from __future__ import annotations

import uuid

from services.client_case.domain import pathway
from services.client_case.handlers.common import agent_problems, where_of
from services.client_case.handlers.provincial.state import Batch, Submitted
from shared.contracts import client_case as events
from shared.contracts.client_case_inbound import (
    ClosureSubmitted,
    EnrolmentSubmitted,
    ReferralResolutionSubmitted,
    ReferralSubmitted,
    RelapseSubmitted,
    StageChangeSubmitted,
    TransferSubmitted,
)
from shared.rules import RuleViolations, Violation, check

Created = dict[str, str]


def enrol(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, EnrolmentSubmitted)
    case = state.case_for(s)
    enrolled = pathway.enrol(
        case,
        route=fact.admission_route,
        source=fact.aftercare_source,
        on=fact.enrolled_on,
        today=state.today_in(s.province),
    )
    state.cases[case.case_id] = enrolled
    state.changed_cases.add(case.case_id)
    person = state.people[case.client_id]
    assert enrolled.risk_level is not None
    state.events.append(
        (
            index,
            events.ClientEnrolled(
                **where_of(enrolled),
                enrolled_on=fact.enrolled_on,
                admission_route=fact.admission_route,
                aftercare_source=fact.aftercare_source,
                risk_level=enrolled.risk_level,
                age_band=person.age_band,
                sex=person.sex,
            ),
        )
    )
    return {"case_id": case.case_id}


def close(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, ClosureSubmitted)
    case = state.case_for(s)
    referral = None
    if fact.referral_key is not None:
        referral = state.referral_for(s.province, fact.referral_key)
        check(pathway.ending_referral_problems(case, fact.outcome, referral, "referral_key"))
    closed = pathway.close(
        case,
        fact.outcome,
        on=fact.closed_on,
        today=state.today_in(s.province),
        early=fact.early_completion_reason,
    )
    state.cases[case.case_id] = closed
    state.changed_cases.add(case.case_id)
    state.events.append(
        (
            index,
            events.CaseClosed(
                **where_of(closed),
                outcome=fact.outcome,
                last_stage=case.stage,
                closed_on=fact.closed_on,
                weeks_in_service=pathway.weeks_in_service(case, fact.closed_on),
                referral_id=referral.referral_id if referral else None,
                early_completion_reason=fact.early_completion_reason,
            ),
        )
    )
    return {"case_id": case.case_id}


def change_stage(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, StageChangeSubmitted)
    case = state.case_for(s)
    changed = pathway.advance(
        case, fact.to_stage, on=fact.changed_on, today=state.today_in(s.province)
    )
    state.cases[case.case_id] = changed
    state.changed_cases.add(case.case_id)
    state.events.append(
        (
            index,
            events.CaseStageChanged(
                **where_of(changed),
                from_stage=case.stage,
                to_stage=fact.to_stage,
                changed_on=fact.changed_on,
                case_week=changed.week(fact.changed_on),
            ),
        )
    )
    return {"case_id": case.case_id}


def report_relapse(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, RelapseSubmitted)
    case = state.case_for(s)
    v = []
    if state.people[case.client_id].erased:
        v.append(Violation("submission_id", "not-erased", "this client was erased"))
    if fact.relapsed_on > state.today_in(s.province):
        v.append(Violation("relapsed_on", "not-in-future", "the date is in the future"))
    v += agent_problems(
        state.agents,
        "reported_by_agent_id",
        fact.reported_by_agent_id,
        case.unit_id,
        fact.relapsed_on,
    )
    check(v)
    state.events.append(
        (
            index,
            events.RelapseReported(
                **where_of(case),
                substances=fact.substances,
                source=fact.source,
                stage=case.stage,
                relapsed_on=fact.relapsed_on,
                reported_by_agent_id=fact.reported_by_agent_id,
            ),
        )
    )
    return {"case_id": case.case_id}


def refer(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, ReferralSubmitted)
    case = state.case_for(s)
    if (s.province, fact.referral_key) in state.referral_of:
        raise RuleViolations(
            [Violation("referral_key", "unique", "this province sent a referral with this key")]
        )
    referral = pathway.refer(
        case,
        str(uuid.uuid4()),
        fact.destination_type,
        on=fact.referred_on,
        today=state.today_in(s.province),
    )
    check(
        agent_problems(
            state.agents,
            "referred_by_agent_id",
            fact.referred_by_agent_id,
            case.unit_id,
            fact.referred_on,
        )
    )
    state.referral_of[(s.province, fact.referral_key)] = referral.referral_id
    state.referrals[referral.referral_id] = referral
    state.add(
        "referrals",
        referral_id=referral.referral_id,
        case_id=case.case_id,
        destination_type=fact.destination_type,
        destination_facility=fact.destination_facility,
        reason=fact.reason,
        referred_on=fact.referred_on,
        resolution=None,
        resolved_on=None,
    )
    state.add(
        "referral_submissions",
        province_code=s.province,
        referral_key=fact.referral_key,
        referral_id=referral.referral_id,
    )
    assert case.risk_level is not None
    state.events.append(
        (
            index,
            events.ClientReferred(
                **where_of(case),
                referral_id=referral.referral_id,
                destination_type=fact.destination_type,
                destination_facility=fact.destination_facility,
                reason=fact.reason,
                risk_level=case.risk_level,
                referred_on=fact.referred_on,
                referred_by_agent_id=fact.referred_by_agent_id,
            ),
        )
    )
    return {"case_id": case.case_id, "referral_id": referral.referral_id}


def resolve_referral(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, ReferralResolutionSubmitted)
    case = state.case_for(s)
    referral = state.referral_for(s.province, fact.referral_key)
    if referral is None or referral.case_id != case.case_id:
        raise RuleViolations(
            [Violation("referral_key", "referral-of-case", "the case has no such referral")]
        )
    resolved = pathway.resolve(
        referral,
        fact.resolution,
        on=fact.resolved_on,
        today=state.today_in(s.province),
        field="referral_key",
    )
    state.referrals[referral.referral_id] = resolved
    state.changed_referrals.add(referral.referral_id)
    state.events.append(
        (
            index,
            events.ReferralResolved(
                **where_of(case),
                referral_id=referral.referral_id,
                destination_type=referral.destination_type,
                resolution=fact.resolution,
                resolved_on=fact.resolved_on,
            ),
        )
    )
    return {"case_id": case.case_id, "referral_id": referral.referral_id}


def transfer(state: Batch, index: int, s: Submitted) -> Created:
    fact = s.fact
    assert isinstance(fact, TransferSubmitted)
    case = state.case_for(s)
    unit = state.units.get(fact.unit_id)
    if unit is None:
        raise RuleViolations(
            [Violation("unit_id", "unit-exists", "the registry has published no such unit")]
        )
    v = []
    if unit["status"] != "active":
        v.append(Violation("unit_id", "unit-active", f"the unit is {unit['status']}"))
    if unit["province_code"] != s.province:
        v.append(Violation("unit_id", "own-province", f"the unit is not in province {s.province}"))
    if (fact.unit_id, case.client_ref) in state.open_cases:
        v.append(Violation("unit_id", "one-open-case", "the person has an open case there"))
    check(v)
    moved = pathway.transferred(
        case,
        fact.unit_id,
        unit["province_code"],
        unit["village_code"],
        on=fact.transferred_on,
        today=state.today_in(s.province),
    )
    state.cases[case.case_id] = moved
    state.changed_cases.add(case.case_id)
    state.open_cases.pop((case.unit_id, case.client_ref), None)
    state.open_cases[(moved.unit_id, moved.client_ref)] = moved.case_id
    state.events.append(
        (
            index,
            events.CaseTransferred(
                **where_of(moved),
                from_unit_id=case.unit_id,
                from_province_code=case.province_code,
                stage=case.stage,
                transferred_on=fact.transferred_on,
            ),
        )
    )
    return {"case_id": case.case_id}
