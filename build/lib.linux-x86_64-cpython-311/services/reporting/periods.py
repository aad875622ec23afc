"""The cells of a period cut from suppressed cubes: a year's or a month's from its year's
cube, a quarter's or a range's as sums of the months' (years') cells, withheld wherever one of
them is; and a cell as a table's row."""

from __future__ import annotations

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import cube
from services.reporting.cube import Bools, Cell, Cube, Ints
from services.reporting.figures import Period, Row
from services.reporting.indicators import Count
from services.reporting.suppressed_cubes import suppressed_cube


async def period_cube(
    connection: AsyncConnection,
    spec: Count,
    generation: int,
    period: Period,
    province: str,
    by: str | None,
    k: int,
    max_age: float = 0.0,
    min_units: int = 1,
) -> Cube:
    """The cube holding the province's cells of `period`. A year's or a month's is its year's
    cube. A quarter's or a range's cells are sums of the months' (years') cells of those
    cubes: a region's is shown where every month (year) in it is shown, and withheld
    otherwise, so a quarter or range tells a reader only sums of figures already published,
    whichever quarters and overlapping ranges they read together."""
    if period.quarter is None and period.until is None:
        return await suppressed_cube(
            connection, spec, generation, period.year, province, by, k, max_age, min_units
        )
    label = str(period)
    if period.quarter is not None:
        year = await suppressed_cube(
            connection, spec, generation, period.year, province, by, k, max_age, min_units
        )
        pieces = [(year, month) for month in period.months]
    else:
        pieces = [
            (
                await suppressed_cube(
                    connection, spec, generation, y, province, by, k, max_age, min_units
                ),
                str(y),
            )
            for y in period.years
        ]
    return combined(label, pieces)


def combined(label: str, pieces: list[tuple[Cube, str]]) -> Cube:
    """The cells `label` of a period made of the `pieces` (a cube and one of its periods):
    each region's and part's figure is their sum, withheld where any piece is withheld
    (unless that piece is known to be zero)."""
    first = pieces[0][0]
    regions = tuple(sorted({r for c, _ in pieces for r in c.regions}))
    derived = Cube(first.year, first.parts, first.additive, regions, (label,))
    derived.everything_withheld = any(c.everything_withheld for c, _ in pieces)
    times = [c.as_of for c, _ in pieces if c.as_of is not None]
    derived.as_of = min(times) if len(times) == len(pieces) else None
    size = derived.size
    values, events = np.zeros(size, np.int64), np.zeros(size, np.int64)
    latest, received = np.full(size, cube.NEVER), np.full(size, cube.NEVER)
    withheld = np.zeros(size, bool)
    for c, period in pieces:
        at, province = _cells_in(c, derived, period)
        values += _gathered(c, at, c.values, 0)
        events += _gathered(c, at, c.events, 0)
        latest = np.maximum(latest, _gathered(c, at, c.latest, cube.NEVER))
        received = np.maximum(received, _gathered(c, at, c.received, cube.NEVER))
        withheld |= _hidden(c, at, province)
    derived.cells = np.arange(size, dtype=np.int64)
    derived.values, derived.events = values, events
    derived.latest, derived.received = latest, received
    derived.withheld_bits = np.packbits(withheld)
    return derived


def _cells_in(c: Cube, derived: Cube, period: str) -> tuple[Ints, Ints]:
    """For each cell of `derived` (one period), the index of its region and part in `c`'s
    `period`, and of its province's cell there (-1 where `c` has no such cell)."""
    regions = np.fromiter((c.region_at.get(r, -1) for r in derived.regions), np.int64)
    provinces = np.fromiter((c.region_at.get(r[:2], -1) for r in derived.regions), np.int64)
    parts = np.fromiter((c.part_at.get(p, -1) for p in derived.parts), np.int64)
    t = c.period_at.get(period, -1)
    block = len(c.periods) * len(c.regions)

    def cells(of: Ints) -> Ints:
        found = parts[:, None] * block + t * len(c.regions) + of[None, :]
        return np.where((parts[:, None] >= 0) & (of[None, :] >= 0) & (t >= 0), found, -1).ravel()

    return cells(regions), cells(provinces)


def _gathered(c: Cube, at: Ints, figures: Ints, missing: int) -> Ints:
    """`figures` of `c` at the cells `at` (`missing` where a cell has none)."""
    place = np.searchsorted(c.cells, at).clip(0, max(len(c.cells) - 1, 0))
    has = (at >= 0) & (len(c.cells) > 0)
    if len(c.cells):
        has &= c.cells[place] == at
    return np.where(has, figures[place] if len(c.cells) else missing, missing)


def _hidden(c: Cube, at: Ints, province: Ints) -> Bools:
    """Withheld and not known anyway: a region's zero in a province whose published figure
    is zero is no secret (in a year with no screenings, every village had none)."""
    if c.everything_withheld:
        return np.ones(len(at), bool)
    if c.withheld_bits is None:
        return np.zeros(len(at), bool)
    bits = c.withheld_bits
    inside = at >= 0
    safe = np.where(inside, at, 0)
    withheld: Bools = inside & ((bits[safe >> 3] >> (7 - (safe & 7))) & 1).astype(bool)
    return withheld & (_gathered(c, province, c.values, 0) > 0)


def hidden(c: Cube, cell: Cell) -> bool:
    """`_hidden` of one cell."""
    if c.everything_withheld:
        return True
    return c.is_withheld(cell) and c.figure(cell._replace(region=cell.region[:2])).value > 0


def row_of(c: Cube, cell: Cell) -> Row:
    """A cell of a suppressed cube as a row: withheld cells carry no figure and no lineage.
    Every row says when the cube was read from the read model (`suppressed_as_of`; None while
    the cube has not been suppressed yet, when every cell is withheld)."""
    extra = {"suppressed_as_of": c.as_of}
    if c.is_withheld(cell):
        return Row(cell.region, cell.part, None, withheld=True, extra=extra)
    figure = c.figure(cell)
    return Row(
        cell.region,
        cell.part,
        figure.value,
        False,
        figure.events,
        figure.latest,
        extra,
        latest_received_at=figure.received,
    )
