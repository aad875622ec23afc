"""A year of one indicator as a cube of cells (region, period, part) with the additive
relations between them, so that one suppression pattern serves every table cut from it: a
region's row in a yearly table and its months in a time series withhold the same cells.

Regions are Kemendagri codes: "" (Indonesia), "74" (province), "74.71" (regency or city),
"74.71.01" (district), "74.71.01.1001" (village, where a unit is). The regions of a cube are
those with at least one unit: where there is no unit there is no figure, and units are public.
Periods are the year ("2026") and its months ("2026-01"). Parts are the total ("*") and the
values of a breakdown; when the breakdown partitions the total (risk levels, routes) the total
is the sum of its parts, otherwise (substances: one screening, several substances) it is not.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from services.reporting.suppression import Relation, suppress

TOTAL = "*"
LEVELS = ("national", "province", "regency", "district", "village")


def ancestors(village_code: str) -> list[str]:
    """Indonesia, province, regency, district, village: "" then each prefix of the code."""
    parts = village_code.split(".")
    return ["", *(".".join(parts[: n + 1]) for n in range(len(parts)))]


def level_of(region: str) -> str:
    return LEVELS[0 if not region else region.count(".") + 1]


class Cell(NamedTuple):
    """A tuple underneath: cubes hash and compare millions of them."""

    region: str
    period: str
    part: str


@dataclass
class Figure:
    value: int = 0
    events: int = 0
    latest: datetime | None = None
    """When the latest fact happened."""
    received: datetime | None = None
    """When the latest event arrived."""
    units: set[str] | frozenset[str] = field(default_factory=set)
    """The units whose records make the figure (needed while it is suppressed, then let go:
    `forget_units`)."""

    def merge(self, other: Figure) -> None:
        """Add another figure's value, events, units and latest times to this one."""
        self.units |= other.units
        self.value += other.value
        self.events += other.events
        if other.latest is not None and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest
        if other.received is not None and (self.received is None or other.received > self.received):
            self.received = other.received

    def add(
        self,
        value: int,
        events: int,
        latest: datetime | None,
        received: datetime | None = None,
        unit: str | None = None,
    ) -> None:
        if unit is not None and value > 0:
            if isinstance(self.units, frozenset):
                self.units = set(self.units)
            self.units.add(unit)
        self.value += value
        self.events += events
        if latest is not None and (self.latest is None or latest > self.latest):
            self.latest = latest
        if received is not None and (self.received is None or received > self.received):
            self.received = received


@dataclass(frozen=True)
class Leaf:
    """One row of the read model's aggregate: a village's month and part."""

    village_code: str
    month: str  # YYYY-MM
    part: str
    value: int
    events: int
    latest: datetime | None
    received: datetime | None = None
    unit: str | None = None


@dataclass
class Cube:
    year: int
    parts: tuple[str, ...]
    additive: bool
    figures: dict[Cell, Figure] = field(default_factory=dict)
    relations: list[Relation[Cell]] = field(default_factory=list)
    withheld: set[Cell] = field(default_factory=set)
    as_of: datetime | None = None
    """When its figures were read from the read model (suppressed cubes are served as last
    made, in the background)."""
    everything_withheld: bool = False
    """Not suppressed yet: nothing of it may be shown."""

    def figure(self, cell: Cell) -> Figure:
        return self.figures.get(cell) or Figure()


