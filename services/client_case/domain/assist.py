"""WHO ASSIST v3.1 screening: answers in, substance scores and risk levels out. Plain Python.

Answers are answer codes (enums), never numbers: the points of each code live only in a
versioned `RuleSet`, so a result can always say which rule set produced it and a later edition
can live beside this one. Answers that break the instrument's skip logic are rejected with a
`RuleViolations` listing every broken rule, each naming the substance and the question.

Skip logic (WHO ASSIST v3.1 administration guide):

* Q1 (ever used) is answered for all ten substances. A substance never used gets no Q2-Q7
  and is left out of the result: it has no score and no level, as ``ClientScreened`` expects.
* Q2, Q6 and Q7 are asked for every substance ever used; Q3-Q5 only when Q2 is not
  ``never`` (used in the past three months); Q5 is never asked for tobacco.
* Q8 (ever injected) is asked once per screening, not per substance, and only when some
  substance was ever used: when every Q1 is no, the interview ends there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypedDict

from shared.contracts.client_case import SubstanceScore
from shared.contracts.types import AssistFrequency, AssistRecency, AssistSubstance, RiskLevel
from shared.rules import Violation, check

# --- Answer codes ----------------------------------------------------------------------------


# The answer codes are contract vocabulary (provinces send them): defined with the contracts.
Frequency = AssistFrequency
Recency = AssistRecency


class Action(StrEnum):
    """What the screener does next for a risk level."""

    GENERAL_ADVICE = "general_advice"
    BRIEF_INTERVENTION = "brief_intervention"
    # brief intervention, then referral for specialist assessment and treatment
    BRIEF_INTERVENTION_AND_REFERRAL = "brief_intervention_and_referral"


INDONESIAN_LEVEL_NAMES: Final[Mapping[RiskLevel, str]] = MappingProxyType(
    {RiskLevel.LOW: "ringan", RiskLevel.MODERATE: "sedang", RiskLevel.HIGH: "berat"}
)


def indonesian_name(level: RiskLevel) -> str:
    """The level as Indonesian practice names it: *ringan*, *sedang* or *berat*."""
    return INDONESIAN_LEVEL_NAMES[level]


# --- Answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubstanceAnswers:
    """One substance's answers to Q1-Q7; ``None`` means the question was not asked."""

    ever_used: bool  # Q1
    frequency: Frequency | None = None  # Q2: used, past 3 months
    urge: Frequency | None = None  # Q3: strong desire or urge
    problems: Frequency | None = None  # Q4: health, social, legal or financial problems
    failed_duties: Frequency | None = None  # Q5: failed what was normally expected
    concern: Recency | None = None  # Q6: a friend, relative or other expressed concern
    cut_down: Recency | None = None  # Q7: tried and failed to control, cut down or stop


NEVER_USED: Final = SubstanceAnswers(ever_used=False)


@dataclass(frozen=True)
class AssistAnswers:
    """The answers of one screening: Q1-Q7 for each substance a-j, and the single Q8."""

    substances: Mapping[AssistSubstance, SubstanceAnswers]
    injection: Recency | None = None  # Q8: ever used any drug by injection (non-medical)


# The scored items in order: answer field, question number, what it asks.
_SCORED_ITEMS: Final = (
    ("frequency", "Q2", "use in the past 3 months"),
    ("urge", "Q3", "strong urge"),
    ("problems", "Q4", "problems from use"),
    ("failed_duties", "Q5", "failed expected duties"),
    ("concern", "Q6", "others expressed concern"),
    ("cut_down", "Q7", "failed to cut down"),
)
_ITEM_LABELS: Final = {name: f"{q} ({asks})" for name, q, asks in _SCORED_ITEMS}
_RECENT_USE_ITEMS: Final = ("urge", "problems", "failed_duties")  # Q3-Q5

# --- Rule sets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Where a substance's score turns moderate and high (both inclusive lower bounds)."""

    moderate_from: int
    high_from: int

    def level(self, score: int) -> RiskLevel:
        if score >= self.high_from:
            return RiskLevel.HIGH
        if score >= self.moderate_from:
            return RiskLevel.MODERATE
        return RiskLevel.LOW


