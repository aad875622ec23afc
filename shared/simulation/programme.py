"""A province's programme as its own system would record it, generated deterministically from a
seed: units formed over the years (some stop, the rest hold activities), agents appointed and
trained in batches, people screened with a realistic spread of ASSIST risk, the 16-week pathway
with stage changes, referrals of the serious cases and what became of them, relapses, transfers
and closures. Only the provincial inbound contracts are produced (`shared.contracts`), so what
is generated is exactly what a province can send; `publish` sends it.

Plain generation, no I/O: the same seed and day give the same facts, and `Totals` says exactly
what was generated and the figure each indicator must show for it (`expected.py`), to check
the platform's figures against."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from shared.contracts import client_case_inbound as cases
from shared.contracts import registry
from shared.contracts.base import EventData
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted
from shared.simulation import expected

RISK_SHARES = {"low": 0.55, "moderate": 0.35, "high": 0.10}
"""Of the people screened by units (BNN reports most as low risk; a tenth need a clinic)."""

_NEVER = {"ever_used": False}
ANSWERS: dict[str, dict[str, dict[str, object]]] = {
    # ASSIST v3.1 answers whose scores fall in each risk band (alcohol 0-10 low, other
    # substances 0-3 low; 4-26 moderate (11-26 for alcohol); 27 and more high).
    "low": {
        "tobacco": {
            "ever_used": True,
            "frequency": "once_or_twice",
            "urge": "never",
            "problems": "never",
            "concern": "never",
            "cut_down": "never",
        },
        "alcohol": {
            "ever_used": True,
            "frequency": "once_or_twice",
            "urge": "never",
            "problems": "never",
            "failed_duties": "never",
            "concern": "never",
            "cut_down": "never",
        },
    },
    "moderate": {
        "cannabis": {
            "ever_used": True,
            "frequency": "monthly",
            "urge": "monthly",
            "problems": "never",
            "failed_duties": "never",
            "concern": "never",
            "cut_down": "never",
        },
    },
    "high": {
        "amphetamine_type_stimulants": {
            "ever_used": True,
            "frequency": "daily",
            "urge": "daily",
            "problems": "daily",
            "failed_duties": "daily",
            "concern": "past_3_months",
            "cut_down": "never",
        },
    },
}
SUBSTANCES = (
    "tobacco",
    "alcohol",
    "cannabis",
    "cocaine",
    "amphetamine_type_stimulants",
    "inhalants",
    "sedatives",
    "hallucinogens",
    "opioids",
    "other",
)


def zone_of(province: str) -> timezone:
    """The province's clock (WIB, WITA or WIT), for the instants of screenings."""
    hours = 9 if province[0] == "9" else 8 if province in _WITA else 7
    return timezone(timedelta(hours=hours))


_WITA = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}


@dataclass
class Village:
    code: str
    name: str


@dataclass
class Case:
    """One person's course in a unit, as facts in the order the province records them."""

    unit: str
    village: str
    submission_id: str
    risk: str
    screened_on: date
    facts: list[EventData] = field(default_factory=list)
    enrolled_on: date | None = None
    closes_on: date | None = None
    """Sessions due before this day are worked (attended or missed); the ending comes after."""
    ending: cases.ClosureSubmitted | cases.TransferSubmitted | None = None
    """The case's closure, or its transfer to another unit (sent once its sessions are)."""
    attend_share: float = 0.8


@dataclass
class Totals:
    """Exactly what was generated, by kind of fact and by the keys the figures use, and the
    figure every indicator must show for it."""

    counts: Counter[str] = field(default_factory=Counter)
    figures: dict[str, expected.Value] = field(default_factory=dict)
    """By `expected.key(indicator, region, year)`: each indicator's exact figure for the
    province and its regencies, each year (`expected.py`). Complete once `publish` has sent
    the sessions scheduling planned (they make units operational)."""

    def add(self, kind: str, *keys: str) -> None:
        self.counts[kind] += 1
        for key in keys:
            self.counts[f"{kind}|{key}"] += 1

    def as_dict(self) -> dict[str, Any]:
        """The counts, and the expected figures under `figures`."""
        return {**dict(sorted(self.counts.items())), "figures": dict(sorted(self.figures.items()))}


