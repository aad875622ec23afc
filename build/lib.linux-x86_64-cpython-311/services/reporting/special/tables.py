"""A special indicator's table: the figure for the region asked and its rows at a level,
computed, or below province level cut from the suppressed cube of the count it carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube
from services.reporting.cube import TOTAL, Cell, Cube
from services.reporting.figures import Ask, Row
from services.reporting.indicators import COUNTS
from services.reporting.periods import period_cube
from services.reporting.special.clients import (
    _completion_rate,
    _median_days,
    _with_admissions,
    median_row,
    rate_row,
)
from services.reporting.special.common import Computed
from services.reporting.special.units import _against_target, _cumulative, _operational, _sustained
from shared.rules import Violation, check


async def special_table(
    connection: AsyncConnection, generation: int, ask: Ask, regions: list[str]
) -> tuple[Row, list[Row]]:
    """The figure for the region asked `within` and its rows at `level` (`regions`: those
    with units there)."""
    p, v = ask.period, []
    if ask.indicator in ("sustained_units", "units_against_target") and not p.whole_years:
        v.append(
            Violation("period", "years-only", "this indicator is over a year or a range of years")
        )
    if ask.indicator == "sustained_units" and ask.cohort and ask.cohort.end >= p.start:
        v.append(
            Violation(
                "cohort",
                "formed-before-period",
                "sustained units are operational after the years they were formed in: "
                "the cohort must end before the period begins",
            )
        )
    if ask.indicator == "units_against_target" and ask.level not in ("national", "province"):
        v.append(Violation("level", "national-or-province", "targets are national and provincial"))
    check(v)
    rows = await _rows(connection, generation, ask, ask.level, regions)
    around = await _rows(connection, generation, ask, cube.level_of(ask.within), [ask.within])
    return next(r for r in around if r.region == ask.within), rows


async def _rows(
    connection: AsyncConnection, generation: int, ask: Ask, level: str, regions: list[str]
) -> list[Row]:
    """The rows at `level`. A figure derived from clients below province level is cut from
    the suppressed cube of the count it carries, for the regions with units (as the count's
    own table); above, every region with a figure."""
    by_region = await _COMPUTE[ask.indicator](connection, generation, ask, level)
    cut = _CUT.get(ask.indicator)
    if cut is not None and level not in ("national", "province"):
        count, row = cut
        c = await period_cube(
            connection,
            COUNTS[count],
            generation,
            ask.period,
            ask.within[:2],
            None,
            ask.k,
            ask.cube_max_age,
            ask.min_units,
        )
        return [row(c, Cell(r, str(ask.period), TOTAL), by_region.get(r), ask.k) for r in regions]
    if level in ("national", "province") and ask.indicator == "median_days_to_intake":
        await _with_admissions(connection, generation, ask, level, by_region)
    return [by_region.get(r) or Row(r, TOTAL, None) for r in sorted(set(regions) | set(by_region))]


_CUT: dict[str, tuple[str, Callable[[Cube, Cell, Row | None, int], Row]]] = {
    "median_days_to_intake": ("admissions", median_row),
    "referral_completion_rate": ("referrals", rate_row),
}
"""The client-derived indicators below province level: the count whose cube they are cut
from, and how a row is cut."""

_COMPUTE: dict[str, Callable[[AsyncConnection, int, Ask, str], Awaitable[Computed]]] = {
    "units_cumulative": _cumulative,
    "units_against_target": _against_target,
    "operational_units": _operational,
    "sustained_units": _sustained,
    "median_days_to_intake": _median_days,
    "referral_completion_rate": _completion_rate,
}
