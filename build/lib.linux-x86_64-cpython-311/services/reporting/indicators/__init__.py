"""The indicators: what each figure counts, from which fact table, dated by which event-time
column, with which breakdowns, and whether it is derived from clients (and so suppressed below
province level). Counting indicators share one query shape; the few that are not counts
(operational and sustained units, targets, medians, rates) have their own functions.

`catalog` says what each figure is (`COUNTS`, `STOCKS`, `SPECIAL`); `counting` holds the
counting queries (a count by village and month, by region, the stocks, the villages with a
unit); `columns` the SQL expressions they share with the other views (a village's region and
month, the rows' lineage). Every name is here too: the views and the suppression use the
indicators as one namespace.
"""

from __future__ import annotations

from services.reporting.indicators.catalog import (
    CLIENT_DERIVED_SPECIAL,
    COUNTS,
    SPECIAL,
    STAGE_ORDER,
    STOCKS,
    UNKNOWN,
    Breakdown,
    Count,
)
from services.reporting.indicators.columns import (
    CODE_LENGTH,
    aware,
    inside,
    lineage,
    month_of,
    region_of,
)
from services.reporting.indicators.counting import (
    count_by_region,
    count_leaves,
    read_leaves,
    stock_leaves,
    unit_villages,
)

__all__ = [
    "CLIENT_DERIVED_SPECIAL",
    "CODE_LENGTH",
    "COUNTS",
    "SPECIAL",
    "STAGE_ORDER",
    "STOCKS",
    "UNKNOWN",
    "Breakdown",
    "Count",
    "aware",
    "count_by_region",
    "count_leaves",
    "inside",
    "lineage",
    "month_of",
    "read_leaves",
    "region_of",
    "stock_leaves",
    "unit_villages",
]
