"""Suppressing a built cube (small cells below province level, those of too few units, and
their complements) and keeping it for requests."""

from __future__ import annotations

import numpy as np

from services.reporting.cube.cells import Bools, Cell, Cube
from services.reporting.suppression import primary, suppress_indexed


def kept(cube: Cube) -> Cube:
    """A suppressed cube as kept for requests: without its relations and the units of each
    figure (only suppression needs them), its cells and counts in 32 bits where they fit."""
    cube.links = None
    cube.units = None
    small = np.iinfo(np.int32).max
    cube.cells = cube.cells.astype(np.int32) if cube.size <= small else cube.cells
    for name in ("values", "events"):
        figures = getattr(cube, name)
        if len(figures) and max(-figures.min(), figures.max()) < small:
            setattr(cube, name, figures.astype(np.int32))
    return cube


def below_province(cell: Cell) -> bool:
    return cell.region.count(".") >= 1


def _below_province(cube: Cube) -> Bools:
    """Per cell: below province level."""
    deep = np.fromiter((r.count(".") >= 1 for r in cube.regions), bool, len(cube.regions))
    return np.tile(deep, len(cube.parts) * len(cube.periods))


def _few_units(cube: Cube, min_units: int) -> Bools:
    few = np.zeros(cube.size, bool)
    if min_units > 1 and cube.units is not None:
        few[cube.cells[(cube.values > 0) & (cube.units < min_units)]] = True
    return few & _below_province(cube)


def few_units(cube: Cube, min_units: int) -> set[Cell]:
    """Cells below province level made of fewer than `min_units` units (the contributor rule:
    a figure from one or two units describes those units' clients, however large)."""
    return {cube.cell(int(i)) for i in np.flatnonzero(_few_units(cube, min_units))}


def apply_suppression(cube: Cube, k: int, totals: Cube | None = None, min_units: int = 1) -> Cube:
    """Withhold small client-derived cells below province level, those made of fewer than
    `min_units` units, and their complements. A further breakdown's cube takes its totals as
    `totals` left them (withheld or published: that table is published too) and protects its
    parts among the parts."""
    may = _below_province(cube)
    block = len(cube.periods) * len(cube.regions)
    already = np.zeros(cube.size, bool)
    if totals is not None:
        may[:block] = False
        assert totals.regions == cube.regions and totals.periods == cube.periods
        already[:block] = totals.withheld_mask()[:block]
    values = cube.dense(cube.values)
    sensitive = _few_units(cube, min_units) & may
    withheld = primary(values, k=k, may_withhold=may, already=already, sensitive=sensitive)
    if (withheld & (values > 0)).any():  # else only zeros: no complement, no relation needed
        # The most a reader knows a cell can hold: its province's published figure.
        province_of = np.fromiter(
            (cube.region_at[r[:2]] for r in cube.regions), np.int64, len(cube.regions)
        )
        upper = values.reshape(-1, len(cube.regions))[:, province_of].ravel()
        assert cube.links is not None
        withheld = suppress_indexed(
            values,
            cube.links,
            k=k,
            may_withhold=may,
            already=already,
            upper=upper,
            sensitive=sensitive,
            name=lambda i: tuple(cube.cell(i)),
        )
    cube.withheld_bits = np.packbits(withheld)
    return cube
