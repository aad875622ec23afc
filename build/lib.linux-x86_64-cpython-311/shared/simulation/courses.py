"""One person's course in a unit, as a province's system records it: screened with ASSIST
answers of a risk band, then referred to a clinic, or enrolled on the 16-week pathway with its
stage changes, relapses, transfer or closure. Deterministic from the generator's random state."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from shared.contracts import client_case_inbound as cases
from shared.contracts.base import EventData

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


def course(
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
    submission_id = system_id("scr", province, seed, number)
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
                "province_client_key": system_id("person", province, seed, number),
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
        referral_key = system_id("ref", province, seed, number)
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


def system_id(kind: str, province: str, seed: int, number: int) -> str:
    """A province system's id: readable, unique per kind, province and seed."""
    return f"p{province}-s{seed}-{kind}-{number:07d}"
