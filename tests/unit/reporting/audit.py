"""Suppression audited as an attacker would: everything published is known, every additive
relation between cells is known, values are non-negative integers; an integer program finds
the least and greatest value each withheld cell can take. A withheld small cell whose value
is pinned down is a disclosure."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from services.reporting import cube
from services.reporting.cube import Cell, Cube
from services.reporting.suppression import Relation

C = TypeVar("C", bound=Hashable)


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
    rows, rhs = [], []
    for relation in relations:
        cells = (relation.total, *relation.parts)
        if not any(cell in index for cell in cells):
            continue
        row = np.zeros(len(hidden))
        constant = 0
        for sign, cell in [(1, relation.total)] + [(-1, p) for p in relation.parts]:
            if cell in index:
                row[index[cell]] += sign
            else:
                constant += sign * known[cell]
        rows.append(row)
        rhs.append(-constant)
    constraints = LinearConstraint(np.array(rows), rhs, rhs) if rows else ()
    found = []
    for cell in hidden:
        true = truth(cell)
        if not (0 < true < k or (cell in protect and true > 0)):
            continue  # complementary cells may be large; they protect, they are not protected
        objective = np.zeros(len(hidden))
        objective[index[cell]] = 1
        span = []
        for direction in (1, -1):
            result = milp(
                direction * objective,
                constraints=constraints,
                integrality=np.ones(len(hidden)),
                bounds=Bounds(0, np.inf),
            )
            assert result.success, result.message
            span.append(round(direction * result.fun))
        if span[0] == span[1]:
            found.append((cell, true))
    return found


def disclosed(c: Cube, k: int, min_units: int = 1) -> list[tuple[Cell, int]]:
    """Withheld cells of a suppressed cube with a true value under k (or made of fewer than
    `min_units` units) that its relations pin."""
    cells = {cell for r in c.relations for cell in (r.total, *r.parts)}
    known = {cell: c.figure(cell).value for cell in cells if cell not in c.withheld}
    few = cube.few_units(c, min_units)
    return pinned(c.relations, known, lambda cell: c.figure(cell).value, k, few)
