"""Medians and rates below province level are cut from the suppressed cubes of the counts
they carry: they show a region only where those tables do, carry only what those tables
show, and the tables and the rates together still let an attacker pin no small cell."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Leaf
from services.reporting.figures import Row
from services.reporting.special.clients import median_row, rate_row
from services.reporting.suppressed_cubes import ATTENDED, NOT_ATTENDED
from tests.unit.reporting.audit import disclosed

YEAR = 2026
K = 5
VILLAGES = [
    "74.71.01.1001",
    "74.71.01.1002",
    "74.71.02.1001",
    "74.02.01.2001",
    "74.02.01.2002",
    "74.02.03.2001",
]
DESTINATIONS = ("klinik_pratama", "balai_rehabilitasi", "other")


def _median(region: str, clients: int) -> Row:
    return Row(region, TOTAL, 10.0, False, clients, None, {"clients": clients})


def _admissions(counts: dict[str, int], month: str = f"{YEAR}-05") -> cube.Cube:
    leaves = [Leaf(v, month, TOTAL, n, n, None) for v, n in counts.items()]
    return cube.apply_suppression(cube.build(YEAR, leaves, VILLAGES), K)


def test_a_median_is_shown_only_where_the_admissions_table_shows_its_count() -> None:
    # 74.71.02 admitted 2 and is withheld; 74.71.01 (6) goes with it as its complement. The
    # median of 74.71.01 used to show "clients": 6, and 8 (74.71, published) - 6 gave the 2.
    c = _admissions({"74.71.01.1001": 6, "74.71.02.1001": 2, "74.02.01.2001": 5})
    rows = {
        district: median_row(c, Cell(district, str(YEAR), TOTAL), _median(district, n), K)
        for district, n in (("74.71.01", 6), ("74.71.02", 2), ("74.02.01", 5))
    }
    assert rows["74.71.01"].withheld
    assert rows["74.71.01"].extra == {"clients": None, "admissions": None}
    assert rows["74.71.02"].withheld
    shown = rows["74.02.01"]
    assert (shown.value, shown.extra) == (10.0, {"clients": None, "admissions": 5})
    assert disclosed(c, K) == []


def test_a_median_over_fewer_than_k_screened_clients_is_withheld() -> None:
    # Seven admitted, only two of them screened by the unit: the median is those two's.
    c = _admissions({"74.02.01.2001": 7})
    row = median_row(c, Cell("74.02.01", str(YEAR), TOTAL), _median("74.02.01", 2), K)
    assert row.withheld and row.value is None


def test_when_one_regency_holds_the_province_s_activity_no_row_says_which() -> None:
    c = _admissions({"74.71.01.1001": 3}, month=f"{YEAR}-03")
    medians = [
        median_row(c, Cell(r, f"{YEAR}-03", TOTAL), _median(r, 3) if r == "74.71" else None, K)
        for r in ("74.71", "74.02")
    ]
    # The regency with no admissions is withheld like the one with three: a row saying "no
    # clients" for 74.02 would say the province's published figure is 74.71's.
    assert [m.withheld for m in medians] == [True, True]
    assert all(cube.below_province(cell) for cell in c.withheld)
    assert disclosed(c, K) == []


referral = st.tuples(
    st.sampled_from(VILLAGES),
    st.sampled_from([f"{YEAR}-{m:02d}" for m in (1, 2, 3)]),
    st.sampled_from(DESTINATIONS),
    st.booleans(),
    st.integers(1, 9),
)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.lists(referral, min_size=1, max_size=10))
def test_referrals_and_their_completion_rates_together_disclose_nothing(
    referrals: list[tuple[str, str, str, bool, int]],
) -> None:
    by_destination = [Leaf(v, m, d, n, n, None) for v, m, d, _a, n in referrals]
    by_attendance = [
        Leaf(v, m, ATTENDED if a else NOT_ATTENDED, n, n, None) for v, m, _d, a, n in referrals
    ]
    c = cube.apply_suppression(
        cube.merge(
            cube.build(YEAR, by_destination, VILLAGES, parts=DESTINATIONS),
            cube.build(YEAR, by_attendance, VILLAGES, parts=(ATTENDED, NOT_ATTENDED)),
        ),
        K,
    )
    # The referrals table (by destination) and the rates' referred and attended counts are
    # one set of published cells with all their relations: nothing small can be pinned.
    assert disclosed(c, K) == []
    for cell in c.figures:
        if cell.part != TOTAL or not cube.below_province(cell):
            continue
        row = rate_row(c, cell, None, K)
        if row.withheld:
            assert row.value is None and row.events is None
            continue
        attended = cell._replace(part=ATTENDED)
        assert cell not in c.withheld and attended not in c.withheld
        assert row.extra == {
            "referred": c.figure(cell).value,
            "attended": c.figure(attended).value,
        }
        assert row.extra["attended"] >= K and row.extra["referred"] - row.extra["attended"] >= K
