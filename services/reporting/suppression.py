"""Small-cell suppression with complementary suppression.

A published table is a set of cells and the additive relations between them: a region is the
sum of its sub-regions, a year the sum of its months, a total the sum of its breakdown. A cell
under `k` (and above zero) that may be suppressed is withheld (primary suppression). A reader
who knows the other cells of a relation could subtract them back, so every relation must hold
either no withheld cell or at least two (complementary suppression): while some relation has
exactly one, the smallest other cell of it that may be withheld is withheld too, preferring a
non-zero child (a withheld zero hides little). Repeat until no relation has exactly one.

The audit in the tests solves the relations for every withheld cell, as an attacker would,
over the non-negative integers, and fails when any withheld cell has a single possible value.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Relation(Generic[K]):
    """`total` equals the sum of `parts`."""

    total: K
    parts: tuple[K, ...]


def suppress(
    values: Mapping[K, int],
    relations: Sequence[Relation[K]],
    *,
    k: int,
    may_withhold: Callable[[K], bool],
    already: Iterable[K] = (),
) -> set[K]:
    """The cells to withhold. Cells missing from `values` count as zero; `already` are cells
    another table withholds (a breakdown keeps the pattern of its totals)."""
    withheld = {c for c, v in values.items() if 0 < v < k and may_withhold(c)}
    withheld.update(already)
    by_cell: dict[K, list[Relation[K]]] = {}
    for relation in relations:
        for cell in (relation.total, *relation.parts):
            by_cell.setdefault(cell, []).append(relation)
    pending = list(relations)
    while pending:
        relation = pending.pop()
        cells = (relation.total, *relation.parts)
        if sum(c in withheld for c in cells) != 1:
            continue
        candidates = [c for c in relation.parts if c not in withheld and may_withhold(c)]
        if not candidates and relation.total not in withheld and may_withhold(relation.total):
            candidates = [relation.total]
        if not candidates:
            continue  # nothing here may be withheld: the published total is policy (province)
        pick = min(candidates, key=lambda c: (values.get(c, 0) == 0, values.get(c, 0), str(c)))
        withheld.add(pick)
        pending.extend(by_cell.get(pick, ()))  # its other relations may now hold one
    return withheld