@dataclass(frozen=True)
class RuleSet:
    """One edition of the scoring rules: points per answer code, thresholds, actions."""

    version: str  # a RuleSetVersion, "<instrument>/<edition>"
    frequency: Mapping[Frequency, int]  # Q2
    urge: Mapping[Frequency, int]  # Q3
    problems: Mapping[Frequency, int]  # Q4
    failed_duties: Mapping[Frequency, int]  # Q5
    concern: Mapping[Recency, int]  # Q6
    cut_down: Mapping[Recency, int]  # Q7
    thresholds: Mapping[AssistSubstance, Thresholds]
    without_failed_duties: frozenset[AssistSubstance]  # Q5 is not asked for these
    actions: Mapping[RiskLevel, Action]

    def __post_init__(self) -> None:
        # A gap in a table would surface as a KeyError mid-screening; refuse it up front.
        for name, _, _ in _SCORED_ITEMS:
            table = self.table(name)
            codes = Frequency if name in ("frequency", *_RECENT_USE_ITEMS) else Recency
            if set(table) != set(codes) or min(table.values()) < 0:
                raise ValueError(f"{self.version}: {name} must give points >= 0 to every code")
        if set(self.thresholds) != set(AssistSubstance):
            raise ValueError(f"{self.version}: thresholds must cover every substance")
        if any(not 0 < t.moderate_from < t.high_from for t in self.thresholds.values()):
            raise ValueError(f"{self.version}: need 0 < moderate_from < high_from")
        if set(self.actions) != set(RiskLevel):
            raise ValueError(f"{self.version}: actions must cover every level")

    def level(self, substance: AssistSubstance, score: int) -> RiskLevel:
        return self.thresholds[substance].level(score)

    def action(self, level: RiskLevel) -> Action:
        return self.actions[level]

    def asks_failed_duties(self, substance: AssistSubstance) -> bool:
        return substance not in self.without_failed_duties

    def max_score(self, substance: AssistSubstance) -> int:
        """The highest score the substance can reach (39; 31 for tobacco in v3.1)."""
        items = [n for n, _, _ in _SCORED_ITEMS]
        if not self.asks_failed_duties(substance):
            items.remove("failed_duties")
        return sum(max(self.table(n).values()) for n in items)

    def table(self, item: str) -> Mapping[StrEnum, int]:
        """Points per answer code of a scored item, by its answer field (``"urge"``…)."""
        table: Mapping[StrEnum, int] = getattr(self, item)
        return table


def _frequency_points(*points: int) -> Mapping[Frequency, int]:
    return MappingProxyType(dict(zip(Frequency, points, strict=True)))


def _recency_points(never: int, past_3_months: int, earlier: int) -> Mapping[Recency, int]:
    return MappingProxyType(
        {Recency.NEVER: never, Recency.PAST_3_MONTHS: past_3_months, Recency.EARLIER: earlier}
    )


RULE_SET_VERSION: Final = "assist-3.1/2026.1"

_ALCOHOL: Final = Thresholds(moderate_from=11, high_from=27)
_OTHER: Final = Thresholds(moderate_from=4, high_from=27)

ASSIST_3_1_2026_1: Final = RuleSet(
    version=RULE_SET_VERSION,
    frequency=_frequency_points(0, 2, 3, 4, 6),
    urge=_frequency_points(0, 3, 4, 5, 6),
    problems=_frequency_points(0, 4, 5, 6, 7),
    failed_duties=_frequency_points(0, 5, 6, 7, 8),
    concern=_recency_points(0, 6, 3),
    cut_down=_recency_points(0, 6, 3),
    thresholds=MappingProxyType(
        {s: _ALCOHOL if s is AssistSubstance.ALCOHOL else _OTHER for s in AssistSubstance}
    ),
    without_failed_duties=frozenset({AssistSubstance.TOBACCO}),
    actions=MappingProxyType(
        {
            RiskLevel.LOW: Action.GENERAL_ADVICE,
            RiskLevel.MODERATE: Action.BRIEF_INTERVENTION,
            RiskLevel.HIGH: Action.BRIEF_INTERVENTION_AND_REFERRAL,
        }
    ),
)
CURRENT_RULE_SET: Final = ASSIST_3_1_2026_1

# Every edition that ever scored a published result, so an old result can still be explained.
RULE_SETS: Final[Mapping[str, RuleSet]] = MappingProxyType({RULE_SET_VERSION: ASSIST_3_1_2026_1})


def rule_set(version: str) -> RuleSet:
    """The rule set of a version; `KeyError` for a version this code does not know."""
    return RULE_SETS[version]


# --- Skip logic ------------------------------------------------------------------------------


def check_answers(answers: AssistAnswers, rules: RuleSet = CURRENT_RULE_SET) -> list[Violation]:
    """Every way the answers break the skip logic: questions missing or answered out of turn."""
    violations: list[Violation] = []
    for substance in AssistSubstance:
        given = answers.substances.get(substance)
        if given is None:
            violations.append(
                Violation(
                    f"substances.{substance.value}",
                    "required",
                    f"{substance.value} Q1 (ever used) is asked for every substance",
                )
            )
            continue
        violations.extend(_check_substance(substance, given, rules))

    any_used = any(a.ever_used for a in answers.substances.values())
    if any_used and answers.injection is None:
        violations.append(
            Violation(
                "injection", "required", "Q8 (ever injected) is asked when a substance was used"
            )
        )
    elif not any_used and answers.injection is not None:
        violations.append(
            Violation(
                "injection",
                "not-asked:nothing-used",
                "Q8 (ever injected) is not asked: no substance was ever used, the interview ends",
            )
        )
    return violations


