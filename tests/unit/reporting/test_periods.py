"""Periods as BNN states its figures: years, months, quarters and ranges of years. A quarter's
or a range's cells below province level are sums of cells the monthly or yearly tables
already publish, so reading every quarter and every overlapping range beside those tables
lets an attacker pin no small cell."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Cube, Leaf
from services.reporting.figures import Period
from services.reporting.periods import combined, hidden
from services.reporting.suppression import Relation
from shared.rules import RuleViolations
from tests.unit.reporting.audit import pinned

K = 5
VILLAGES = ["74.71.01.1001", "74.71.01.1002", "74.71.02.1001", "74.02.01.2001"]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-05", date(2026, 5, 1), date(2026, 5, 31)),
        ("2024-Q3", date(2024, 7, 1), date(2024, 9, 30)),
        ("2021..2023", date(2021, 1, 1), date(2023, 12, 31)),
    ],
)
def test_a_period_runs_from_its_first_day_to_its_last(text: str, start: date, end: date) -> None:
    period = Period.parse(text)
    assert (str(period), period.start, period.end) == (text, start, end)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("2026-13", "period-form"),
        ("2024-Q5", "period-form"),
        ("2021-2023", "period-form"),
        ("1999..2003", "period-form"),
        ("2023..2021", "range-order"),
        ("2023..2023", "range-order"),
    ],
)
def test_a_period_that_is_none_of_the_forms_names_the_rule(text: str, rule: str) -> None:
    with pytest.raises(RuleViolations) as raised:
        Period.parse(text)
    assert [(v.field, v.rule) for v in raised.value.violations] == [("period", rule)]
    if rule == "period-form":
        assert "2024-Q3" in raised.value.violations[0].message


def test_a_cohort_is_whole_years() -> None:
    assert str(Period.parse("2021..2023", "cohort", years_only=True)) == "2021..2023"
    with pytest.raises(RuleViolations) as raised:
        Period.parse("2024-Q1", "cohort", years_only=True)
    assert [(v.field, v.rule) for v in raised.value.violations] == [("cohort", "years-only")]


def _year(year: int, leaves: list[tuple[str, int, int]]) -> Cube:
    built = cube.build(
        year, [Leaf(v, f"{year}-{m:02d}", TOTAL, n, n, None) for v, m, n in leaves], VILLAGES
    )
    return cube.apply_suppression(built, K)


leaves = st.lists(
    st.tuples(st.sampled_from(VILLAGES), st.integers(1, 12), st.integers(1, 9)),
    min_size=1,
    max_size=8,
)


Key = tuple[str, Cell]
"""(which table, cell): a year's cube by its index, or "derived"."""


def _audit(cubes: list[Cube], derived: list[tuple[Cube, list[tuple[str, str]]]]) -> list[object]:
    """Every table of the years and every derived period as one attacker: a derived cell is
    the sum of its pieces' cells (cube index, period)."""
    truth: dict[Key, int] = {}
    keyed: list[Relation[Key]] = []
    withheld: set[Key] = set()
    for i, c in enumerate(cubes):
        for r in c.relations:
            if not r.total.region:
                continue  # a one-province cube's Indonesia is the province again
            keyed.append(Relation((str(i), r.total), tuple((str(i), p) for p in r.parts)))
            for cell in (r.total, *r.parts):
                truth[(str(i), cell)] = c.figure(cell).value
        withheld |= {(str(i), cell) for cell in c.withheld}
    for n, (d, pieces) in enumerate(derived):
        for cell, figure in d.figures.items():
            if not cell.region:
                continue
            key = (f"derived-{n}", cell)
            truth[key] = figure.value
            parts = tuple((i, Cell(cell.region, piece, cell.part)) for i, piece in pieces)
            keyed.append(Relation(key, parts))
            if cell in d.withheld:
                withheld.add(key)
    known = {key: value for key, value in truth.items() if key not in withheld}
    return list(pinned(keyed, known, truth.__getitem__, K))


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(leaves)
def test_quarters_beside_the_months_disclose_nothing(found: list[tuple[str, int, int]]) -> None:
    year = _year(2024, found)
    quarters = []
    for q in range(1, 5):
        months = Period.parse(f"2024-Q{q}").months
        quarters.append((combined(f"2024-Q{q}", [(year, m) for m in months]), months))
    for d, months in quarters:
        for cell, figure in d.figures.items():
            pieces = [Cell(cell.region, m, cell.part) for m in months]
            assert figure.value == sum(year.figure(p).value for p in pieces)
            # Shown exactly where every month is shown: a sum of published figures.
            assert (cell in d.withheld) == any(hidden(year, p) for p in pieces)
    assert _audit([year], [(d, [("0", m) for m in months]) for d, months in quarters]) == []


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(leaves, leaves, leaves)
def test_overlapping_ranges_beside_the_years_disclose_nothing(
    first: list[tuple[str, int, int]],
    second: list[tuple[str, int, int]],
    third: list[tuple[str, int, int]],
) -> None:
    years = [_year(2021 + i, found) for i, found in enumerate((first, second, third))]
    ranges = []
    for a, b in ((2021, 2022), (2022, 2023), (2021, 2023)):
        pieces = [(years[y - 2021], str(y)) for y in range(a, b + 1)]
        ranges.append(
            (combined(f"{a}..{b}", pieces), [(str(y - 2021), str(y)) for y in range(a, b + 1)])
        )
    # 2021..2023 minus 2021..2022 is 2023: both ranges published where 2023 is withheld would
    # give it back; a range is withheld wherever one of its years is (and is not known to be
    # zero: a province with none that year).
    for d, pieces in ranges:
        for cell in d.figures:
            withheld = any(
                hidden(years[int(i)], Cell(cell.region, y, cell.part)) for i, y in pieces
            )
            assert (cell in d.withheld) == withheld
    assert _audit(years, ranges) == []
