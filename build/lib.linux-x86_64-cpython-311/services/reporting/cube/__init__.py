"""A year of one indicator as a cube of cells (region, period, part) with the additive
relations between them, so that one suppression pattern serves every table cut from it: a
region's row in a yearly table and its months in a time series withhold the same cells.

Regions are Kemendagri codes: "" (Indonesia), "74" (province), "74.71" (regency or city),
"74.71.01" (district), "74.71.01.1001" (village, where a unit is). The regions of a cube are
those with at least one unit: where there is no unit there is no figure, and units are public.
Periods are the year ("2026") and its months ("2026-01"). Parts are the total ("*") and the
values of a breakdown; when the breakdown partitions the total (risk levels, routes) the total
is the sum of its parts, otherwise (substances: one screening, several substances) it is not.

A province-year at national size has hundreds of thousands of cells, so a cube holds them as
numbers: cell `(part * periods + period) * regions + region` over its sorted regions, its
periods and its parts; the figures of the cells that have any, as arrays in cell order; the
relations as index arrays until suppressed; the withheld cells as bits. A kept cube of a
province of 6,000 villages takes a few MiB.
"""

from services.reporting.cube.building import build, merge, refine
from services.reporting.cube.cells import (
    LEVELS,
    NEVER,
    TOTAL,
    Bools,
    Cell,
    Cube,
    Figure,
    Ints,
    Leaf,
    ancestors,
    level_of,
    year_periods,
)
from services.reporting.cube.suppressing import (
    apply_suppression,
    below_province,
    few_units,
    kept,
)

__all__ = [
    "LEVELS",
    "NEVER",
    "TOTAL",
    "Bools",
    "Cell",
    "Cube",
    "Figure",
    "Ints",
    "Leaf",
    "ancestors",
    "apply_suppression",
    "below_province",
    "build",
    "few_units",
    "kept",
    "level_of",
    "merge",
    "refine",
    "year_periods",
]
