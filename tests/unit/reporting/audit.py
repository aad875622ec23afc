"""Suppression audited as an attacker would: everything published is known, every additive
relation between cells is known, values are non-negative integers; an integer program finds
the least and greatest value each withheld cell can take. A withheld small cell whose value
is pinned down is a disclosure."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

import numpy as np
from hypothesis import settings
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from services.reporting import cube
from services.reporting.cube import Cell, Cube
from services.reporting.suppression import Relation

C = TypeVar("C", bound=Hashable)


def audit_settings() -> settings:
    """The fixed examples in `make test` (30, the same every run); `make audit` (env
    PULIH_AUDIT_EXAMPLES) runs as many new random ones as it is given."""
    examples = os.environ.get("PULIH_AUDIT_EXAMPLES")
    return settings(
        max_examples=int(examples or 30),
        deadline=None,
        derandomize=examples is None,
        database=None,
    )


def pinned(
    relations: Iterable[Relation[C]],
    known: Mapping[C, int],
    truth: Callable[[C], int],
    k: int,
    sensitive: Iterable[C] = (),
) -> list[tuple[C, int]]:
    """Cells of the relations that are not `known`, whose true value is under `k` but not
    zero (or that are `sensitive`: made of too few units, whatever their value), and that the
    relations pin to one value."""
    protect = set(sensitive)
    relations = list(relations)
    hidden = sorted({c for r in relations for c in (r.total, *r.parts) if c not in known}, key=str)
    if not hidden:
        return []
    index = {cell: i for i, cell in enumerate(hidden)}
    rows: list[tuple[dict[int, int], int]] = []  # hidden cell → coefficient, right-hand side
    for relation in relations:
        row: dict[int, int] = {}
        constant = 0
        for sign, cell in [(1, relation.total)] + [(-1, p) for p in relation.parts]:
            if cell in index:
                row[index[cell]] = row.get(index[cell], 0) + sign
            else:
                constant += sign * known[cell]
        if row:
            rows.append((row, -constant))
    found = []
    # A cell's range depends only on the cells linked to it through the relations: each
    # connected group is its own (much smaller) integer program.
    for group, group_rows in _groups(len(hidden), rows):
        column = {i: j for j, i in enumerate(group)}
        entries = [
            (r, column[i], c) for r, (row, _) in enumerate(group_rows) for i, c in row.items()
        ]
        at, to, coefficients = zip(*entries, strict=True) if entries else ((), (), ())
        matrix = csr_array((coefficients, (at, to)), shape=(len(group_rows), len(group)))
        rhs = [value for _, value in group_rows]
        constraints = LinearConstraint(matrix, rhs, rhs) if group_rows else ()
        true = {column[i]: truth(hidden[i]) for i in group}
        # Complementary cells may be large; they protect, they are not protected.
        undecided = {
            column[i]
            for i in group
            if 0 < true[column[i]] < k or (hidden[i] in protect and true[column[i]] > 0)
        }

        def solve(objective: np.ndarray) -> np.ndarray:
            result = milp(
                objective,
                constraints=constraints,  # noqa: B023 - called within its group's loop
                integrality=np.ones(len(objective)),
                bounds=Bounds(0, np.inf),
            )
            assert result.success, result.message
            return np.rint(result.x)

        # The true values are one solution. Any other solution in which a cell differs shows
        # that cell is not pinned: first two solutions for all of them at once (their sum
        # least and greatest), then each cell still undecided on its own, least and greatest.
        for direction in (1, -1):
            if undecided:
                objective = np.zeros(len(group))
                objective[list(undecided)] = direction
                other = solve(objective)
                undecided = {j for j in undecided if other[j] == true[j]}
        for j in sorted(undecided):
            objective = np.zeros(len(group))
            objective[j] = 1
            if solve(objective)[j] == true[j] and solve(-objective)[j] == true[j]:
                found.append((hidden[group[j]], true[j]))
    return found


def _groups(
    size: int, rows: list[tuple[dict[int, int], int]]
) -> list[tuple[list[int], list[tuple[dict[int, int], int]]]]:
    """The hidden cells (by index) in groups connected by the rows, each with its rows."""
    parent = list(range(size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row, _ in rows:
        first, *others = row
        for other in others:
            parent[root(other)] = root(first)
    cells: dict[int, list[int]] = {}
    for i in range(size):
        cells.setdefault(root(i), []).append(i)
    linked: dict[int, list[tuple[dict[int, int], int]]] = {}
    for row, value in rows:
        linked.setdefault(root(next(iter(row))), []).append((row, value))
    return [(members, linked.get(key, [])) for key, members in cells.items()]


def disclosed(c: Cube, k: int, min_units: int = 1) -> list[tuple[Cell, int]]:
    """Withheld cells of a suppressed cube with a true value under k (or made of fewer than
    `min_units` units) that its relations pin."""
    cells = {cell for r in c.relations for cell in (r.total, *r.parts)}
    withheld = c.withheld  # made afresh on every read: once, not once a cell
    known = {cell: c.figure(cell).value for cell in cells if cell not in withheld}
    few = cube.few_units(c, min_units)
    return pinned(c.relations, known, lambda cell: c.figure(cell).value, k, few)
