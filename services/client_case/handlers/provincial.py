"""What provinces submit — screenings, enrolments, stage changes, relapses, closures —
set-based. A partition's batch:

1. `Batch.load`: the sealed identities opened, then one query per kind of reference (earlier
   submissions, units, clients by pseudonym, cases, their clients);
2. each submission in order against that state, through the same rules as an agent's entry
   (ASSIST scoring, NIK checks, the pathway); a screening registers its client at most once,
   so the same person twice in a batch is one client, and an enrolment may follow its
   screening in the same batch;
3. `Batch.write`: one statement per table, every canonical event in one outbox insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import cases, clients, known_units, people, screenings, submissions
from services.client_case.domain import assist, pathway
from services.client_case.domain.identity import Identity
from services.client_case.domain.pathway import Case
from services.client_case.handlers.common import (
    Agents,
    Keys,
    agent_problems,
    agents_of,
    case_of_row,
    where_of,
)
from services.client_case.handlers.identity import (
    lookup_of_key,
    lookup_of_nik,
    new_client_ref,
    refs_of,
    sealed_client,
)
from shared.contracts import client_case as events
from shared.contracts.base import EventData
from shared.contracts.client_case_inbound import (
    ClosureSubmitted,
    EnrolmentSubmitted,
    RelapseSubmitted,
    ScreeningSubmitted,
    StageChangeSubmitted,
)
from shared.contracts.types import CaseStage
from shared.messaging.outbox import Outbox
from shared.persistence import update_rows
from shared.rules import RuleViolations, Violation, check
from shared.security.encryption import CannotDecrypt, open_identity
from shared.security.identity import nik_problems, normalise_nik

Fact = (
    ScreeningSubmitted
    | EnrolmentSubmitted
    | ClosureSubmitted
    | StageChangeSubmitted
    | RelapseSubmitted
)


@dataclass(frozen=True)
class Submitted:
    """One provincial fact with the province that sent it."""

    province: str
    fact: Fact


class SealedWrongly(Exception):
    """The identity block is not sealed to this service's key."""


@dataclass
class Person:
    """A unit's client record of a person."""

    client_id: str
    client_ref: str
    unit_id: str
    age_band: str | None
    sex: str | None
    erased: bool = False


_PERSON = (
    clients.c.client_id,
    clients.c.client_ref,
    clients.c.registered_unit_id,
    clients.c.age_band,
    clients.c.sex,
    clients.c.erased_at.is_not(None),
)


@dataclass
class Done:
    error: Exception | None = None
    event_id: str | None = None
    created: dict[str, str] = field(default_factory=dict)


