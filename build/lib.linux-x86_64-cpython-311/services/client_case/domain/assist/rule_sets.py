"""Editions of the scoring rules: points per answer code, thresholds of the risk levels, and
what the screener does next for each level."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from services.client_case.domain.assist.answers import (
    RECENT_USE_ITEMS,
    SCORED_ITEMS,
    Frequency,
    Recency,
)
from shared.contracts.types import AssistSubstance, RiskLevel


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
        for name, _, _ in SCORED_ITEMS:
            table = self.table(name)
            codes = Frequency if name in ("frequency", *RECENT_USE_ITEMS) else Recency
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
        items = [n for n, _, _ in SCORED_ITEMS]
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