@dataclass
class Programme:
    province: str
    registry: list[EventData]
    cases: list[Case]
    activities: list[ActivitySubmitted]
    totals: Totals
    today: date
    attended: list[AttendanceSubmitted] = field(default_factory=list)
    """The sessions `publish` recorded as attended (scheduling plans them: not generated)."""

    def facts(self) -> list[EventData]:
        """Every fact of the programme, each case's in the order the province sends them
        (its closure or transfer last); the sessions attended after the rest."""
        endings = [f for c in self.cases for f in ([c.ending] if c.ending else [])]
        later = [f for c in self.cases for f in c.facts]
        return [*self.registry, *later, *self.activities, *self.attended, *endings]

    def figures(self) -> dict[str, expected.Value]:
        """Each indicator's exact figure for what the programme sends (`expected.py`)."""
        return expected.figures(expected.ledger_of(self.facts()), self.province, self.today)


def generate(
    *,
    province: str,
    villages: list[Village],
    units: int,
    clients: int,
    seed: int,
    today: date | None = None,
) -> Programme:
    """A province's programme over the year to `today`: `units` units in the given villages
    (formed over the two years before and the first months of the year), `clients` people
    screened during the year."""
    today = today or datetime.now(UTC).date()
    rnd = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    year_start = today - timedelta(days=364)
    totals = Totals()
    facts: list[EventData] = []
    formed: dict[str, tuple[dict[str, str], date, list[str]]] = {}
    stopped: dict[str, date] = {}
    chosen = rnd.sample(villages, min(units, len(villages)))
    for n, village in enumerate(chosen, start=1):
        unit_id = _id("unit", province, seed, n)
        where = {
            "unit_id": unit_id,
            "province_code": province,
            "village_code": village.code,
        }
        formed_on = year_start - timedelta(days=rnd.randint(-240, 730))
        facts.append(
            registry.UnitFormed(
                **where,
                unit_name=f"IBM {village.name}"[:120],
                formed_on=formed_on,
                decree_number=f"{n}/SK-IBM/{formed_on.year}",
                decree_date=formed_on - timedelta(days=rnd.randint(1, 20)),
                formation="bnn_target" if rnd.random() < 0.7 else "mandiri",
                facilitating_office=f"BNNP-{province}",
            )
        )
        totals.add("units_formed", str(formed_on.year), f"{village.code[:5]}|{formed_on.year}")
        agents = []
        for a in range(1, rnd.randint(2, 4) + 1):
            agent_id = _id("agent", province, seed, n * 10 + a)
            agents.append(agent_id)
            facts.append(
                registry.RecoveryAgentAppointed(
                    **where,
                    agent_id=agent_id,
                    role="coordinator" if a == 1 else "member",
                    appointed_on=formed_on,
                    decree_number=f"{n}.{a}/SK-AP/{formed_on.year}",
                    decree_date=formed_on - timedelta(days=1),
                )
            )
            totals.add("agents_appointed")
        facts.append(
            registry.UnitFundingRecorded(
                **where,
                funding_id=_id("fund", province, seed, n),
                fiscal_year=today.year,
                source=rnd.choice(["bnn", "dana_desa", "apbd"]),
                amount_idr=rnd.randrange(10, 60) * 1_000_000,
            )
        )
        formed[unit_id] = (where, formed_on, agents)
        if rnd.random() < 0.12 and formed_on < today - timedelta(days=120):
            stopped[unit_id] = max(formed_on, year_start) + timedelta(days=rnd.randint(30, 90))
    # Trainings: a batch a quarter, for the agents appointed by then and not yet trained.
    trained: set[str] = set()
    for quarter in range(1, 5):
        completed_on = year_start + timedelta(days=91 * quarter - 3)
        if completed_on >= today:
            break
        training_id = _id("train", province, seed, quarter)
        for unit_id, (where, formed_on, agents) in formed.items():
            if formed_on >= completed_on or unit_id in stopped:
                continue
            for agent in agents[:2]:
                if agent in trained:
                    continue
                trained.add(agent)
                facts.append(
                    registry.RecoveryAgentTrained(
                        **where,
                        agent_id=agent,
                        training_id=training_id,
                        training_kind="basic",
                        trainer_office=f"BNNP-{province}",
                        completed_on=completed_on,
                        hours=32,
                    )
                )
                totals.add("agents_trained")
    revived: dict[str, date] = {}
    for unit_id, on in stopped.items():
        facts.append(
            registry.UnitStatusChanged(
                **formed[unit_id][0],
                from_status="active",
                to_status="suspended",
                reason="no_activity",
                effective_on=on,
            )
        )
        back = on + timedelta(days=rnd.randint(45, 120))
        if rnd.random() < 0.4 and back < today:  # some units come back to life
            revived[unit_id] = back
            facts.append(
                registry.UnitStatusChanged(
                    **formed[unit_id][0],
                    from_status="suspended",
                    to_status="active",
                    reason="activity_resumed",
                    effective_on=back,
                )
            )
    serving = [u for u in formed if u not in stopped]
    people = []
    for number in range(1, clients + 1):
        unit_id = rnd.choice(serving)
        where, formed_on, agents = formed[unit_id]
        first_day = max(formed_on + timedelta(days=1), year_start)
        if first_day >= today:
            continue
        screened_on = first_day + timedelta(days=rnd.randrange((today - first_day).days))
        people.append(
            _case(rnd, province, seed, number, where, agents, screened_on, today, serving, formed)
        )
        totals.add("screened", people[-1].risk, f"{screened_on:%Y-%m}")
    for case in people:
        for fact in [*case.facts, *([case.ending] if case.ending else [])]:
            kind = type(fact).__name__.removesuffix("Submitted").lower()
            if isinstance(fact, cases.ClosureSubmitted):
                totals.add("closed", fact.outcome)
            elif not isinstance(fact, cases.ScreeningSubmitted):
                totals.add(kind)
    activities: list[ActivitySubmitted] = []
    for unit_id, (where, formed_on, agents) in formed.items():
        day, end = max(formed_on, year_start), stopped.get(unit_id, today)
        while (day := day + timedelta(days=rnd.randint(20, 60))) < today:
            if end <= day < revived.get(unit_id, today):
                continue  # none while it is stopped
            activities.append(
                ActivitySubmitted(
                    **where,
                    submission_id=_id("act", province, seed, len(activities) + 1),
                    activity_type=rnd.choice(["awareness", "outreach", "screening_day"]),
                    held_on=day,
                    agent_ids=agents[:2],
                    participants=rnd.randint(10, 80),
                )
            )
            totals.add("activities", f"{day:%Y-%m}")
    rnd.shuffle(activities)  # delivered out of order, as offline devices sync them
    programme = Programme(province, facts, people, activities, totals, today)
    totals.figures = programme.figures()
    return programme


