"""WHO ASSIST v3.1 scoring: threshold edges, skip logic, injecting flag, and invariants.

The expected points below are the WHO ASSIST v3.1 tables written out again by hand, not read
from the module, so a wrong table in the rule set fails these tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.client_case.domain.assist import (
    ASSIST_3_1_2026_1,
    CURRENT_RULE_SET,
    NEVER_USED,
    RULE_SET_VERSION,
    Action,
    AssistAnswers,
    Frequency,
    Recency,
    SubstanceAnswers,
    Thresholds,
    client_screened_fields,
    indonesian_name,
    rule_set,
    score_screening,
)
from shared.contracts.client_case import ClientScreened
from shared.contracts.types import AssistSubstance, Programme, RiskLevel
from shared.rules import RuleViolations

S = AssistSubstance
F = Frequency
R = Recency

# WHO ASSIST v3.1, written out independently of the module.
Q2 = {F.NEVER: 0, F.ONCE_OR_TWICE: 2, F.MONTHLY: 3, F.WEEKLY: 4, F.DAILY: 6}
Q3 = {F.NEVER: 0, F.ONCE_OR_TWICE: 3, F.MONTHLY: 4, F.WEEKLY: 5, F.DAILY: 6}
Q4 = {F.NEVER: 0, F.ONCE_OR_TWICE: 4, F.MONTHLY: 5, F.WEEKLY: 6, F.DAILY: 7}
Q5 = {F.NEVER: 0, F.ONCE_OR_TWICE: 5, F.MONTHLY: 6, F.WEEKLY: 7, F.DAILY: 8}
Q6_Q7 = {R.NEVER: 0, R.PAST_3_MONTHS: 6, R.EARLIER: 3}
RANK = {RiskLevel.LOW: 0, RiskLevel.MODERATE: 1, RiskLevel.HIGH: 2}


def expected_level(substance: AssistSubstance, score: int) -> RiskLevel:
    if score >= 27:
        return RiskLevel.HIGH
    if score >= (11 if substance is S.ALCOHOL else 4):
        return RiskLevel.MODERATE
    return RiskLevel.LOW


def used(
    q2: Frequency,
    q3: Frequency | None = None,
    q4: Frequency | None = None,
    q5: Frequency | None = None,
    q6: Recency = R.NEVER,
    q7: Recency = R.NEVER,
) -> SubstanceAnswers:
    """Answers for an ever-used substance; Q3-Q5 default to never when used recently."""
    recent = q2 is not F.NEVER
    return SubstanceAnswers(
        ever_used=True,
        frequency=q2,
        urge=q3 or (F.NEVER if recent else None),
        problems=q4 or (F.NEVER if recent else None),
        failed_duties=q5 or (F.NEVER if recent else None),
        concern=q6,
        cut_down=q7,
    )


def screening(q8: Recency | None = R.NEVER, /, **answers: SubstanceAnswers) -> AssistAnswers:
    """All ten substances, never used unless given; Q8 only asked when something was used."""
    substances = {s: answers.get(s.value, NEVER_USED) for s in S}
    any_used = any(a.ever_used for a in substances.values())
    return AssistAnswers(substances, q8 if any_used else None)


def tobacco(
    q2: Frequency, q3: Frequency, q4: Frequency, q6: Recency, q7: Recency
) -> SubstanceAnswers:
    return SubstanceAnswers(True, q2, q3, q4, None, q6, q7)


def violations_of(answers: AssistAnswers) -> set[tuple[str | None, str]]:
    with pytest.raises(RuleViolations) as excinfo:
        score_screening(answers)
    return {(v.field, v.rule) for v in excinfo.value.violations}


# --- Threshold edges -------------------------------------------------------------------------

EDGES = [
    # substance, answers, score, level
    (S.ALCOHOL, used(F.WEEKLY), 4, RiskLevel.LOW),
    (S.ALCOHOL, used(F.DAILY, F.MONTHLY), 10, RiskLevel.LOW),
    (S.ALCOHOL, used(F.ONCE_OR_TWICE, F.ONCE_OR_TWICE, q6=R.PAST_3_MONTHS), 11, RiskLevel.MODERATE),
    (S.ALCOHOL, used(F.DAILY, F.DAILY, F.DAILY, F.WEEKLY), 26, RiskLevel.MODERATE),
    (S.ALCOHOL, used(F.DAILY, F.DAILY, F.DAILY, F.DAILY), 27, RiskLevel.HIGH),
    (S.CANNABIS, used(F.MONTHLY), 3, RiskLevel.LOW),
    (S.CANNABIS, used(F.WEEKLY), 4, RiskLevel.MODERATE),
    (S.OPIOIDS, used(F.NEVER, q6=R.EARLIER), 3, RiskLevel.LOW),
    (S.OPIOIDS, used(F.NEVER, q6=R.EARLIER, q7=R.EARLIER), 6, RiskLevel.MODERATE),
    (S.SEDATIVES, used(F.NEVER, q6=R.PAST_3_MONTHS, q7=R.PAST_3_MONTHS), 12, RiskLevel.MODERATE),
    (
        S.AMPHETAMINE_TYPE_STIMULANTS,
        used(F.DAILY, F.DAILY, F.DAILY, F.WEEKLY),
        26,
        RiskLevel.MODERATE,
    ),
    (S.AMPHETAMINE_TYPE_STIMULANTS, used(F.DAILY, F.DAILY, F.DAILY, F.DAILY), 27, RiskLevel.HIGH),
    (
        S.INHALANTS,
        used(F.ONCE_OR_TWICE, F.ONCE_OR_TWICE, F.ONCE_OR_TWICE, F.ONCE_OR_TWICE),
        14,
        RiskLevel.MODERATE,
    ),
    (
        S.COCAINE,
        used(F.DAILY, F.DAILY, F.DAILY, F.DAILY, R.PAST_3_MONTHS, R.PAST_3_MONTHS),
        39,
        RiskLevel.HIGH,
    ),
    (S.TOBACCO, tobacco(F.MONTHLY, F.NEVER, F.NEVER, R.NEVER, R.NEVER), 3, RiskLevel.LOW),
    (S.TOBACCO, tobacco(F.WEEKLY, F.NEVER, F.NEVER, R.NEVER, R.NEVER), 4, RiskLevel.MODERATE),
    (
        S.TOBACCO,
        tobacco(F.DAILY, F.WEEKLY, F.WEEKLY, R.PAST_3_MONTHS, R.EARLIER),
        26,
        RiskLevel.MODERATE,
    ),
    (
        S.TOBACCO,
        tobacco(F.DAILY, F.DAILY, F.WEEKLY, R.PAST_3_MONTHS, R.EARLIER),
        27,
        RiskLevel.HIGH,
    ),
    (
        S.TOBACCO,
        tobacco(F.DAILY, F.DAILY, F.DAILY, R.PAST_3_MONTHS, R.PAST_3_MONTHS),
        31,
        RiskLevel.HIGH,
    ),
]


@pytest.mark.parametrize(("substance", "answers", "score", "level"), EDGES)
def test_threshold_edges(
    substance: AssistSubstance, answers: SubstanceAnswers, score: int, level: RiskLevel
) -> None:
    result = score_screening(screening(**{substance.value: answers}))
    scored = result.of(substance)
    assert scored is not None
    assert (scored.score, scored.level) == (score, level)
    assert result.overall_level is level


def test_the_highest_scores_are_39_and_31_for_tobacco() -> None:
    assert CURRENT_RULE_SET.max_score(S.TOBACCO) == 31
    assert {CURRENT_RULE_SET.max_score(s) for s in S if s is not S.TOBACCO} == {39}


def test_item_scores_explain_the_total() -> None:
    answers = used(F.MONTHLY, F.WEEKLY, F.ONCE_OR_TWICE, F.DAILY, R.EARLIER, R.PAST_3_MONTHS)
    scored = score_screening(screening(cannabis=answers)).of(S.CANNABIS)
    assert scored is not None
    assert dict(scored.item_scores) == {"Q2": 3, "Q3": 5, "Q4": 4, "Q5": 8, "Q6": 3, "Q7": 6}
    assert scored.score == 29


@pytest.mark.parametrize(
    ("level", "action", "name"),
    [
        (RiskLevel.LOW, Action.GENERAL_ADVICE, "ringan"),
        (RiskLevel.MODERATE, Action.BRIEF_INTERVENTION, "sedang"),
        (RiskLevel.HIGH, Action.BRIEF_INTERVENTION_AND_REFERRAL, "berat"),
    ],
)
def test_each_level_has_its_action_and_indonesian_name(
    level: RiskLevel, action: Action, name: str
) -> None:
    assert CURRENT_RULE_SET.action(level) is action
    assert indonesian_name(level) == name


def test_overall_level_is_the_highest_substance_level() -> None:
    result = score_screening(
        screening(
            tobacco=tobacco(F.MONTHLY, F.NEVER, F.NEVER, R.NEVER, R.NEVER),  # 3 low
            alcohol=used(F.DAILY, F.DAILY),  # 12 moderate
            opioids=used(F.DAILY, F.DAILY, F.DAILY, F.DAILY),  # 27 high
        )
    )
    assert [(r.substance, r.level) for r in result.substances] == [
        (S.TOBACCO, RiskLevel.LOW),
        (S.ALCOHOL, RiskLevel.MODERATE),
        (S.OPIOIDS, RiskLevel.HIGH),
    ]
    assert result.overall_level is RiskLevel.HIGH
    assert result.action is Action.BRIEF_INTERVENTION_AND_REFERRAL
    assert indonesian_name(result.overall_level) == "berat"


def test_a_moderate_and_a_low_substance_make_a_moderate_client() -> None:
    result = score_screening(
        screening(alcohol=used(F.WEEKLY), cannabis=used(F.WEEKLY))  # alcohol 4 low, cannabis 4
    )
    assert result.overall_level is RiskLevel.MODERATE
    assert result.action is Action.BRIEF_INTERVENTION


def test_nobody_who_never_used_anything_is_at_risk() -> None:
    result = score_screening(screening())
    assert result.substances == ()
    assert result.overall_level is RiskLevel.LOW
    assert result.action is Action.GENERAL_ADVICE
    assert not result.ever_injected


# --- Injecting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q8", "recently", "ever"),
    [(R.NEVER, False, False), (R.PAST_3_MONTHS, True, True), (R.EARLIER, False, True)],
)
def test_injection_is_flagged(q8: Recency, recently: bool, ever: bool) -> None:
    result = score_screening(screening(q8, opioids=used(F.WEEKLY)))
    assert result.injection is q8
    assert (result.injected_recently, result.ever_injected) == (recently, ever)
    assert client_screened_fields(result)["injecting"] is ever


def test_injection_does_not_change_any_score() -> None:
    plain = score_screening(screening(R.NEVER, opioids=used(F.WEEKLY)))
    injecting = score_screening(screening(R.PAST_3_MONTHS, opioids=used(F.WEEKLY)))
    assert injecting.substances == plain.substances


# --- Skip logic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param(
            screening(cocaine=SubstanceAnswers(False, frequency=F.WEEKLY)),
            {("substances.cocaine.frequency", "not-asked:never-used")},
            id="Q2 for a substance never used",
        ),
        pytest.param(
            screening(cocaine=SubstanceAnswers(False, concern=R.EARLIER)),
            {("substances.cocaine.concern", "not-asked:never-used")},
            id="Q6 for a substance never used",
        ),
        pytest.param(
            screening(alcohol=replace(used(F.NEVER), urge=F.WEEKLY)),
            {("substances.alcohol.urge", "not-asked:not-used-past-3-months")},
            id="Q3 when Q2 is never",
        ),
        pytest.param(
            screening(alcohol=replace(used(F.NEVER), problems=F.NEVER, failed_duties=F.NEVER)),
            {
                ("substances.alcohol.problems", "not-asked:not-used-past-3-months"),
                ("substances.alcohol.failed_duties", "not-asked:not-used-past-3-months"),
            },
            id="Q4 and Q5 when Q2 is never, even answered never",
        ),
        pytest.param(
            screening(tobacco=used(F.DAILY)),
            {("substances.tobacco.failed_duties", "not-asked:tobacco")},
            id="Q5 for tobacco",
        ),
        pytest.param(
            screening(alcohol=replace(used(F.WEEKLY), frequency=None)),
            {("substances.alcohol.frequency", "required")},
            id="Q2 missing for a substance ever used",
        ),
        pytest.param(
            screening(tobacco=replace(used(F.WEEKLY), frequency=None)),
            {
                ("substances.tobacco.frequency", "required"),
                ("substances.tobacco.failed_duties", "not-asked:tobacco"),
            },
            id="Q2 missing and Q5 for tobacco",
        ),
        pytest.param(
            screening(cannabis=replace(used(F.WEEKLY), urge=None, failed_duties=None)),
            {
                ("substances.cannabis.urge", "required"),
                ("substances.cannabis.failed_duties", "required"),
            },
            id="Q3 and Q5 missing for recent use",
        ),
        pytest.param(
            screening(cannabis=replace(used(F.NEVER), concern=None, cut_down=None)),
            {
                ("substances.cannabis.concern", "required"),
                ("substances.cannabis.cut_down", "required"),
            },
            id="Q6 and Q7 missing for a substance ever used",
        ),
        pytest.param(
            AssistAnswers({s: NEVER_USED for s in S if s is not S.OTHER}),
            {("substances.other", "required")},
            id="a substance without Q1",
        ),
        pytest.param(
            screening(None, alcohol=used(F.WEEKLY)),
            {("injection", "required")},
            id="Q8 missing when a substance was used",
        ),
        pytest.param(
            AssistAnswers({s: NEVER_USED for s in S}, R.NEVER),
            {("injection", "not-asked:nothing-used")},
            id="Q8 when nothing was ever used",
        ),
    ],
)
def test_answers_out_of_turn_are_rejected(
    answers: AssistAnswers, expected: set[tuple[str, str]]
) -> None:
    assert violations_of(answers) == expected


def test_a_rejection_names_the_substance_and_the_question() -> None:
    answers = screening(
        tobacco=used(F.DAILY),
        alcohol=replace(used(F.NEVER), urge=F.DAILY),
    )
    with pytest.raises(RuleViolations) as excinfo:
        score_screening(answers)
    messages = sorted(v.message for v in excinfo.value.violations)
    assert len(messages) == 2
    assert messages[0].startswith("alcohol Q3 ") and "past 3 months" in messages[0]
    assert messages[1].startswith("tobacco Q5 ") and "not asked for tobacco" in messages[1]


# --- Rule sets and the contract --------------------------------------------------------------


def test_the_result_names_the_rule_set_that_scored_it() -> None:
    result = score_screening(screening(alcohol=used(F.WEEKLY)))
    assert result.rule_set_version == RULE_SET_VERSION == "assist-3.1/2026.1"
    assert rule_set(result.rule_set_version) is ASSIST_3_1_2026_1
    with pytest.raises(KeyError):
        rule_set("assist-3.1/1999.1")


def test_another_edition_scores_beside_the_current_one() -> None:
    stricter = replace(
        ASSIST_3_1_2026_1,
        version="assist-3.1/2099.1",
        thresholds=MappingProxyType({s: Thresholds(moderate_from=4, high_from=20) for s in S}),
    )
    answers = screening(alcohol=used(F.DAILY, F.DAILY, F.DAILY))  # 19
    later = score_screening(answers, stricter)
    now = score_screening(answers)
    assert (later.rule_set_version, later.overall_level) == (
        "assist-3.1/2099.1",
        RiskLevel.MODERATE,
    )
    assert (now.rule_set_version, now.overall_level) == (RULE_SET_VERSION, RiskLevel.MODERATE)
    high = screening(alcohol=used(F.DAILY, F.DAILY, F.DAILY, F.ONCE_OR_TWICE))  # 24
    assert score_screening(high, stricter).overall_level is RiskLevel.HIGH
    assert score_screening(high).overall_level is RiskLevel.MODERATE


def test_an_incomplete_rule_set_is_refused() -> None:
    with pytest.raises(ValueError, match="urge"):
        replace(ASSIST_3_1_2026_1, urge=MappingProxyType({F.NEVER: 0}))
    with pytest.raises(ValueError, match="thresholds"):
        replace(ASSIST_3_1_2026_1, thresholds=MappingProxyType({S.ALCOHOL: Thresholds(11, 27)}))


def client_screened(answers: AssistAnswers) -> ClientScreened:
    return ClientScreened(
        **client_screened_fields(score_screening(answers)),
        unit_id="01JB7Q2M5X9R3T8V6W4Y2Z0A1C",
        province_code="74",
        village_code="74.71.01.1001",
        case_id="01JD3K5M7P9R1T3V5X7Z9B1D3F",
        screening_id="01JD3K5M7P9R1T3V5X7Z9B1D3G",
        client_ref="9f2c4e7a1b3d5f6087a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f",
        programme=Programme.PBM,
        screened_at=datetime(2026, 5, 20, 2, 15, tzinfo=UTC),
        screener_agent_id="01JB8A3C5E7G9J1K3M5N7P9Q1R",
    )


def test_the_result_fills_client_screened() -> None:
    event = client_screened(
        screening(
            R.EARLIER,
            amphetamine_type_stimulants=used(F.WEEKLY, F.WEEKLY),  # 9
            tobacco=tobacco(F.DAILY, F.DAILY, F.DAILY, R.PAST_3_MONTHS, R.PAST_3_MONTHS),  # 31
        )
    )
    assert event.rule_set_version == RULE_SET_VERSION
    assert [(s.substance, s.score, s.level) for s in event.scores] == [
        (S.TOBACCO, 31, RiskLevel.HIGH),
        (S.AMPHETAMINE_TYPE_STIMULANTS, 9, RiskLevel.MODERATE),
    ]
    assert event.overall_level is RiskLevel.HIGH
    assert event.injecting is True


def test_a_client_who_never_used_anything_fills_client_screened_with_no_scores() -> None:
    event = client_screened(screening())
    assert (event.scores, event.overall_level, event.injecting) == ([], RiskLevel.LOW, False)


# --- Properties ------------------------------------------------------------------------------

frequencies = st.sampled_from(Frequency)
recencies = st.sampled_from(Recency)


@st.composite
def substance_answers(draw: st.DrawFn, substance: AssistSubstance) -> SubstanceAnswers:
    if not draw(st.booleans()):
        return NEVER_USED
    q2 = draw(frequencies)
    recent = q2 is not F.NEVER
    return SubstanceAnswers(
        ever_used=True,
        frequency=q2,
        urge=draw(frequencies) if recent else None,
        problems=draw(frequencies) if recent else None,
        failed_duties=draw(frequencies) if recent and substance is not S.TOBACCO else None,
        concern=draw(recencies),
        cut_down=draw(recencies),
    )


@st.composite
def screenings(draw: st.DrawFn) -> AssistAnswers:
    substances = {s: draw(substance_answers(s)) for s in S}
    any_used = any(a.ever_used for a in substances.values())
    return AssistAnswers(substances, draw(recencies) if any_used else None)


def hand_score(answers: SubstanceAnswers) -> int:
    """The WHO sum, from the tables written out in this file."""
    frequency_items = (
        (Q2, answers.frequency),
        (Q3, answers.urge),
        (Q4, answers.problems),
        (Q5, answers.failed_duties),
    )
    return sum(table[code] for table, code in frequency_items if code is not None) + sum(
        Q6_Q7[code] for code in (answers.concern, answers.cut_down) if code is not None
    )


@given(screenings())
def test_a_score_is_the_sum_of_its_item_scores(answers: AssistAnswers) -> None:
    for scored in score_screening(answers).substances:
        given_answers = answers.substances[scored.substance]
        assert scored.score == hand_score(given_answers) == sum(scored.item_scores.values())


@given(screenings())
def test_scores_stay_within_the_instrument_range(answers: AssistAnswers) -> None:
    for scored in score_screening(answers).substances:
        assert 0 <= scored.score <= (31 if scored.substance is S.TOBACCO else 39)


@given(screenings())
def test_levels_follow_the_who_thresholds(answers: AssistAnswers) -> None:
    for scored in score_screening(answers).substances:
        assert scored.level is expected_level(scored.substance, scored.score)
        assert scored.action is CURRENT_RULE_SET.action(scored.level)


@given(screenings(), screenings())
def test_a_higher_score_never_means_a_lower_level(
    first: AssistAnswers, second: AssistAnswers
) -> None:
    a, b = score_screening(first), score_screening(second)
    for x in a.substances:
        y = b.of(x.substance)
        if y is not None and x.score <= y.score:
            assert RANK[x.level] <= RANK[y.level]


@pytest.mark.parametrize("substance", list(AssistSubstance))
def test_level_is_monotonic_in_score_and_follows_the_who_thresholds(
    substance: AssistSubstance,
) -> None:
    levels = [CURRENT_RULE_SET.level(substance, score) for score in range(40)]
    assert levels == [expected_level(substance, score) for score in range(40)]
    assert [RANK[lvl] for lvl in levels] == sorted(RANK[lvl] for lvl in levels)


@given(screenings())
def test_the_overall_level_is_the_highest_substance_level(answers: AssistAnswers) -> None:
    result = score_screening(answers)
    levels = [r.level for r in result.substances]
    assert RANK[result.overall_level] == max((RANK[lvl] for lvl in levels), default=0)
    assert result.action is CURRENT_RULE_SET.action(result.overall_level)


@given(screenings())
def test_only_substances_ever_used_are_scored(answers: AssistAnswers) -> None:
    result = score_screening(answers)
    assert [r.substance for r in result.substances] == [
        s for s in S if answers.substances[s].ever_used
    ]


@given(screenings(), st.sampled_from(AssistSubstance))
def test_a_substance_never_used_contributes_nothing(
    answers: AssistAnswers, substance: AssistSubstance
) -> None:
    substances = {**answers.substances, substance: NEVER_USED}
    any_used = any(a.ever_used for a in substances.values())
    without = AssistAnswers(substances, answers.injection if any_used else None)
    before, after = score_screening(answers), score_screening(without)
    assert after.of(substance) is None
    assert after.substances == tuple(r for r in before.substances if r.substance is not substance)


@given(screenings())
def test_every_result_records_its_rule_set_and_fits_the_contract(answers: AssistAnswers) -> None:
    result = score_screening(answers)
    assert result.rule_set_version == RULE_SET_VERSION
    event = client_screened(answers)
    assert event.rule_set_version == RULE_SET_VERSION
    assert [s.score for s in event.scores] == [r.score for r in result.substances]


@given(screenings())
def test_scoring_is_deterministic_and_ignores_answer_order(answers: AssistAnswers) -> None:
    reordered = AssistAnswers(dict(reversed(list(answers.substances.items()))), answers.injection)
    assert score_screening(answers) == score_screening(answers) == score_screening(reordered)


@given(
    screenings(),
    st.sampled_from(AssistSubstance),
    st.sampled_from(["urge", "problems", "failed_duties"]),
)
def test_an_answer_the_skip_logic_does_not_ask_is_rejected(
    answers: AssistAnswers, substance: AssistSubstance, item: str
) -> None:
    current = answers.substances[substance]
    asked = current.frequency not in (None, F.NEVER) and not (
        item == "failed_duties" and substance is S.TOBACCO
    )
    assume(not asked)
    broken = AssistAnswers(
        {**answers.substances, substance: replace(current, **{item: F.NEVER})},  # type: ignore[arg-type]
        answers.injection,
    )
    fields = {field for field, _ in violations_of(broken)}
    assert f"substances.{substance.value}.{item}" in fields
