"""The instrument's skip logic: every question missing or answered out of turn, each named by
its substance and question."""

from __future__ import annotations

from dataclasses import replace

from services.client_case.domain.assist.answers import (
    ITEM_LABELS,
    RECENT_USE_ITEMS,
    SCORED_ITEMS,
    AssistAnswers,
    Frequency,
    SubstanceAnswers,
)
from services.client_case.domain.assist.rule_sets import CURRENT_RULE_SET, RuleSet
from shared.contracts.types import AssistSubstance
from shared.rules import Violation


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
            f"{substance.value} {ITEM_LABELS[item]} {why}",
        )

    out: list[Violation] = []
    asked = _asked_items(substance, given, rules)
    allowed = asked
    if given.ever_used and given.frequency is None:
        # Without Q2 nobody can tell whether Q3-Q5 were due: the missing Q2 is the error.
        allowed = _asked_items(substance, replace(given, frequency=Frequency.DAILY), rules)
    for item, _, _ in SCORED_ITEMS:
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
        asked |= set(RECENT_USE_ITEMS)
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
