"""The contributor rule: a client-derived figure below province level made of fewer than
`PULIH_MIN_UNITS` units describes those units' clients however large it is, so it is withheld
like a small one, with its complements, and the attacker can pin none of them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Leaf
from tests.unit.reporting.audit import disclosed

YEAR = 2025
K = 5
MIN_UNITS = 3
VILLAGES = ["74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001"]
UNITS = {v: [f"{v}/u{n}" for n in range(2)] for v in VILLAGES}  # two units in a village


def test_a_large_figure_from_two_units_is_withheld_with_a_complement() -> None:
    # 74.71.02 screened 40 people, all by its two units; 74.71.01's three units screened 30.
    leaves = [
        Leaf("74.71.02.1001", f"{YEAR}-03", TOTAL, 20, 20, None, None, u)
        for u in UNITS["74.71.02.1001"]
    ]
    leaves += [
        Leaf(v, f"{YEAR}-03", TOTAL, 10, 10, None, None, u)
        for v, u in (("74.71.01.1001", "a"), ("74.71.01.1001", "b"), ("74.71.01.1002", "c"))
    ]
    c = cube.apply_suppression(cube.build(YEAR, leaves, VILLAGES), K, min_units=MIN_UNITS)
    district = Cell("74.71.02", str(YEAR), TOTAL)
    assert c.figure(district).value == 40 and district in c.withheld
    # Regency 74.71 is published (70, three units beside two): 74.71.01 must go with it.
    assert Cell("74.71.01", str(YEAR), TOTAL) in c.withheld
    assert Cell("74.71", str(YEAR), TOTAL) not in c.withheld
    assert disclosed(c, K, MIN_UNITS) == []
    # Without the rule, forty screenings are no secret.
    plain = cube.apply_suppression(cube.build(YEAR, leaves, VILLAGES), K)
    assert district not in plain.withheld


leaf = st.builds(
    lambda v, m, u, n: Leaf(v, f"{YEAR}-{m:02d}", TOTAL, n, n, None, None, UNITS[v][u]),
    st.sampled_from(VILLAGES),
    st.integers(1, 3),
    st.integers(0, 1),
    st.integers(1, 20),
)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.lists(leaf, min_size=1, max_size=10))
def test_no_figure_from_too_few_units_is_shown_or_can_be_worked_out(leaves: list[Leaf]) -> None:
    c = cube.apply_suppression(cube.build(YEAR, leaves, VILLAGES), K, min_units=MIN_UNITS)
    for cell, figure in c.figures.items():
        if cube.below_province(cell) and figure.value > 0 and figure.units < MIN_UNITS:
            assert cell in c.withheld, cell
    assert all(cube.below_province(cell) for cell in c.withheld)
    assert disclosed(c, K, MIN_UNITS) == []
