"""The simulator's programme: the same seed and day give the same facts; the answers it
generates for each risk level score to that level under the platform's own rule set; the
totals count exactly what was generated; the facts follow the pathway's order."""

from __future__ import annotations

from collections import Counter
from datetime import date

from services.client_case.domain import assist
from shared.contracts import client_case_inbound as cases
from shared.simulation.programme import ANSWERS, SUBSTANCES, Programme, Village, generate

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