def build(
    year: int,
    leaves: Iterable[Leaf],
    villages: Iterable[str],
    *,
    parts: Sequence[str] = (),
    additive: bool = True,
    totals: Iterable[Leaf] | None = None,
    flow: bool = True,
) -> Cube:
    """The cube of `year` over `villages` (those with units). `leaves` carry the breakdown's
    parts (or only TOTAL); for a breakdown that does not partition the total, `totals` gives
    the total's own leaves. A stock (`flow=False`: clients in a stage at the end of each
    month) is not summed over months: its year is its December."""
    cube = Cube(year, (TOTAL, *parts), additive and bool(parts))
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    periods = [str(year), *months]
    children: dict[str, set[str]] = defaultdict(set)
    regions = {""}
    for village in villages:
        chain = ancestors(village)
        regions.update(chain)
        for parent, child in itertools.pairwise(chain):
            children[parent].add(child)
    rows = list(leaves)
    if parts and cube.additive:
        rows += [
            Leaf(r.village_code, r.month, TOTAL, r.value, r.events, r.latest, r.received, r.unit)
            for r in rows
        ]
    elif totals is not None:
        rows += list(totals)
    # Each village's leaves summed first, then rolled up level by level: one Figure per cell.
    villages_of: dict[tuple[str, str, str], Figure] = {}
    for row in rows:
        if row.village_code not in regions:
            continue  # a unit the registry has not announced yet
        key = (row.village_code, row.month, row.part)
        figure = villages_of.get(key)
        if figure is None:
            figure = villages_of[key] = Figure()
        figure.add(row.value, row.events, row.latest, row.received, row.unit)
    whole_year = str(year)
    level: dict[tuple[str, str, str], Figure] = {}
    for (village, month, part), leaf in villages_of.items():
        for period in (whole_year, month) if flow or month.endswith("-12") else (month,):
            found = level.get((village, period, part))
            if found is None:
                level[village, period, part] = found = Figure()
            found.merge(leaf)
    # Then each level up from the one below: a region's figure is its sub-regions' sum.
    figures = dict(level)
    while level:
        up: dict[tuple[str, str, str], Figure] = {}
        for (region, period, part), figure in level.items():
            if not region:
                continue
            key = (region.rpartition(".")[0], period, part)
            found = up.get(key)
            if found is None:
                up[key] = found = Figure()
            found.merge(figure)
        figures.update(up)
        level = up
    cube.figures = figures  # type: ignore[assignment]  # keys become cells below
    # Every cell made once (a province-year at national size has hundreds of thousands), the
    # relations in the order suppression has always visited them.
    ordered = sorted(regions)
    grid = {
        (region, period, part): Cell(region, period, part)
        for part in cube.parts
        for period in periods
        for region in ordered
    }
    cube.figures = {grid.get(key) or Cell(*key): f for key, f in cube.figures.items()}
    for part in cube.parts:
        for period in periods:
            for parent, kids in children.items():
                cube.relations.append(
                    Relation(
                        grid[parent, period, part],
                        tuple(grid[c, period, part] for c in sorted(kids)),
                    )
                )
        for region in ordered if flow else ():
            cube.relations.append(
                Relation(
                    grid[region, whole_year, part],
                    tuple(grid[region, m, part] for m in months),
                )
            )
    if cube.additive:
        for region in ordered:
            for period in periods:
                cube.relations.append(
                    Relation(
                        grid[region, period, TOTAL],
                        tuple(grid[region, period, p] for p in parts),
                    )
                )
    return cube


def merge(first: Cube, *others: Cube) -> Cube:
    """Cubes of one count over the same regions and year, each with its own breakdown, as one:
    their relations together (the totals are shared), so one suppression serves every table
    cut from them and no table can be subtracted from another. The totals are the first's."""
    merged = Cube(first.year, first.parts, first.additive, dict(first.figures))
    relations = dict.fromkeys(first.relations)
    for other in others:
        clash = set(other.parts) & set(merged.parts) - {TOTAL}
        assert not clash, f"parts of two breakdowns share names: {clash}"
        merged.parts += tuple(p for p in other.parts if p != TOTAL)
        for cell, figure in other.figures.items():
            merged.figures.setdefault(cell, figure)
        relations.update(dict.fromkeys(other.relations))
    merged.relations = list(relations)
    return merged


def refine(coarse: Cube, fine: Cube) -> Cube:
    """`coarse` with a breakdown each of whose parts refines one of its parts (`completed,high`
    refines `completed`), as one cube to suppress: `merge`'s relations and, for every region
    and period, `part = the sum of its refinements`, so neither table can be subtracted from
    the other."""
    refined = merge(coarse, fine)
    own = [p for p in fine.parts if p != TOTAL]
    places = {(c.region, c.period) for r in coarse.relations for c in (r.total, *r.parts)}
    for region, period in sorted(places):
        for part in coarse.parts:
            if part == TOTAL:
                continue
            refined.relations.append(
                Relation(
                    Cell(region, period, part),
                    tuple(Cell(region, period, p) for p in own if p.split(",")[0] == part),
                )
            )
    return refined


NO_UNITS: frozenset[str] = frozenset()


def forget_units(cube: Cube) -> Cube:
    """A suppressed cube without the units of each figure (only suppression asks how many
    there were): half the memory of a cube kept for requests."""
    for figure in cube.figures.values():
        figure.units = NO_UNITS
    return cube


def below_province(cell: Cell) -> bool:
    return cell.region.count(".") >= 1


def few_units(cube: Cube, min_units: int) -> set[Cell]:
    """Cells below province level made of fewer than `min_units` units (the contributor rule:
    a figure from one or two units describes those units' clients, however large)."""
    if min_units <= 1:
        return set()
    return {
        cell
        for cell, figure in cube.figures.items()
        if below_province(cell) and figure.value > 0 and len(figure.units) < min_units
    }


def apply_suppression(cube: Cube, k: int, totals: Cube | None = None, min_units: int = 1) -> Cube:
    """Withhold small client-derived cells below province level, those made of fewer than
    `min_units` units, and their complements. A further breakdown's cube takes its totals as
    `totals` left them (withheld or published: that table is published too) and protects its
    parts among the parts."""

    def may_withhold(cell: Cell) -> bool:
        return below_province(cell) and (totals is None or cell.part != TOTAL)

    cube.withheld = suppress(
        {c: f.value for c, f in cube.figures.items()},
        cube.relations,
        k=k,
        may_withhold=may_withhold,
        already=totals.withheld if totals is not None else (),
        upper=lambda c: cube.figure(Cell(c.region[:2], c.period, c.part)).value,
        sensitive={c for c in few_units(cube, min_units) if may_withhold(c)},
    )
    return cube
