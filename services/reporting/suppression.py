"""Small-cell suppression with complementary suppression.

A published table is a set of cells and the additive relations between them: a region is the
sum of its sub-regions, a year the sum of its months, a total the sum of its breakdown. A cell
under `k` that may be suppressed is withheld (primary suppression), zero included: a published
zero beside a withheld cell tells a reader the withheld cell is not zero, and withheld cells
whose sum is known to be small would pin each other down. A reader who knows the other cells
of a relation could subtract them back, so every relation must hold either no withheld
non-zero cell or at least two, and when its total is published the other withheld parts must
be able to hold the whole withheld sum within what a reader knows of them (the province's
figure bounds each), or that bound pins the small part (complementary suppression): while a
relation falls short, its smallest other non-zero cell that may be withheld is withheld too.
Relations together can still pin a cell, so what a reader can work out is then searched, and
more is withheld where that came from, until no small cell can be worked out.

The audit in the tests solves the relations for every withheld cell, as an attacker would,
over the non-negative integers, and fails when any withheld cell has a single possible value.
The search for what a reader can work out propagates intervals, which is weaker than the
audit's integer programs: the rules are a heuristic checked by that audit, not a proof.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

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
    upper: Callable[[K], int] | None = None,
    sensitive: Iterable[K] = (),
) -> set[K]:
    """The cells to withhold. Cells missing from `values` count as zero; `already` are cells
    another table withholds (a breakdown keeps the pattern of its totals); `upper(cell)` is the
    most a reader knows a cell can hold (its province's published figure); `sensitive` cells
    are protected like small ones whatever their value (made of too few units)."""
    cells = set(values) | {c for r in relations for c in (r.total, *r.parts)}
    protect = set(sensitive)
    withheld = {c for c in cells if values.get(c, 0) < k and may_withhold(c)} | protect
    withheld.update(already)
    by_cell: dict[K, list[Relation[K]]] = {}
    for relation in relations:
        for cell in (relation.total, *relation.parts):
            by_cell.setdefault(cell, []).append(relation)

    def value(cell: K) -> int:
        return values.get(cell, 0)

    bounds: dict[K, int] = {}

    def bound(cell: K) -> int:
        found = bounds.get(cell)
        if found is None:
            found = bounds[cell] = upper(cell) if upper is not None else 2**62
        return found

    def small(cell: K) -> bool:
        """To protect: under k but not zero, or made of too few units."""
        return 0 < value(cell) < k or (cell in protect and value(cell) > 0)

    def complete(pending: list[Relation[K]]) -> None:
        """Every relation: no withheld non-zero cell, or at least two."""
        while pending:
            relation = pending.pop()
            members = (relation.total, *relation.parts)
            hidden = [c for c in members if c in withheld and values.get(c, 0) > 0]
            if not hidden:
                continue
            if len(hidden) >= 2 and not _pinned_by_bounds(
                relation, hidden, withheld, small, value, bound
            ):
                continue
            candidates = [
                c for c in members if c not in withheld and values.get(c, 0) > 0 and may_withhold(c)
            ]
            if candidates:
                pick = min(candidates, key=lambda c: (c == relation.total, value(c), str(c)))
                withheld.add(pick)
                pending.extend(by_cell.get(pick, ()))
                pending.append(relation)  # it may need more than one

    complete(list(relations))
    # Relations together can still pin a cell (a withheld zero beside a published total says
    # the rest is known). Find what a reader can determine; while a small withheld cell is
    # among it, withhold one more non-zero cell where the determination came from.
    for _ in range(len(cells)):
        determined = _determined(values, relations, withheld, by_cell, bound)
        picks = set()
        for exposed in sorted((c for c in determined if small(c)), key=str):
            pick = _unpinning(exposed, withheld, by_cell, may_withhold, value)
            if pick is not None:  # None: implied by figures published by policy
                picks.add(pick)
        if not picks:
            break
        withheld.update(picks)
        # In a fixed order: every replica (and every run) must withhold the same cells, or
        # two answers for the same figures could be read together.
        complete([r for pick in sorted(picks, key=str) for r in by_cell.get(pick, ())])
    return withheld


def _pinned_by_bounds(
    relation: Relation[K],
    hidden: list[K],
    withheld: set[K],
    small: Callable[[K], bool],
    value: Callable[[K], int],
    upper: Callable[[K], int],
) -> bool:
    """With the total published, a reader knows the withheld parts' sum; a small part is
    pinned unless the other withheld parts, each at most its upper bound, could hold the whole
    sum between them (then the small one could be anything down to zero)."""
    if relation.total in withheld:
        return False
    remainder = sum(map(value, hidden))
    room = sum(map(upper, hidden))
    return any(small(c) and room - upper(c) < remainder for c in hidden)


def _determined(
    values: Mapping[K, int],
    relations: Sequence[Relation[K]],
    withheld: set[K],
    by_cell: Mapping[K, list[Relation[K]]],
    upper: Callable[[K], int],
    rounds: int = 1000,
) -> set[K]:
    """Withheld cells a reader can work out. Every cell gets the interval a reader knows it
    lies in (published: its value; withheld: zero to its province's figure), and each
    relation narrows its members' intervals from the others' (a part is at least the total's
    least minus the other parts' most, at most the total's most minus their least; the total
    between the sums), until nothing moves. A cell whose interval closes is worked out.

    All relations narrow at once, as arrays (a province-year at national size has hundreds of
    thousands of cells), until nothing moves: the same fixpoint as narrowing one relation at
    a time, since each narrowing only ever tightens."""
    active = relations  # those without a withheld cell narrow nothing, and cost little
    if not active or not withheld:
        return set()
    index: dict[K, int] = {}
    totals = np.fromiter(
        (index.setdefault(r.total, len(index)) for r in active), np.int64, len(active)
    )
    sizes = np.fromiter((len(r.parts) for r in active), np.int64, len(active))
    parts = np.fromiter(
        (index.setdefault(c, len(index)) for r in active for c in r.parts),
        np.int64,
        int(sizes.sum()),
    )
    owner = np.repeat(np.arange(len(active)), sizes)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    cells = list(index)
    hidden = np.fromiter((c in withheld for c in cells), bool, len(cells))
    value = np.fromiter((values.get(c, 0) for c in cells), np.int64, len(cells))
    ceiling = np.fromiter(
        (min(max(upper(c), 0), _CEILING) if h else 0 for c, h in zip(cells, hidden, strict=True)),
        np.int64,
        len(cells),
    )
    low = np.where(hidden, 0, value)
    high = np.where(hidden, ceiling, value)
    open_totals = hidden[totals]
    open_parts = hidden[parts]

    def sums(of: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
        running = np.concatenate(([0], np.cumsum(of[parts])))
        return running[bounds[1:]] - running[bounds[:-1]]

    for _ in range(rounds):
        parts_lo, parts_hi = sums(low), sums(high)
        new_low, new_high = low.copy(), high.copy()
        np.maximum.at(new_low, totals[open_totals], parts_lo[open_totals])
        np.minimum.at(new_high, totals[open_totals], parts_hi[open_totals])
        t_lo, t_hi = low[totals][owner], high[totals][owner]
        np.maximum.at(
            new_low,
            parts[open_parts],
            (t_lo - (parts_hi[owner] - high[parts]))[open_parts],
        )
        np.minimum.at(
            new_high,
            parts[open_parts],
            (t_hi - (parts_lo[owner] - low[parts]))[open_parts],
        )
        if np.array_equal(new_low, low) and np.array_equal(new_high, high):
            break
        low, high = new_low, new_high
    closed = hidden & (low >= high)
    return {cells[i] for i in np.flatnonzero(closed)}


_CEILING = 2**40
"""The most any cell is taken to hold (keeps the sums of bounds exact in 64 bits)."""


def _unpinning(
    exposed: K,
    withheld: set[K],
    by_cell: Mapping[K, list[Relation[K]]],
    may_withhold: Callable[[K], bool],
    value: Callable[[K], int],
) -> K | None:
    """The smallest published non-zero cell nearest the exposed one through the relations
    among withheld cells: withholding it loosens an interval on the way there."""
    seen, frontier = {exposed}, [exposed]
    while frontier:
        following = []
        for cell in frontier:
            for relation in by_cell.get(cell, ()):
                members = (relation.total, *relation.parts)
                candidates = [
                    c for c in members if c not in withheld and may_withhold(c) and value(c) > 0
                ]
                if candidates:
                    return min(candidates, key=lambda c: (value(c), str(c)))
                following += [c for c in members if c in withheld and c not in seen]
                seen.update(following)
        frontier = following
    return None
