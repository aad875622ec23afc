"""The simulator's programme: the same seed and day give the same facts; the answers it
generates for each risk level score to that level under the platform's own rule set; the
totals count exactly what was generated; the facts follow the pathway's order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time
from functools import cache
from typing import Any, TypeVar

import pytest

from services.client_case.domain import assist
from shared.contracts import client_case_inbound as cases
from shared.contracts import registry
from shared.contracts.base import EventData
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted
from shared.simulation import check, expected
from shared.simulation import province as province_module
from shared.simulation.courses import ANSWERS, SUBSTANCES, Case, zone_of
from shared.simulation.demo import national_size
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Programme, Totals, Village, generate
from shared.simulation.province import Platform, Province
from shared.simulation.publish import _plans

VILLAGES = [Village(f"74.71.0{d}.100{v}", f"Desa {d}{v}") for d in range(1, 6) for v in range(1, 8)]
TODAY = date(2026, 11, 29)


def _programme(seed: int = 7) -> Programme:
    return generate(province="74", villages=VILLAGES, units=12, clients=150, seed=seed, today=TODAY)


def test_the_same_seed_and_day_give_the_same_programme_and_another_seed_another() -> None:
    first, again, other = _programme(), _programme(), _programme(8)
    assert first.totals.as_dict() == again.totals.as_dict()  # type: ignore[attr-defined]
    assert [f.model_dump() for c in first.cases for f in c.facts] == [  # type: ignore[attr-defined]
        f.model_dump()
        for c in again.cases
        for f in c.facts  # type: ignore[attr-defined]
    ]
    assert first.totals.as_dict() != other.totals.as_dict()  # type: ignore[attr-defined]


def test_each_risk_levels_answers_score_to_that_level() -> None:
    for level, answers in ANSWERS.items():
        result = assist.score_screening(
            assist.AssistAnswers(
                substances={
                    s: assist.SubstanceAnswers(
                        **cases.SubstanceAnswers.model_validate(
                            answers.get(s, {"ever_used": False})
                        ).model_dump()
                    )
                    for s in SUBSTANCES
                },
                injection="never",  # type: ignore[arg-type]
            )
        )
        assert result.overall_level == level


def test_totals_count_what_was_generated_and_facts_keep_the_pathways_order() -> None:
    programme = generate(
        province="74", villages=VILLAGES, units=12, clients=150, seed=3, today=TODAY
    )
    totals = programme.totals.as_dict()
    assert totals["units_formed"] == 12
    assert totals["screened"] == len(programme.cases) == 150
    risks = Counter(c.risk for c in programme.cases)
    assert {level: totals[f"screened|{level}"] for level in risks} == dict(risks)
    assert totals["activities"] == len(programme.activities)
    for case in programme.cases:
        assert isinstance(case.facts[0], cases.ScreeningSubmitted)
        assert all(f.submission_id == case.submission_id for f in case.facts)  # type: ignore[attr-defined]
        kinds = [type(f).__name__ for f in case.facts]
        if "EnrolmentSubmitted" in kinds:
            assert kinds.index("EnrolmentSubmitted") == 1
        dates = [
            getattr(f, "enrolled_on", None) or getattr(f, "changed_on", None) for f in case.facts
        ]
        assert [d for d in dates if d] == sorted(d for d in dates if d)
        assert all(d < TODAY for d in dates if d)
        if case.risk == "high":
            assert "EnrolmentSubmitted" not in kinds  # a clinic's case


# A programme small enough to count by hand. Regency 74.71 has units U1 (formed 2025) and U3
# (2024); regency 74.72 has U2 (2026). Today is 29 November 2026: years 2024 to 2026.
U1, U2, U3 = "74.71.01.1001", "74.72.02.2001", "74.71.02.1002"


F = TypeVar("F", bound=EventData)


@cache
def _template(kind: type[F]) -> F:
    """A valid fact of `kind` from a generated programme, to copy with the fields that count."""
    programme = _programme()
    facts = [*programme.registry, *programme.activities]
    facts += [f for c in programme.cases for f in (*c.facts, *([c.ending] if c.ending else []))]
    return next(f for f in facts if isinstance(f, kind))


def _id(short: str) -> str:
    """An id as long as the contracts want (16 characters or more)."""
    return f"{short}-counted-by-hand"


IDS = ("unit_id", "agent_id", "training_id", "submission_id", "referral_key", "session_id")


def _fact(kind: type[F], village: str, **fields: object) -> F:
    """A fact of the unit in `village`, its ids given short (`c1` for `c1-counted-by-hand`)."""
    unit = {U1: "u1", U2: "u2", U3: "u3"}[village]
    fields = {"unit_id": unit, **fields}
    fields |= {name: _id(str(v)) for name, v in fields.items() if name in IDS and v is not None}
    return kind.model_validate({**_template(kind).model_dump(), "village_code": village, **fields})


def _case(village: str, n: int, screened: date, *later: EventData) -> Case:
    at = datetime.combine(screened, time(9), zone_of("74"))
    screening = _fact(cases.ScreeningSubmitted, village, submission_id=f"c{n}", screened_at=at)
    unit = {U1: "u1", U2: "u2", U3: "u3"}[village]
    return Case(_id(unit), village, _id(f"c{n}"), "moderate", screened, [screening, *later])


def _on(n: int, kind: type[F], village: str = U1, **fields: object) -> F:
    return _fact(kind, village, submission_id=f"c{n}", **fields)


def _hand_made() -> Programme:
    registry_facts: list[EventData] = [
        _fact(registry.UnitFormed, U3, unit_id="u3", formed_on=date(2024, 5, 1)),
        _fact(registry.UnitFormed, U1, unit_id="u1", formed_on=date(2025, 3, 1)),
        _fact(registry.UnitFormed, U2, unit_id="u2", formed_on=date(2026, 2, 1)),
        _fact(registry.RecoveryAgentAppointed, U3, agent_id="a4", appointed_on=date(2024, 5, 1)),
        _fact(registry.RecoveryAgentAppointed, U1, agent_id="a1", appointed_on=date(2025, 3, 1)),
        _fact(registry.RecoveryAgentAppointed, U1, agent_id="a2", appointed_on=date(2025, 3, 1)),
        _fact(registry.RecoveryAgentAppointed, U2, agent_id="a3", appointed_on=date(2026, 2, 1)),
        _fact(
            registry.RecoveryAgentTrained,
            U1,
            agent_id="a1",
            training_id="t1",
            completed_on=date(2025, 6, 1),
        ),
        _fact(
            registry.RecoveryAgentTrained,
            U1,
            agent_id="a1",
            training_id="t2",
            completed_on=date(2026, 3, 1),
        ),
        _fact(
            registry.RecoveryAgentTrained,
            U1,
            agent_id="a1",
            training_id="t3",
            completed_on=date(2026, 5, 1),
        ),
        _fact(
            registry.RecoveryAgentTrained,
            U1,
            agent_id="a2",
            training_id="t2",
            completed_on=date(2026, 3, 1),
        ),
    ]
    act1 = _fact(
        ActivitySubmitted, U1, submission_id="act1", held_on=date(2025, 12, 20), participants=30
    )
    act2 = _fact(
        ActivitySubmitted, U2, submission_id="act2", held_on=date(2026, 3, 5), participants=12
    )
    relapse = _on(2, cases.RelapseSubmitted, relapsed_on=date(2026, 3, 20))
    people = [
        # Screened in 2025, enrolled in 2026 (3 days), in aftercare at the end of 2026.
        _case(
            U1,
            1,
            date(2025, 12, 30),
            _on(1, cases.EnrolmentSubmitted, enrolled_on=date(2026, 1, 2)),
            _on(1, cases.StageChangeSubmitted, to_stage="services", changed_on=date(2026, 1, 20)),
            _on(1, cases.StageChangeSubmitted, to_stage="aftercare", changed_on=date(2026, 4, 1)),
        ),
        # Enrolled the day it was screened; a relapse (its message sent twice); dropped out.
        _case(
            U1,
            2,
            date(2026, 2, 10),
            _on(2, cases.EnrolmentSubmitted, enrolled_on=date(2026, 2, 10)),
            _on(2, cases.StageChangeSubmitted, to_stage="services", changed_on=date(2026, 3, 1)),
            relapse,
            relapse,
        ),
        # High risk: referred, accepted, attended, closed as referred out.
        _case(
            U2,
            3,
            date(2026, 3, 10),
            _on(3, cases.ReferralSubmitted, U2, referral_key="r3", referred_on=date(2026, 3, 11)),
            _on(
                3,
                cases.ReferralResolutionSubmitted,
                U2,
                referral_key="r3",
                resolution="accepted",
                resolved_on=date(2026, 3, 15),
            ),
            _on(
                3,
                cases.ReferralResolutionSubmitted,
                U2,
                referral_key="r3",
                resolution="attended",
                resolved_on=date(2026, 3, 20),
            ),
        ),
        # Referred and accepted, never attended.
        _case(
            U2,
            4,
            date(2026, 4, 1),
            _on(4, cases.ReferralSubmitted, U2, referral_key="r4", referred_on=date(2026, 4, 2)),
            _on(
                4,
                cases.ReferralResolutionSubmitted,
                U2,
                referral_key="r4",
                resolution="accepted",
                resolved_on=date(2026, 4, 6),
            ),
        ),
        # Enrolled after 7 days, in services, transferred to U2: still in services, at U1.
        _case(
            U1,
            5,
            date(2026, 5, 1),
            _on(5, cases.EnrolmentSubmitted, enrolled_on=date(2026, 5, 8)),
            _on(5, cases.StageChangeSubmitted, to_stage="services", changed_on=date(2026, 5, 20)),
        ),
        # U3's only client: screened and enrolled in 2025 (1 day), a session in 2026.
        _case(
            U3,
            6,
            date(2025, 12, 28),
            _on(6, cases.EnrolmentSubmitted, U3, enrolled_on=date(2025, 12, 29)),
        ),
    ]
    people[1].ending = _on(
        2,
        cases.ClosureSubmitted,
        outcome="dropped_out",
        closed_on=date(2026, 5, 15),
        referral_key=None,
    )
    people[2].ending = _on(
        3,
        cases.ClosureSubmitted,
        U2,
        outcome="referred_out",
        closed_on=date(2026, 3, 20),
        referral_key="r3",
    )
    people[4].ending = cases.TransferSubmitted(
        unit_id=_id("u2"),
        province_code="74",
        village_code=U2,
        submission_id=_id("c5"),
        transferred_on=date(2026, 6, 1),
    )
    programme = Programme(
        "74", registry_facts, people, [act1, act2, act1], Totals(), date(2026, 11, 29)
    )
    programme.attended = [
        AttendanceSubmitted(
            unit_id=_id("u3"),
            province_code="74",
            village_code=U3,
            session_id=_id("s6"),
            held_on=date(2026, 1, 5),
            agent_id=_id("a4"),
        )
    ]
    return programme


def test_expected_figures_of_a_programme_counted_by_hand() -> None:
    figures = _hand_made().figures()
    by_year = {
        # indicator: (2024, 2025, 2026) for the province
        "units_formed": (1, 1, 1),
        "agents_appointed": (1, 2, 1),
        "agents_trained": (0, 1, 2),  # a1 trained twice in 2026: once
        "activities": (0, 1, 1),  # act1 sent twice: once
        "activity_participants": (0, 30, 12),
        "clients_screened": (0, 2, 4),
        "admissions": (0, 1, 3),
        "entered_services": (0, 0, 3),
        "entered_aftercare": (0, 0, 1),
        "closures": (0, 0, 2),
        "referrals": (0, 0, 2),
        "relapses": (0, 0, 1),  # its message sent twice: once
        "in_services": (0, 0, 1),  # c5, transferred: c2 dropped out
        "in_aftercare": (0, 0, 1),
        "units_cumulative": (1, 2, 3),
        "units_against_target": (1, 1, 1),
        "operational_units": (0, 2, 3),  # u3 in 2026 by its session alone
        "sustained_units": (None, 1, 2),  # none formed before 2024
        "median_days_to_intake": (None, 1.0, 3.0),  # 2026: 3, 0 and 7 days
        "referral_completion_rate": (None, None, 0.5),
    }
    assert set(by_year) == set(expected.INDICATORS)
    for indicator, values in by_year.items():
        shown = tuple(figures[expected.key(indicator, "74", y)] for y in (2024, 2025, 2026))
        assert shown == values, indicator
    # Regencies: the transferred case stays where its stages were recorded; a figure that is
    # not a count has no value where there is nothing to compute it from.
    regencies = {
        (name, region): figures[expected.key(name, region, 2026)]
        for name in (
            "units_against_target",
            "operational_units",
            "sustained_units",
            "in_services",
            "referral_completion_rate",
        )
        for region in ("74.71", "74.72")
    }
    assert regencies == {
        ("units_against_target", "74.71"): None,  # none formed there in 2026
        ("units_against_target", "74.72"): 1,
        ("operational_units", "74.71"): 2,
        ("operational_units", "74.72"): 1,
        ("sustained_units", "74.71"): 2,
        ("sustained_units", "74.72"): None,  # none formed there before 2026
        ("in_services", "74.71"): 1,
        ("in_services", "74.72"): 0,
        ("referral_completion_rate", "74.71"): None,  # no referral
        ("referral_completion_rate", "74.72"): 0.5,
    }
    assert {k for k in figures if k.endswith("|2026")} == {
        expected.key(i, r, 2026) for i in expected.INDICATORS for r in ("74", "74.71", "74.72")
    }


def test_what_is_refused_or_repeated_counts_nowhere() -> None:
    """The faults `publish` sends on purpose — a fact again, a case's fact naming a screening
    never sent — and what the platform refuses as breaking a rule: a resolution naming a
    referral the case does not have, a second enrolment, a referral key or an activity's
    submission id used again."""
    programme = _hand_made()
    facts = programme.facts()
    refused = [
        _on(9, cases.EnrolmentSubmitted, enrolled_on=date(2026, 6, 1)),
        _on(
            4,
            cases.ReferralResolutionSubmitted,
            U2,
            referral_key="r9",
            resolution="attended",
            resolved_on=date(2026, 4, 6),
        ),
        _on(1, cases.EnrolmentSubmitted, enrolled_on=date(2026, 7, 1)),
        _on(3, cases.ReferralSubmitted, U2, referral_key="r3", referred_on=date(2026, 8, 1)),
        _fact(
            ActivitySubmitted, U1, submission_id="act1", held_on=date(2026, 8, 1), participants=99
        ),
    ]
    with_faults = expected.ledger_of([*facts, *facts[::3], *refused])
    assert expected.figures(with_faults, "74", TODAY) == programme.figures()


def test_a_generated_programmes_figures_agree_with_what_it_generated() -> None:
    programme = _programme(3)
    totals, figures = programme.totals.as_dict(), programme.totals.figures
    assert totals["figures"] == figures == programme.figures()
    years = range(TODAY.year - 5, TODAY.year + 1)

    def over_years(indicator: str, region: str = "74") -> int:
        return sum(int(figures.get(expected.key(indicator, region, y)) or 0) for y in years)

    assert over_years("units_formed") == totals["units_formed"] == 12
    assert over_years("clients_screened") == totals["screened"] == len(programme.cases)
    assert over_years("activities") == totals["activities"] == len(programme.activities)
    assert over_years("agents_appointed") == totals["agents_appointed"]
    assert over_years("agents_trained") == totals["agents_trained"]
    assert over_years("referrals") == totals["referral"]
    assert over_years("relapses") == totals.get("relapse", 0)
    assert over_years("closures") == sum(v for k, v in totals.items() if k.startswith("closed|"))
    # A province's count is its regencies'.
    regencies = {k.split("|")[1] for k in figures if k.count(".") == 1}
    for indicator in expected.COUNTS + expected.STOCKS:
        for year in years:
            province = figures.get(expected.key(indicator, "74", year))
            parts = [figures.get(expected.key(indicator, r, year)) for r in regencies]
            assert province == (sum(p or 0 for p in parts) if province is not None else None)


def test_a_check_names_each_figure_that_differs_and_by_how_much() -> None:
    figures = _hand_made().figures()
    wanted = check.compared(figures, "74")
    # Every indicator for the province; for the regencies, only those never withheld.
    assert {k.split("|")[0] for k in wanted if k.split("|")[1] == "74"} == set(expected.INDICATORS)
    assert {k.split("|")[0] for k in wanted if k.split("|")[1] != "74"} == set(check.BY_REGENCY)
    assert "clients_screened" not in check.BY_REGENCY
    shown = dict(wanted)
    shown["clients_screened|74|2026"] = 5  # one counted twice
    shown["activities|74.72|2026"] = 0  # one lost
    shown["median_days_to_intake|74|2026"] = 2.5
    del shown["in_services|74|2026"]  # not answered
    assert check.differences(wanted, shown) == [
        "activities 2026 74.72: shown 0, expected 1 (-1)",
        "clients_screened 2026 74: shown 5, expected 4 (+1)",
        "in_services 2026 74: not shown, expected 1",
        "median_days_to_intake 2026 74: shown 2.5, expected 3.0 (-0.5)",
    ]
    assert check.lost_and_doubled(wanted, shown, "74") == (0, 1)  # counts, the province's
    assert check.differences(wanted, wanted) == []


def test_national_size_puts_a_unit_in_a_share_of_villages_and_twelve_people_a_village() -> None:
    assert national_size(6_500, 1) == (6_500, 78_000)  # national: a unit in every village
    assert national_size(6_500, 0.001) == (6, 78)
    assert national_size(300, 0.0001) == (1, 1)  # a province always has a unit and a person
    assert national_size(83_762, 1)[1] == 1_005_144  # about 10^6 across Indonesia


def test_a_settled_outcome_keeps_its_counts_and_what_went_wrong_but_no_message_ids() -> None:
    outcome = Outcome()
    outcome.accepted["ScreeningSubmitted"] = 2
    outcome.answers.update({"m1": "accepted", "m2": "accepted", "m3": "rejected"})
    outcome.reasons["m3"] = ["unit_id known-unit"]
    outcome.planned["m4"] = "duplicate"
    outcome.created["m1"] = {"case_id": "c-1"}
    outcome.resent.add("m4")
    before = outcome.unexpected()
    assert len(before) == 2  # m4 got no answer; m3 was refused unplanned

    outcome.settle()

    assert outcome.unexpected() == before
    assert not outcome.answered_as_expected()
    assert outcome.accepted["ScreeningSubmitted"] == 2
    assert not (outcome.answers or outcome.reasons or outcome.planned or outcome.created)
    assert not outcome.resent


async def test_plans_read_in_parallel_come_back_in_the_order_of_the_cases() -> None:
    class Slow:
        """A province whose plans arrive out of order: later cases answer sooner."""

        async def plan(self, _http: object, case_id: str) -> list[dict[str, Any]]:
            await asyncio.sleep(0.001 * (100 - int(case_id)))
            return [{"session_id": f"{case_id}-1"}]

    case_ids = [str(n) for n in range(60)]
    plans = await _plans(Slow(), None, case_ids)  # type: ignore[arg-type]
    assert [plan[0]["session_id"] for plan in plans] == [f"{n}-1" for n in case_ids]


async def test_a_phase_is_sent_a_slice_at_a_time_under_consecutive_message_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[list[str]] = []

    async def send_records(records: Sequence[tuple[str, bytes, Any, bytes]], kinds: Any) -> None:
        assert [message_id for message_id, *_ in records] == list(kinds)
        sent.append(list(kinds))

    monkeypatch.setattr(province_module, "SEND_SLICE", 3)
    province = Province(Platform("127.0.0.1:1", "http://127.0.0.1:1"), "74", 7, lambda _: None)
    monkeypatch.setattr(province, "send_records", send_records)
    facts = [f for c in _programme().cases[:3] for f in c.facts][:7]

    by_id = await province.send(facts)

    assert [len(ids) for ids in sent] == [3, 3, 1]  # each slice answered before the next
    assert list(by_id) == [i for ids in sent for i in ids]
    assert list(by_id) == [f"sim7-74-{n:08d}" for n in range(1, 8)]
    assert list(by_id.values()) == facts
