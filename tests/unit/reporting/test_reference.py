"""The service's cubes (numbered cells, arrays) hold the same figures, the same relations and
withhold exactly the same cells as the reference written with cells as objects
(`reference.py`), for every shape a cube is made in: a breakdown that adds up to its totals,
a stock, a count with its companion, a count refined by a crossed breakdown, and a further
breakdown that keeps its totals' pattern. Units may lie in one village or in several."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import cube
from tests.unit.reporting import reference

YEAR = 2026
VILLAGES = [f"74.{r:02d}.{d:02d}.{1000 + v}" for r in (1, 2) for d in (1, 2, 3) for v in (1, 2, 3)]
UNITS = ["u-1", "u-2", "u-3", "u-4", "u-5"]

Row = tuple[str, int, str, str, int, int]
"""(village, month, part, unit, value, day of the latest fact)."""


def rows(
    parts: Sequence[str], smallest: int = 1, min_size: int = 1
) -> st.SearchStrategy[list[Row]]:
    return st.lists(
        st.tuples(
            st.sampled_from(VILLAGES),
            st.integers(1, 12),
            st.sampled_from(parts),
            st.sampled_from(UNITS),
            st.integers(smallest, 6),
            st.integers(1, 28),
        ),
        min_size=min_size,
        max_size=40,
    )


def leaves(module: Any, found: list[Row]) -> list[Any]:
    return [
        module.Leaf(v, f"{YEAR}-{m:02d}", p, n, n + 1, datetime(YEAR, m, day, tzinfo=UTC), None, u)
        for v, m, p, u, n, day in found
    ]


def both(make: Any) -> tuple[Any, Any]:
    return make(reference), make(cube)


def assert_same(ours: cube.Cube, theirs: Any) -> None:
    assert {tuple(c): (f.value, f.events, f.latest) for c, f in ours.figures.items()} == {
        tuple(c): (f.value, f.events, f.latest) for c, f in theirs.figures.items()
    }
    assert [(tuple(r.total), [tuple(p) for p in r.parts]) for r in ours.relations] == [
        (tuple(r.total), [tuple(p) for p in r.parts]) for r in theirs.relations
    ]
    own = [c for c in theirs.withheld if ours.index(cube.Cell(*c)) is not None]
    assert {tuple(c) for c in ours.withheld} == {tuple(c) for c in own}


def villages(found: list[Row]) -> list[str]:
    """The villages with units, in the order the read model lists them (the relations'
    order follows it)."""
    return [*sorted({v for v, *_ in found}, reverse=True), "74.03.01.1001"]


def refined(m: Any, found: list[Row], risk: list[str], min_units: int = 1) -> Any:
    """Closures by outcome refined by outcome and risk (the n-th row's risk: `risk[n]`),
    suppressed with k = 5."""
    crossed = [(v, mo, f"{p},{risk[n]}", u, x, d) for n, (v, mo, p, u, x, d) in enumerate(found)]
    fine = tuple(f"{o},{r}" for o in ("completed", "dropped") for r in ("high", "low"))
    return m.apply_suppression(
        m.refine(
            m.build(YEAR, leaves(m, found), villages(found), parts=("completed", "dropped")),
            m.build(YEAR, leaves(m, crossed), villages(found), parts=fine),
        ),
        5,
        min_units=min_units,
    )


examples = settings(max_examples=25, deadline=None, derandomize=True, database=None)


@examples
@given(rows(("low", "moderate", "high")), st.sampled_from((3, 5)), st.sampled_from((1, 3)))
def test_a_breakdown_of_the_totals(found: list[Row], k: int, min_units: int) -> None:
    parts = ("low", "moderate", "high")
    theirs, ours = both(
        lambda m: m.apply_suppression(
            m.build(YEAR, leaves(m, found), villages(found), parts=parts), k, min_units=min_units
        )
    )
    assert_same(ours, theirs)


@examples
@given(rows(("low", "moderate", "high"), smallest=5, min_size=0))
def test_a_cube_with_no_small_figure_withholds_its_zeros_and_nothing_more(
    found: list[Row],
) -> None:
    # No facts at all, or none under k: the service takes a short way (nothing to protect).
    parts = ("low", "moderate", "high")
    theirs, ours = both(
        lambda m: m.apply_suppression(
            m.build(YEAR, leaves(m, found), villages(found), parts=parts), 5
        )
    )
    # ... without making its relations (at national size, most of a cube's memory).
    assert ours.relate is not None, "relations made for a cube with nothing to protect"
    assert_same(ours, theirs)
    every = [ours.cell(i) for i in range(ours.size)]
    zeros_below = {c for c in every if not ours.figure(c).value and cube.below_province(c)}
    assert ours.withheld == zeros_below


@examples
@given(
    rows(("completed", "dropped"), smallest=5, min_size=0),
    st.lists(st.sampled_from(("high", "low")), min_size=40),
)
def test_a_refined_cube_with_no_small_figure_makes_no_relations(
    found: list[Row], risk: list[str]
) -> None:
    # A count refined by a crossed breakdown (`refine`, through `merge`): the same short way.
    theirs, ours = both(lambda m: refined(m, found, risk))
    assert ours.relate is not None, "relations made for a cube with nothing to protect"
    assert_same(ours, theirs)
    every = [ours.cell(i) for i in range(ours.size)]
    assert ours.withheld == {
        c for c in every if not ours.figure(c).value and cube.below_province(c)
    }


@examples
@given(rows(("*",)))
def test_a_stock(found: list[Row]) -> None:
    theirs, ours = both(
        lambda m: m.apply_suppression(
            m.build(YEAR, leaves(m, found), villages(found), flow=False), 5, min_units=3
        )
    )
    assert_same(ours, theirs)


@examples
@given(rows(("health", "social")), st.lists(st.sampled_from(("attended", "not")), min_size=40))
def test_a_count_with_its_companion(found: list[Row], attended: list[str]) -> None:
    split = [(v, m, attended[n], u, x, d) for n, (v, m, _, u, x, d) in enumerate(found)]
    theirs, ours = both(
        lambda m: m.apply_suppression(
            m.merge(
                m.build(YEAR, leaves(m, found), villages(found), parts=("health", "social")),
                m.build(YEAR, leaves(m, split), villages(found), parts=("attended", "not")),
            ),
            5,
            min_units=2,
        )
    )
    assert_same(ours, theirs)


@examples
@given(rows(("completed", "dropped")), st.lists(st.sampled_from(("high", "low")), min_size=40))
def test_a_count_refined(found: list[Row], risk: list[str]) -> None:
    theirs, ours = both(lambda m: refined(m, found, risk, min_units=3))
    assert_same(ours, theirs)


@examples
@given(rows(("a", "b")), rows(("x", "y", "z")))
def test_a_further_breakdown_keeps_its_totals_pattern(
    found: list[Row], substances: list[Row]
) -> None:
    totals = [(v, m, "*", u, x, d) for v, m, _, u, x, d in found]
    where = villages(found)
    own = [row for row in substances if row[0] in where]

    def make(m: Any) -> Any:
        base = m.apply_suppression(m.build(YEAR, leaves(m, found), where, parts=("a", "b")), 5)
        further = m.build(
            YEAR,
            leaves(m, own),
            where,
            parts=("x", "y", "z"),
            additive=False,
            totals=leaves(m, totals),
        )
        return m.apply_suppression(further, 5, totals=base, min_units=2)

    theirs, ours = both(make)
    assert_same(ours, theirs)
