"""The answers of a screening: the answer codes of Q2-Q8, one substance's answers to Q1-Q7,
and the scored items in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from shared.contracts.types import AssistFrequency, AssistRecency, AssistSubstance

# The answer codes are contract vocabulary (provinces send them): defined with the contracts.
Frequency = AssistFrequency
Recency = AssistRecency


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
SCORED_ITEMS: Final = (
    ("frequency", "Q2", "use in the past 3 months"),
    ("urge", "Q3", "strong urge"),
    ("problems", "Q4", "problems from use"),
    ("failed_duties", "Q5", "failed expected duties"),
    ("concern", "Q6", "others expressed concern"),
    ("cut_down", "Q7", "failed to cut down"),
)
ITEM_LABELS: Final = {name: f"{q} ({asks})" for name, q, asks in SCORED_ITEMS}
RECENT_USE_ITEMS: Final = ("urge", "problems", "failed_duties")  # Q3-Q5