@dataclass
class Batch:
    keys: Keys
    today: date
    now: datetime
    identities: dict[int, Identity | Exception] = field(default_factory=dict)
    lookups: dict[int, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    """lookup → the person's client_ref, for the people known (or added by this batch)."""
    cases_of: dict[tuple[str, str], str] = field(default_factory=dict)
    """(province, submission id) → case id."""
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    """By client_id: the submitting units' clients and the clients of loaded cases."""
    clients_in: dict[tuple[str, str], Person] = field(default_factory=dict)
    """(unit id, client_ref) → the unit's client record of that person."""
    open_cases: dict[tuple[str, str], str] = field(default_factory=dict)
    """(unit id, client_ref) → the person's open case in that unit."""
    cases: dict[str, Case] = field(default_factory=dict)
    agents: Agents = field(default_factory=dict)
    new_cases: set[str] = field(default_factory=set)
    changed_cases: set[str] = field(default_factory=set)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    async def load(
        cls, db: AsyncSession, batch: Sequence[Submitted], keys: Keys, private_key: str
    ) -> Batch:
        now = datetime.now(UTC)
        state = cls(keys, now.date(), now)
        for i, s in enumerate(batch):
            if isinstance(s.fact, ScreeningSubmitted):
                state.identities[i] = _identity(s.fact, private_key)
                lookup = state.lookup(i, s)
                if lookup:
                    state.lookups[i] = lookup
        wanted = {(s.province, s.fact.submission_id) for s in batch}
        for province in {p for p, _ in wanted}:
            ids = {sid for p, sid in wanted if p == province}
            found = await db.execute(
                select(submissions.c.submission_id, submissions.c.case_id).where(
                    submissions.c.province_code == province, submissions.c.submission_id.in_(ids)
                )
            )
            state.cases_of.update({(province, sid): case for sid, case in found.tuples()})
        unit_ids = {s.fact.unit_id for s in batch if isinstance(s.fact, ScreeningSubmitted)}
        named = {s.fact.screener_agent_id for s in batch if isinstance(s.fact, ScreeningSubmitted)}
        named |= {
            s.fact.reported_by_agent_id for s in batch if isinstance(s.fact, RelapseSubmitted)
        }
        state.agents = await agents_of(db, named)
        if unit_ids:
            found = await db.execute(select(known_units).where(known_units.c.unit_id.in_(unit_ids)))
            state.units = {r["unit_id"]: dict(r) for r in found.mappings()}
        state.refs = await refs_of(db, set(state.lookups.values()))
        if state.refs:
            found = await db.execute(
                select(*_PERSON).where(
                    clients.c.client_ref.in_(set(state.refs.values())),
                    clients.c.registered_unit_id.in_(unit_ids),
                )
            )
            for row in found:
                person = Person(*row)
                state.people[person.client_id] = person
                state.clients_in[(person.unit_id, person.client_ref)] = person
            query = select(cases).where(
                cases.c.client_ref.in_(set(state.refs.values())),
                cases.c.unit_id.in_(unit_ids),
                cases.c.stage != CaseStage.CLOSED,
            )
            for open_case in (await db.execute(query.with_for_update())).mappings():
                state.cases[open_case["case_id"]] = case_of_row(open_case)
                state.open_cases[(open_case["unit_id"], open_case["client_ref"])] = open_case[
                    "case_id"
                ]
        case_ids = set(state.cases_of.values()) - set(state.cases)
        if case_ids:
            query = select(cases).where(cases.c.case_id.in_(case_ids)).with_for_update()
            state.cases.update(
                {r["case_id"]: case_of_row(r) for r in (await db.execute(query)).mappings()}
            )
        client_ids = {c.client_id for c in state.cases.values()} - set(state.people)
        if client_ids:
            found = await db.execute(select(*_PERSON).where(clients.c.client_id.in_(client_ids)))
            state.people.update({r.client_id: Person(*r) for r in found})
        return state

    def lookup(self, i: int, s: Submitted) -> str | None:
        """What finds the person: the pseudonym of the NIK; else of the province's own key for
        them; None for a person served anonymously."""
        identity = self.identities[i]
        if isinstance(identity, Identity) and identity.nik:
            return lookup_of_nik(self.keys, normalise_nik(identity.nik))
        assert isinstance(s.fact, ScreeningSubmitted)
        key = s.fact.province_client_key
        return lookup_of_key(self.keys, s.province, key) if key else None

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def case_for(self, province: str, submission_id: str) -> Case:
        case_id = self.cases_of.get((province, submission_id))
        if case_id is None:
            raise RuleViolations(
                [
                    Violation(
                        "submission_id",
                        "known-submission",
                        "no screening of this province has this id",
                    )
                ]
            )
        return self.cases[case_id]

    async def write(self, db: AsyncSession, outbox: Outbox, done: list[Done]) -> None:
        """One statement per table, in the order the foreign keys need."""
        self.rows["cases"] = [self.cases[c].__dict__ for c in sorted(self.new_cases)]
        for name, table in (
            ("people", people),
            ("clients", clients),
            ("cases", cases),
            ("screenings", screenings),
            ("submissions", submissions),
        ):
            if self.rows.get(name):
                await db.execute(insert(table), self.rows[name])
        await update_rows(
            db,
            cases.c.case_id,
            [
                {"case_id": c, **{n: getattr(self.cases[c], n) for n in _CHANGING}}
                for c in self.changed_cases - self.new_cases
            ],
        )
        for index, event_id in (await outbox.stage_batch(db, self.events)).items():
            done[index].event_id = event_id


_CHANGING = (
    "stage",
    "risk_level",
    "admission_route",
    "aftercare_source",
    "enrolled_on",
    "closed_on",
    "outcome",
    "version",
    "injecting_risk_on",
)


def screen(state: Batch, index: int, s: Submitted) -> str:
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
        problems = nik_problems(nik, today=state.today)
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
    return case.case_id


def enrol(state: Batch, index: int, s: Submitted) -> str:
    fact = s.fact
    assert isinstance(fact, EnrolmentSubmitted)
    case = state.case_for(s.province, fact.submission_id)
    enrolled = pathway.enrol(
        case,
        route=fact.admission_route,
        source=fact.aftercare_source,
        on=fact.enrolled_on,
        today=state.today,
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
    return case.case_id


def close(state: Batch, index: int, s: Submitted) -> str:
    fact = s.fact
    assert isinstance(fact, ClosureSubmitted)
    case = state.case_for(s.province, fact.submission_id)
    closed = pathway.close(
        case,
        fact.outcome,
        on=fact.closed_on,
        today=state.today,
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
                referral_id=None,
                early_completion_reason=fact.early_completion_reason,
            ),
        )
    )
    return case.case_id


def change_stage(state: Batch, index: int, s: Submitted) -> str:
    fact = s.fact
    assert isinstance(fact, StageChangeSubmitted)
    case = state.case_for(s.province, fact.submission_id)
    changed = pathway.advance(case, fact.to_stage, on=fact.changed_on, today=state.today)
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
    return case.case_id


def report_relapse(state: Batch, index: int, s: Submitted) -> str:
    fact = s.fact
    assert isinstance(fact, RelapseSubmitted)
    case = state.case_for(s.province, fact.submission_id)
    v = []
    if state.people[case.client_id].erased:
        v.append(Violation("submission_id", "not-erased", "this client was erased"))
    if fact.relapsed_on > state.today:
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
    return case.case_id


HANDLERS: dict[type[Fact], Callable[[Batch, int, Submitted], str]] = {
    # each returns the id of the case the fact opened or acted on
    ScreeningSubmitted: screen,
    EnrolmentSubmitted: enrol,
    ClosureSubmitted: close,
    StageChangeSubmitted: change_stage,
    RelapseSubmitted: report_relapse,
}


async def handle(
    db: AsyncSession, outbox: Outbox, batch: Sequence[Submitted], keys: Keys, private_key: str
) -> list[Done]:
    """Apply a batch in order; a refused fact changes nothing and the rest go on."""
    state = await Batch.load(db, batch, keys, private_key)
    done: list[Done] = []
    for index, submitted in enumerate(batch):
        try:  # every rule is checked before a use case touches the batch's state
            case_id = HANDLERS[type(submitted.fact)](state, index, submitted)
            done.append(Done(created={"case_id": case_id}))
        except (RuleViolations, SealedWrongly) as exc:
            done.append(Done(error=exc))
    await state.write(db, outbox, done)
    return done


def _identity(fact: ScreeningSubmitted, private_key: str) -> Identity | Exception:
    if not fact.identity_sealed:
        return Identity()
    try:
        opened = open_identity(private_key, fact.identity_sealed)
    except CannotDecrypt:
        return SealedWrongly()
    return Identity(**{k: v for k, v in opened.items() if k in Identity.__dataclass_fields__})
