"""A province's screening: the person found or registered in the unit, the answers scored
with this service's rule set, the case opened (or re-screened: one open case per person per
unit)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from services.client_case.domain import assist, pathway
from services.client_case.domain.pathway import Case
from services.client_case.handlers.common import agent_problems, where_of
from services.client_case.handlers.identity import new_client_ref, sealed_client
from services.client_case.handlers.provincial.state import Batch, Person, Submitted
from shared.contracts import client_case as events
from shared.contracts.client_case_inbound import ScreeningSubmitted
from shared.contracts.types import CaseStage
from shared.rules import RuleViolations, Violation, check
from shared.security.identity import nik_problems, normalise_nik


def screen(state: Batch, index: int, s: Submitted) -> dict[str, str]:
    fact = s.fact
    assert isinstance(fact, ScreeningSubmitted)
    if (s.province, fact.submission_id) in state.cases_of:
        raise RuleViolations(
            [Violation("submission_id", "unique-submission", "this submission was recorded before")]
        )
    unit = state.units.get(fact.unit_id)
    if unit is None:
        raise RuleViolations(
            [Violation("unit_id", "unit-exists", "the registry has published no such unit")]
        )
    if unit["status"] != "active":
        raise RuleViolations([Violation("unit_id", "unit-active", f"the unit is {unit['status']}")])
    if unit["province_code"] != s.province:
        raise RuleViolations(
            [Violation("unit_id", "own-province", f"the unit is not in province {s.province}")]
        )
    identity = state.identities[index]
    if isinstance(identity, Exception):
        raise identity
    if identity.nik:
        nik = normalise_nik(identity.nik)
        problems = nik_problems(nik, today=state.today_in(s.province))
        if problems:
            raise RuleViolations([Violation("identity.nik", p.rule, p.message) for p in problems])
        identity = replace(identity, nik=nik)
    result = assist.score_screening(
        assist.AssistAnswers(
            substances={
                k: assist.SubstanceAnswers(**a.model_dump()) for k, a in fact.substances.items()
            },
            injection=fact.injection,
        )
    )
    if fact.screened_at > state.now:
        raise RuleViolations(
            [Violation("screened_at", "not-in-future", "the screening is in the future")]
        )
    check(
        agent_problems(
            state.agents,
            "screener_agent_id",
            fact.screener_agent_id,
            fact.unit_id,
            fact.screened_at.date(),
        )
    )
    injecting = result.injected_recently
    lookup = state.lookups.get(index)
    ref = state.refs.get(lookup) if lookup else None
    if ref is None:  # a person not seen before, in any unit
        ref = new_client_ref()
        if lookup:
            state.refs[lookup] = ref
            state.add("people", lookup=lookup, client_ref=ref)
    person = state.clients_in.get((fact.unit_id, ref))
    if person is None:  # the unit's first record of this person
        person = Person(str(uuid.uuid4()), ref, fact.unit_id, fact.age_band, fact.sex)
        state.add(
            "clients",
            **sealed_client(state.keys, person.client_id, identity),
            client_ref=ref,
            registered_unit_id=fact.unit_id,
            age_band=fact.age_band,
            sex=fact.sex,
            registered_at=state.now,
        )
        state.people[person.client_id] = state.clients_in[(fact.unit_id, ref)] = person
    fields = assist.client_screened_fields(result)
    open_case = state.open_cases.get((fact.unit_id, ref))
    if open_case is None:
        case = Case(
            case_id=str(uuid.uuid4()),
            client_id=person.client_id,
            client_ref=ref,
            unit_id=fact.unit_id,
            province_code=unit["province_code"],
            village_code=unit["village_code"],
            stage=CaseStage.SCREENING,
            opened_on=fact.screened_at.date(),
            risk_level=result.overall_level,
            injecting_risk_on=fact.screened_at.date() if injecting else None,
        )
        state.new_cases.add(case.case_id)
        state.open_cases[(fact.unit_id, ref)] = case.case_id
    else:  # one open case per person per unit: this re-screens it
        case = pathway.screened(
            state.cases[open_case],
            result.overall_level,
            on=fact.screened_at.date(),
            injecting=injecting,
        )
        state.changed_cases.add(case.case_id)
    state.cases[case.case_id] = case
    state.cases_of[(s.province, fact.submission_id)] = case.case_id
    screening_id = str(uuid.uuid4())
    state.add(
        "screenings",
        screening_id=screening_id,
        case_id=case.case_id,
        rule_set_version=fields["rule_set_version"],
        overall_level=fields["overall_level"],
        injecting=fields["injecting"],
        scores=[score.model_dump(mode="json") for score in fields["scores"]],
        screened_at=fact.screened_at,
        screener_agent_id=fact.screener_agent_id,
    )
    state.add(
        "submissions",
        province_code=s.province,
        submission_id=fact.submission_id,
        case_id=case.case_id,
    )
    state.events.append(
        (
            index,
            events.ClientScreened(
                **where_of(case),
                **fields,
                screening_id=screening_id,
                programme=fact.programme,
                screened_at=fact.screened_at,
                screener_agent_id=fact.screener_agent_id,
                age_band=person.age_band,
                sex=person.sex,
            ),
        )
    )
    return {"case_id": case.case_id}
