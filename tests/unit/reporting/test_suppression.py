"""Suppression audited as an attacker would (tests/unit/reporting/audit.py): a withheld small
cell whose value the published cells and the relations pin down is a disclosure, and the test
fails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import cube, suppression
from services.reporting.cube import TOTAL, Leaf
from services.reporting.suppression import Relation, suppress
from tests.unit.reporting import reference
from tests.unit.reporting.audit import audit_settings, disclosed

YEAR = 2026
VILLAGES = [
    "74.71.01.1001",
    "74.71.01.1002",
    "74.71.02.1001",
    "74.02.01.2001",
    "74.02.01.2002",
    "74.02.03.2001",
]


leaf = st.builds(
    Leaf,
    village_code=st.sampled_from(VILLAGES),
    month=st.sampled_from([f"{YEAR}-{m:02d}" for m in (1, 2, 3)]),
    part=st.sampled_from(["low", "moderate", "high"]),
    value=st.integers(1, 9),
    events=st.just(1),
    latest=st.none(),
)


@audit_settings()
@given(st.lists(leaf, min_size=1, max_size=10))
def test_no_small_withheld_cell_can_be_recovered(leaves: list[Leaf]) -> None:
    # Totals with the breakdown that adds up to them (risk levels), as the service does.
    main = cube.apply_suppression(
        cube.build(YEAR, leaves, VILLAGES, parts=("low", "moderate", "high")), 5
    )
    # A breakdown that does not add up (substances: several per screening) keeps the totals.
    as_totals = [replace(leaf, part=TOTAL) for leaf in leaves]
    substances = [
        replace(leaf, part="alcohol" if leaf.part == "low" else "cannabis") for leaf in leaves
    ]
    other = cube.apply_suppression(
        cube.build(
            YEAR,
            substances,
            VILLAGES,
            parts=("alcohol", "cannabis"),
            additive=False,
            totals=as_totals,
        ),
        5,
        totals=main,
    )
    for c in (main, other):
        assert disclosed(c, 5) == []
        for cell in c.withheld:
            assert cube.below_province(cell)  # province and national figures always published
    assert {x for x in other.withheld if x.part == TOTAL} == {
        x for x in main.withheld if x.part == TOTAL
    }


@st.composite
def related(draw: st.DrawFn) -> tuple[list[int], list[Relation[int]], set[int], list[int]]:
    """Cells, relations that hold over them (each total the sum of earlier cells, any cell in
    many relations: regions, months and parts crossed), the withheld ones and each cell's
    upper bound."""
    values = draw(st.lists(st.integers(0, 9), min_size=2, max_size=8))
    relations = []
    for _ in range(draw(st.integers(1, 8))):
        # A cell may be a part twice (the sum counts it twice).
        parts = draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=4))
        relations.append(Relation(len(values), tuple(parts)))
        values.append(sum(values[c] for c in parts))
    withheld = set(draw(st.sets(st.integers(0, len(values) - 1))))
    upper = [v + draw(st.integers(0, 3)) for v in values]
    return values, relations, withheld, upper


@settings(max_examples=300, deadline=None)
@given(related())
def test_narrowing_a_relation_at_a_time_works_out_what_rounds_of_all_of_them_do(
    case: tuple[list[int], list[Relation[int]], set[int], list[int]],
) -> None:
    # The service narrows from a queue (native.c); the reference narrows every relation at
    # once, round after round. Both must close the same withheld cells.
    values, relations, withheld, upper = case
    by_cell: dict[int, list[Relation[int]]] = {}
    for r in relations:
        for c in (r.total, *r.parts):
            by_cell.setdefault(c, []).append(r)
    expected = reference._determined(
        dict(enumerate(values)), relations, withheld, by_cell, upper.__getitem__
    )
    links = suppression.Links.of([r.total for r in relations], [r.parts for r in relations])
    size = len(values)
    cell_starts, by_owner = suppression._grouped(links, size)
    for c in range(size):  # each cell's relations, in order
        assert by_owner[cell_starts[c] : cell_starts[c + 1]].tolist() == [
            j for j, r in enumerate(relations) for m in (r.total, *r.parts) if m == c
        ]
    hidden = np.zeros(size, bool)
    hidden[list(withheld)] = True
    closed = suppression._determined(
        np.array(values, np.int64),
        links,
        hidden,
        np.array(upper, np.int64),
        cell_starts,
        by_owner,
    )
    closed &= np.diff(cell_starts) > 0  # a cell in no relation is the caller's to leave out
    assert set(np.flatnonzero(closed).tolist()) == expected


def test_a_single_small_district_takes_a_sibling_with_it() -> None:
    leaves = [
        Leaf("74.71.01.1001", f"{YEAR}-03", TOTAL, 40, 40, None),
        Leaf("74.71.02.1001", f"{YEAR}-03", TOTAL, 12, 12, None),
        Leaf("74.71.03.1001", f"{YEAR}-03", TOTAL, 2, 2, None),
    ]
    villages = [leaf.village_code for leaf in leaves]
    c = cube.apply_suppression(cube.build(YEAR, leaves, villages), 5)
    districts = {
        cell.region: cell in c.withheld
        for cell in c.figures
        if cell.period == str(YEAR) and cube.level_of(cell.region) == "district"
    }
    # 74.71.03 is small; 74.71.02, the smallest other, is withheld with it; 74.71.01 stays.
    assert districts == {"74.71.01": False, "74.71.02": True, "74.71.03": True}
    assert disclosed(c, 5) == []


def test_relations_with_one_withheld_cell_are_completed() -> None:
    relation = Relation("total", ("a", "b", "c"))
    withheld = suppress(
        {"total": 30, "a": 3, "b": 20, "c": 7}, [relation], k=5, may_withhold=lambda _c: True
    )
    assert withheld == {"a", "c"}  # c: the smallest other part
    nothing_small = suppress(
        {"total": 30, "a": 10, "b": 20},
        [Relation("total", ("a", "b"))],
        k=5,
        may_withhold=lambda _c: True,
    )
    assert nothing_small == set()


def test_bounds_combined_across_relations_pin_nothing() -> None:
    """Found by a longer run of the audit: the province's February figures and a regency whose
    year is all one risk level would have pinned February's single low-risk client."""
    leaves = [
        Leaf("74.71.01.1001", f"{YEAR}-01", "moderate", 5, 1, None),
        Leaf("74.02.01.2001", f"{YEAR}-01", "moderate", 1, 1, None),
        Leaf("74.02.01.2002", f"{YEAR}-01", "low", 1, 1, None),
        Leaf("74.02.01.2002", f"{YEAR}-01", "moderate", 5, 1, None),
        Leaf("74.02.01.2002", f"{YEAR}-02", "low", 1, 1, None),
        Leaf("74.02.01.2002", f"{YEAR}-02", "moderate", 4, 1, None),
    ]
    main = cube.apply_suppression(
        cube.build(YEAR, leaves, VILLAGES, parts=("low", "moderate", "high")), 5
    )
    assert disclosed(main, 5) == []


