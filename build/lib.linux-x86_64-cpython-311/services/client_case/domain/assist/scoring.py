"""Scoring: a screening's substance scores, risk levels and action under a rule set, and the
fields of ``ClientScreened`` they decide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypedDict

from services.client_case.domain.assist.answers import (
    SCORED_ITEMS,
    AssistAnswers,
    Recency,
    SubstanceAnswers,
)
from services.client_case.domain.assist.rule_sets import CURRENT_RULE_SET, Action, RuleSet
from services.client_case.domain.assist.skip_logic import check_answers
from shared.contracts.client_case.screening import SubstanceScore
from shared.contracts.types import AssistSubstance, RiskLevel
from shared.rules import check


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
        for item, question, _ in SCORED_ITEMS
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
