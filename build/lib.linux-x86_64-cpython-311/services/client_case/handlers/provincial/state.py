"""A partition's batch of provincial facts and the state they are checked against: loaded with
one query per kind of reference (`Batch.load`), changed in memory fact by fact, written with
one statement per table (`Batch.write`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import (
    cases,
    clients,
    known_units,
    people,
    referral_submissions,
    referrals,
    screenings,
    submissions,
)
from services.client_case.domain.identity import Identity
from services.client_case.domain.pathway import Case, Referral
from services.client_case.handlers.common import (
    Agents,
    Keys,
    agents_of,
    case_of_row,
    referral_of_row,
)
from services.client_case.handlers.identity import lookup_of_key, lookup_of_nik, refs_of
from shared.contracts.base import EventData
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
from shared.contracts.types import CaseStage
from shared.messaging.outbox import Outbox
from shared.persistence import update_rows
from shared.regions import local_today
from shared.rules import RuleViolations, Violation
from shared.security.encryption import CannotDecrypt, open_identity
from shared.security.identity import normalise_nik

Fact = (
    ScreeningSubmitted
    | EnrolmentSubmitted
    | ClosureSubmitted
    | StageChangeSubmitted
    | RelapseSubmitted
    | ReferralSubmitted
    | ReferralResolutionSubmitted
    | TransferSubmitted
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
    now: datetime
    identities: dict[int, Identity | Exception] = field(default_factory=dict)
    lookups: dict[int, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    """lookup → the person's client_ref, for the people known (or added by this batch)."""
    cases_of: dict[tuple[str, str], str] = field(default_factory=dict)
    """(province, submission id) → case id."""
    referral_of: dict[tuple[str, str], str] = field(default_factory=dict)
    """(province, referral key) → referral id."""
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    """By client_id: the submitting units' clients and the clients of loaded cases."""
    clients_in: dict[tuple[str, str], Person] = field(default_factory=dict)
    """(unit id, client_ref) → the unit's client record of that person."""
    open_cases: dict[tuple[str, str], str] = field(default_factory=dict)
    """(unit id, client_ref) → the person's open case in that unit."""
    cases: dict[str, Case] = field(default_factory=dict)
    referrals: dict[str, Referral] = field(default_factory=dict)
    agents: Agents = field(default_factory=dict)
    new_cases: set[str] = field(default_factory=set)
    changed_cases: set[str] = field(default_factory=set)
    changed_referrals: set[str] = field(default_factory=set)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    async def load(
        cls, db: AsyncSession, batch: Sequence[Submitted], keys: Keys, private_key: str
    ) -> Batch:
        state = cls(keys, datetime.now(UTC))
        for i, s in enumerate(batch):
            if isinstance(s.fact, ScreeningSubmitted):
                state.identities[i] = _identity(s.fact, private_key)
                lookup = state.lookup(i, s)
                if lookup:
                    state.lookups[i] = lookup
        await state._load_submissions(db, batch)
        screened_in = {s.fact.unit_id for s in batch if isinstance(s.fact, ScreeningSubmitted)}
        moved_to = {s.fact.unit_id for s in batch if isinstance(s.fact, TransferSubmitted)}
        state.agents = await agents_of(db, {a for s in batch for a in _agents_named(s.fact)})
        if screened_in | moved_to:
            found = await db.execute(
                select(known_units).where(known_units.c.unit_id.in_(screened_in | moved_to))
            )
            state.units = {r["unit_id"]: dict(r) for r in found.mappings()}
        state.refs = await refs_of(db, set(state.lookups.values()))
        if state.refs:
            await state._load_people(db, set(state.refs.values()), screened_in)
        case_ids = set(state.cases_of.values()) - set(state.cases)
        case_ids |= {r.case_id for r in state.referrals.values()} - set(state.cases)
        if case_ids:
            query = select(cases).where(cases.c.case_id.in_(case_ids)).with_for_update()
            state.cases.update(
                {r["case_id"]: case_of_row(r) for r in (await db.execute(query)).mappings()}
            )
        if moved_to:  # one open case per person per unit: the receiving units' open cases
            refs = {c.client_ref for c in state.cases.values()}
            found = await db.execute(
                select(cases.c.unit_id, cases.c.client_ref, cases.c.case_id).where(
                    cases.c.unit_id.in_(moved_to),
                    cases.c.client_ref.in_(refs),
                    cases.c.stage != CaseStage.CLOSED,
                )
            )
            state.open_cases.update({(u, ref): case for u, ref, case in found.tuples()})
        client_ids = {c.client_id for c in state.cases.values()} - set(state.people)
        if client_ids:
            found = await db.execute(select(*_PERSON).where(clients.c.client_id.in_(client_ids)))
            state.people.update({r.client_id: Person(*r) for r in found})
        return state

    async def _load_submissions(self, db: AsyncSession, batch: Sequence[Submitted]) -> None:
        """The cases and referrals the batch names by the province's own ids."""
        named = {(s.province, s.fact.submission_id) for s in batch}
        keyed = {(s.province, key) for s in batch if (key := _referral_key(s.fact))}
        for province in {p for p, _ in named}:
            found = await db.execute(
                select(submissions.c.submission_id, submissions.c.case_id).where(
                    submissions.c.province_code == province,
                    submissions.c.submission_id.in_({sid for p, sid in named if p == province}),
                )
            )
            self.cases_of.update({(province, sid): case for sid, case in found.tuples()})
        for province in {p for p, _ in keyed}:
            found = await db.execute(
                select(referral_submissions.c.referral_key, referrals)
                .join(referrals)
                .where(
                    referral_submissions.c.province_code == province,
                    referral_submissions.c.referral_key.in_(
                        {key for p, key in keyed if p == province}
                    ),
                )
                .with_for_update()
            )
            for row in found.mappings():
                self.referral_of[(province, row["referral_key"])] = row["referral_id"]
                self.referrals[row["referral_id"]] = referral_of_row(row)

    async def _load_people(self, db: AsyncSession, refs: set[str], unit_ids: set[str]) -> None:
        """The screening units' client records of the people screened, and their open cases."""
        found = await db.execute(
            select(*_PERSON).where(
                clients.c.client_ref.in_(refs), clients.c.registered_unit_id.in_(unit_ids)
            )
        )
        for row in found:
            person = Person(*row)
            self.people[person.client_id] = person
            self.clients_in[(person.unit_id, person.client_ref)] = person
        query = select(cases).where(
            cases.c.client_ref.in_(refs),
            cases.c.unit_id.in_(unit_ids),
            cases.c.stage != CaseStage.CLOSED,
        )
        for open_case in (await db.execute(query.with_for_update())).mappings():
            self.cases[open_case["case_id"]] = case_of_row(open_case)
            self.open_cases[(open_case["unit_id"], open_case["client_ref"])] = open_case["case_id"]

    def today_in(self, province: str) -> date:
        """The province's own day: its facts are dated in it."""
        return local_today(self.now, province)

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

    def case_for(self, s: Submitted) -> Case:
        """The case a fact names by its screening's submission id: one of this province's
        cases, in the unit the fact names (a transfer names the receiving unit)."""
        case_id = self.cases_of.get((s.province, s.fact.submission_id))
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
        case = self.cases[case_id]
        if case.province_code != s.province:
            raise RuleViolations(
                [Violation("submission_id", "own-province", "the case moved to another province")]
            )
        if not isinstance(s.fact, TransferSubmitted) and s.fact.unit_id != case.unit_id:
            raise RuleViolations(
                [Violation("unit_id", "case-of-unit", "the case is served by another unit")]
            )
        return case

    def referral_for(self, province: str, key: str) -> Referral | None:
        referral_id = self.referral_of.get((province, key))
        return self.referrals[referral_id] if referral_id else None

    async def write(self, db: AsyncSession, outbox: Outbox, done: list[Done]) -> None:
        """One statement per table, in the order the foreign keys need."""
        self.rows["cases"] = [self.cases[c].__dict__ for c in sorted(self.new_cases)]
        for name, table in (
            ("people", people),
            ("clients", clients),
            ("cases", cases),
            ("screenings", screenings),
            ("submissions", submissions),
            ("referrals", referrals),
            ("referral_submissions", referral_submissions),
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
        await update_rows(
            db,
            referrals.c.referral_id,
            [
                {
                    "referral_id": r,
                    "resolution": self.referrals[r].resolution,
                    "resolved_on": self.referrals[r].resolved_on,
                }
                for r in self.changed_referrals
            ],
        )
        for index, event_id in (await outbox.stage_batch(db, self.events)).items():
            done[index].event_id = event_id


_CHANGING = (
    "unit_id",
    "province_code",
    "village_code",
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


def _agents_named(fact: Fact) -> set[str]:
    if isinstance(fact, ScreeningSubmitted):
        return {fact.screener_agent_id}
    if isinstance(fact, RelapseSubmitted):
        return {fact.reported_by_agent_id}
    if isinstance(fact, ReferralSubmitted):
        return {fact.referred_by_agent_id}
    return set()


def _referral_key(fact: Fact) -> str | None:
    if isinstance(fact, ReferralSubmitted | ReferralResolutionSubmitted | ClosureSubmitted):
        return fact.referral_key
    return None


def _identity(fact: ScreeningSubmitted, private_key: str) -> Identity | Exception:
    if not fact.identity_sealed:
        return Identity()
    try:
        opened = open_identity(private_key, fact.identity_sealed)
    except CannotDecrypt:
        return SealedWrongly()
    return Identity(**{k: v for k, v in opened.items() if k in Identity.__dataclass_fields__})