def _case(
    rnd: random.Random,
    province: str,
    seed: int,
    number: int,
    where: dict[str, str],
    agents: list[str],
    screened_on: date,
    today: date,
    serving: list[str],
    formed: dict[str, tuple[dict[str, str], date, list[str]]],
) -> Case:
    risk = rnd.choices(list(RISK_SHARES), weights=list(RISK_SHARES.values()))[0]
    submission_id = _id("scr", province, seed, number)
    agent = rnd.choice(agents)
    screened_at = datetime.combine(screened_on, time(rnd.randint(8, 16)), zone_of(province))
    substances = {s: ANSWERS[risk].get(s, _NEVER) for s in SUBSTANCES}
    programme = "sil" if risk == "low" and rnd.random() < 0.4 else "pbm"
    case = Case(where["unit_id"], where["village_code"], submission_id, risk, screened_on)
    case.facts.append(
        cases.ScreeningSubmitted.model_validate(
            {
                **where,
                "submission_id": submission_id,
                "province_client_key": _id("person", province, seed, number),
                "programme": programme,
                "screened_at": screened_at,
                "screener_agent_id": agent,
                "substances": substances,
                "injection": "never",
                "age_band": rnd.choice(["15-19", "20-24", "25-29", "30-34", "35-39", "40-44"]),
                "sex": "male" if rnd.random() < 0.85 else "female",
            }
        )
    )
    on_case = {**where, "submission_id": submission_id}

    def dated(days: int) -> date | None:
        day = screened_on + timedelta(days=days)
        return day if day < today else None

    if risk == "high":  # a clinic's case: referred, and closed once it is taken up
        referral_key = _id("ref", province, seed, number)
        referred = dated(rnd.randint(0, 3))
        if referred is None:
            return case
        case.facts.append(
            cases.ReferralSubmitted(
                **on_case,
                referral_key=referral_key,
                destination_type=rnd.choice(["klinik_pratama", "rumah_sakit"]),
                reason="high_risk",
                referred_on=referred,
                referred_by_agent_id=agent,
            )
        )
        outcome = rnd.choices(["attended", "no_show", None], weights=[7, 2, 1])[0]
        accepted = dated(rnd.randint(4, 6))
        if outcome is None or accepted is None:
            return case
        case.facts.append(
            cases.ReferralResolutionSubmitted(
                **on_case, referral_key=referral_key, resolution="accepted", resolved_on=accepted
            )
        )
        resolved = dated(rnd.randint(7, 14))
        if resolved is None:
            return case
        case.facts.append(
            cases.ReferralResolutionSubmitted(
                **on_case, referral_key=referral_key, resolution=outcome, resolved_on=resolved
            )
        )
        if outcome == "attended":
            case.ending = cases.ClosureSubmitted(
                **on_case, outcome="referred_out", closed_on=resolved, referral_key=referral_key
            )
        return case
    if programme == "sil":
        return case  # a brief intervention at the screening: no pathway
    enrolled = dated(rnd.randint(0, 6))
    if enrolled is None:
        return case
    case.enrolled_on = enrolled
    case.attend_share = rnd.choice([0.95, 0.85, 0.7, 0.4])
    case.facts.append(
        cases.EnrolmentSubmitted(
            **on_case,
            admission_route=rnd.choices(["voluntary", "compulsory"], weights=[8, 2])[0],
            enrolled_on=enrolled,
        )
    )
    services = dated(14 + rnd.randint(0, 6))
    if services is not None:
        case.facts.append(
            cases.StageChangeSubmitted(**on_case, to_stage="services", changed_on=services)
        )
    if services is not None and rnd.random() < 0.1 and (relapse := dated(40)) is not None:
        case.facts.append(
            cases.RelapseSubmitted(
                **on_case,
                substances=[next(iter(ANSWERS[risk]))],
                source=rnd.choice(["self_report", "family_report", "agent_observation"]),
                relapsed_on=relapse,
                reported_by_agent_id=agent,
            )
        )
    if case.attend_share < 0.5:  # stops coming: dropped out around week 8
        dropped = dated(rnd.randint(49, 63))
        if dropped is not None:
            case.closes_on = dropped
            case.ending = cases.ClosureSubmitted(
                **on_case, outcome="dropped_out", closed_on=dropped
            )
        return case
    aftercare = dated(84 + rnd.randint(0, 6))
    if services is not None and aftercare is not None:
        case.facts.append(
            cases.StageChangeSubmitted(**on_case, to_stage="aftercare", changed_on=aftercare)
        )
    if rnd.random() < 0.03 and services is not None and dated(30) is not None:
        others = [u for u in serving if u != where["unit_id"]]
        if others:
            target = formed[rnd.choice(others)][0]
            moved = dated(30)
            assert moved is not None
            case.closes_on = moved
            case.ending = cases.TransferSubmitted(
                **target, submission_id=submission_id, transferred_on=moved
            )
            return case  # its sessions are worked until it moves; the receiving unit goes on
    completed = dated(7 * 16 - 1)
    if completed is not None and aftercare is not None:
        case.closes_on = completed
        case.ending = cases.ClosureSubmitted(**on_case, outcome="completed", closed_on=completed)
    return case


def _id(kind: str, province: str, seed: int, number: int) -> str:
    """A province system's id: readable, unique per kind, province and seed."""
    return f"p{province}-s{seed}-{kind}-{number:07d}"


def unit_id_of(province: str, seed: int, number: int) -> str:
    return _id("unit", province, seed, number)
