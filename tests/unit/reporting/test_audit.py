"""The attacker's audit itself (audit.py) finds what can be worked out: without this, every
"disclose nothing" test would pass against an audit that finds nothing."""

from __future__ import annotations

from services.reporting.suppression import Relation
from tests.unit.reporting.audit import pinned

K = 5
# Two small tables side by side: a = b + c, d = e + f; and the totals of both, t = a + d.
RELATIONS = [
    Relation("a", ("b", "c")),
    Relation("d", ("e", "f")),
    Relation("t", ("a", "d")),
]
TRUTH = {"a": 9, "b": 2, "c": 7, "d": 8, "e": 3, "f": 5, "t": 17}


def audit(withheld: set[str], sensitive: set[str] = frozenset()) -> set[tuple[str, int]]:
    known = {cell: value for cell, value in TRUTH.items() if cell not in withheld}
    return set(pinned(RELATIONS, known, TRUTH.__getitem__, K, sensitive))


def test_a_lone_small_cell_beside_its_total_and_sibling_is_worked_out() -> None:
    assert audit({"b"}) == {("b", 2)}


def test_a_small_cell_withheld_with_a_complement_is_not() -> None:
    assert audit({"b", "c"}) == set()


def test_cells_pinned_through_another_table_are_found() -> None:
    # a is withheld with b, but t - d gives a, then a - c gives b; e and f protect each other.
    assert audit({"a", "b", "e", "f"}) == {("b", 2)}
    # Withheld across both tables, b + e = 5 is all that can be worked out.
    assert audit({"a", "b", "d", "e"}) == set()


def test_only_small_or_sensitive_cells_count_as_disclosed() -> None:
    assert audit({"c"}) == set()  # 7 is not small
    assert audit({"c"}, sensitive={"c"}) == {("c", 7)}