def test_relations_outside_the_cube_are_refused_before_the_c_code_reads_them() -> None:
    # native.c indexes by the numbers it is given: a wrong one must be an error, not a read
    # or write of memory beyond the arrays.
    values = np.array([3, 1, 2], np.int64)
    flags = np.zeros(3, bool)

    def withheld(links: suppression.Links, upper: np.ndarray = values) -> object:
        return suppression.suppress_indexed(
            values,
            links,
            k=5,
            may_withhold=np.ones(3, bool),
            already=flags,
            upper=upper,
            sensitive=flags,
            name=str,
        )

    assert withheld(suppression.Links.of([0], [[1, 2]])).tolist() == [True, True, True]
    with pytest.raises(ValueError, match="outside a cube of 3 cells"):
        withheld(suppression.Links.of([0], [[1, 3]]))
    for broken in (
        suppression.Links(np.array([0]), np.array([0, 5]), np.array([1, 2])),
        suppression.Links(np.array([0, 1]), np.array([0, 1]), np.array([2])),  # a start short
    ):
        with pytest.raises(ValueError, match="not all in `members`"):
            withheld(broken)
    with pytest.raises(ValueError):  # a bound for each cell, or one for all
        withheld(suppression.Links.of([0], [[1, 2]]), upper=values[:2])


def test_figures_that_break_their_relations_still_end_within_bounds() -> None:
    # A read model mid-repair may hold a total that is not the sum of its parts; intervals
    # then empty and push on. The narrowing must still end, every bound held in 64 bits.
    values = np.array([8, 9, 2, 3, 8, 4], np.int64)
    links = suppression.Links.of([1, 0, 5, 1], [[4], [3, 3], [], [5, 3, 4]])
    size = len(values)
    cell_starts, by_owner = suppression._grouped(links, size)
    withheld = np.array([1, 1, 1, 1, 0, 0], np.uint8)  # 8 and 4 published
    bounds = np.stack([values, values], axis=1)
    bounds[withheld == 1] = (0, 2**40)
    made = suppression._native.pulih_narrow(
        len(links),
        *suppression._arrays(links),
        cell_starts,
        by_owner,
        withheld,
        bounds,
        np.empty(len(links), np.int32),
        np.zeros(len(links), np.uint8),
        10_000,
        2**40,
    )
    assert 0 < made < 10_000 and np.abs(bounds).max() <= 2**40
