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

from services.client_case.domain.assist.answers import (
    NEVER_USED,
    AssistAnswers,
    Frequency,
    Recency,
    SubstanceAnswers,
)
from services.client_case.domain.assist.rule_sets import (
    ASSIST_3_1_2026_1,
    CURRENT_RULE_SET,
    RULE_SET_VERSION,
    Action,
    Thresholds,
    indonesian_name,
    rule_set,
)
from services.client_case.domain.assist.scoring import (
    ScreeningResult,
    client_screened_fields,
    score_screening,
)

__all__ = [
    "ASSIST_3_1_2026_1",
    "CURRENT_RULE_SET",
    "NEVER_USED",
    "RULE_SET_VERSION",
    "Action",
    "AssistAnswers",
    "Frequency",
    "Recency",
    "ScreeningResult",
    "SubstanceAnswers",
    "Thresholds",
    "client_screened_fields",
    "indonesian_name",
    "rule_set",
    "score_screening",
]