def _check_substance(
    substance: AssistSubstance, given: SubstanceAnswers, rules: RuleSet
) -> list[Violation]:
    def violation(item: str, rule: str, why: str) -> Violation:
        return Violation(
            f"substances.{substance.value}.{item}",
            rule,
            f"{substance.value} {_ITEM_LABELS[item]} {why}",
        )

    out: list[Violation] = []
    asked = _asked_items(substance, given, rules)
    allowed = asked
    if given.ever_used and given.frequency is None:
        # Without Q2 nobody can tell whether Q3-Q5 were due: the missing Q2 is the error.
        allowed = _asked_items(substance, replace(given, frequency=Frequency.DAILY), rules)
    for item, _, _ in _SCORED_ITEMS:
        answered = getattr(given, item) is not None
        if item in asked and not answered:
            out.append(violation(item, "required", "must be answered"))
        elif answered and item not in allowed:
            out.append(violation(item, *_why_not_asked(substance, given, item, rules)))
    return out


def _asked_items(substance: AssistSubstance, given: SubstanceAnswers, rules: RuleSet) -> set[str]:
    if not given.ever_used:
        return set()
    asked = {"frequency", "concern", "cut_down"}
    if given.frequency not in (None, Frequency.NEVER):
        asked |= set(_RECENT_USE_ITEMS)
        if not rules.asks_failed_duties(substance):
            asked.remove("failed_duties")
    return asked


def _why_not_asked(
    substance: AssistSubstance, given: SubstanceAnswers, item: str, rules: RuleSet
) -> tuple[str, str]:
    if not given.ever_used:
        return "not-asked:never-used", "is not asked: Q1 says it was never used"
    if item == "failed_duties" and not rules.asks_failed_duties(substance):
        return f"not-asked:{substance.value}", f"is not asked for {substance.value}"
    return (
        "not-asked:not-used-past-3-months",
        "is asked only for use in the past 3 months, and Q2 is never",
    )


# --- Scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubstanceResult:
    """One ever-used substance: points per item asked (``"Q2"``…), the total, level, action."""

    substance: AssistSubstance
    item_scores: Mapping[str, int]
    score: int
    level: RiskLevel
    action: Action


@dataclass(frozen=True)
class ScreeningResult:
    """A scored screening. ``substances`` holds only the substances ever used, in order a-j."""

    rule_set_version: str
    substances: tuple[SubstanceResult, ...]
    overall_level: RiskLevel  # the highest substance level; low when nothing was used
    action: Action
    injection: Recency  # Q8; never when not asked

    @property
    def injected_recently(self) -> bool:
        """Injected in the past 3 months: the injecting-risk flag that calls for action."""
        return self.injection is Recency.PAST_3_MONTHS

    @property
    def ever_injected(self) -> bool:
        return self.injection is not Recency.NEVER

    def of(self, substance: AssistSubstance) -> SubstanceResult | None:
        """The substance's result; ``None`` when it was never used."""
        return next((r for r in self.substances if r.substance is substance), None)


def score_screening(answers: AssistAnswers, rules: RuleSet = CURRENT_RULE_SET) -> ScreeningResult:
    """Score a screening under ``rules``; `RuleViolations` if it breaks the skip logic."""
    check(check_answers(answers, rules))
    results = tuple(
        _score_substance(s, answers.substances[s], rules)
        for s in AssistSubstance
        if answers.substances[s].ever_used
    )
    overall = max((r.level for r in results), key=lambda lvl: lvl.rank, default=RiskLevel.LOW)
    return ScreeningResult(
        rule_set_version=rules.version,
        substances=results,
        overall_level=overall,
        action=rules.action(overall),
        injection=answers.injection or Recency.NEVER,
    )


def _score_substance(
    substance: AssistSubstance, given: SubstanceAnswers, rules: RuleSet
) -> SubstanceResult:
    item_scores = {
        question: rules.table(item)[code]
        for item, question, _ in _SCORED_ITEMS
        if (code := getattr(given, item)) is not None
    }
    score = sum(item_scores.values())
    level = rules.level(substance, score)
    return SubstanceResult(
        substance=substance,
        item_scores=MappingProxyType(item_scores),
        score=score,
        level=level,
        action=rules.action(level),
    )


# --- Contract mapping ------------------------------------------------------------------------


class ScreenedFields(TypedDict):
    """The fields of ``ClientScreened`` a screening result decides; ids, unit, time and
    screener come from the command."""

    rule_set_version: str
    scores: list[SubstanceScore]
    overall_level: RiskLevel
    injecting: bool
    injected_past_3_months: bool


def client_screened_fields(result: ScreeningResult) -> ScreenedFields:
    """Map a result onto ``ClientScreened``: ``ClientScreened(**fields, case_id=..., ...)``.

    The contract's ``injecting`` means *ever* injected, so it is true for an injection in the
    past 3 months and for an earlier one alike; ``injected_past_3_months`` carries the recency.
    """
    return ScreenedFields(
        rule_set_version=result.rule_set_version,
        scores=[
            SubstanceScore(substance=r.substance, score=r.score, level=r.level)
            for r in result.substances
        ],
        overall_level=result.overall_level,
        injecting=result.ever_injected,
        injected_past_3_months=result.injected_recently,
    )
