"""Closures by outcome crossed with the screening's risk level: each crossed part refines an
outcome the outcome table publishes, so a reader holding both tables knows that an outcome is
the sum of its risk levels. Both tables are cut from one cube suppressed with those relations
beside the region and month ones: nothing small can be pinned. (Suppressing the crossed
table alone, with the outcome table's pattern fixed, could not: a province's published
"2 high-risk drop-outs in January" pinned the one regency with January drop-outs.)"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Leaf
from tests.unit.reporting.audit import audit_settings, disclosed

YEAR = 2025
K = 5
VILLAGES = ["74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001"]
OUTCOMES = ("completed", "dropped_out")
LEVELS = ("low", "moderate", "high", "unknown")
CROSSED = tuple(f"{o},{r}" for o in OUTCOMES for r in LEVELS)

closure = st.tuples(
    st.sampled_from(VILLAGES),
    st.sampled_from([f"{YEAR}-{m:02d}" for m in (1, 2)]),
    st.sampled_from(OUTCOMES),
    st.sampled_from(LEVELS),
    st.integers(1, 9),
)


@audit_settings()
@given(st.lists(closure, min_size=1, max_size=10))
@example(
    [
        ("74.71.01.1002", f"{YEAR}-02", "dropped_out", "unknown", 9),
        ("74.02.01.2001", f"{YEAR}-01", "dropped_out", "moderate", 7),
        ("74.02.01.2001", f"{YEAR}-01", "dropped_out", "high", 2),
        ("74.02.01.2001", f"{YEAR}-01", "completed", "unknown", 6),
    ]
)
def test_outcomes_by_risk_level_beside_outcomes_disclose_nothing(
    closures: list[tuple[str, str, str, str, int]],
) -> None:
    by_outcome = [Leaf(v, m, o, n, n, None) for v, m, o, _r, n in closures]
    crossed = [Leaf(v, m, f"{o},{r}", n, n, None) for v, m, o, r, n in closures]
    refined = cube.apply_suppression(
        cube.refine(
            cube.build(YEAR, by_outcome, VILLAGES, parts=OUTCOMES),
            cube.build(YEAR, crossed, VILLAGES, parts=CROSSED),
        ),
        K,
    )
    assert all(cube.below_province(c) for c in refined.withheld)
    # Every outcome is the sum of its risk levels, in the relations an attacker uses.
    for region in ("74", "74.71.01"):
        for outcome in OUTCOMES:
            parts = [Cell(region, str(YEAR), f"{outcome},{r}") for r in LEVELS]
            assert refined.figure(Cell(region, str(YEAR), outcome)).value == sum(
                refined.figure(p).value for p in parts
            )
    assert refined.figure(Cell("74", str(YEAR), TOTAL)).value == sum(n for *_, n in closures)
    assert disclosed(refined, K) == []
