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

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from services.reporting.suppression import Links, Relation, suppress_indexed

TOTAL = "*"
LEVELS = ("national", "province", "regency", "district", "village")

Ints = np.ndarray[Any, np.dtype[np.int64]]
Bools = np.ndarray[Any, np.dtype[np.bool_]]

NEVER = np.iinfo(np.int64).min
"""A figure's latest time when it has none."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def ancestors(village_code: str) -> list[str]:
    """Indonesia, province, regency, district, village: "" then each prefix of the code."""
    parts = village_code.split(".")
    return ["", *(".".join(parts[: n + 1]) for n in range(len(parts)))]


def level_of(region: str) -> str:
    return LEVELS[0 if not region else region.count(".") + 1]


class Cell(NamedTuple):
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
    units: int = 0
    """How many units' records make the figure (suppression's contributor rule)."""

    def add(
        self, value: int, events: int, latest: datetime | None, received: datetime | None = None
    ) -> None:
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


def _micros(moment: datetime | None) -> int:
    return NEVER if moment is None else (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> datetime | None:
    return None if micros == NEVER else _EPOCH + timedelta(microseconds=micros)


class Regions:
    """A cube's sorted regions and each one's index, one object for every cube over the same
    regions (a province-year's counts and stocks), gone with the last of them."""

    __slots__ = ("__weakref__", "at", "codes")

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.codes = codes
        self.at = {region: n for n, region in enumerate(codes)}


_REGIONS: weakref.WeakValueDictionary[int, Regions] = weakref.WeakValueDictionary()


def regions_of(codes: tuple[str, ...]) -> Regions:
    key = hash(codes)
    found = _REGIONS.get(key)
    if found is None or found.codes != codes:
        found = _REGIONS[key] = Regions(codes)
    return found


def year_periods(year: int) -> tuple[str, ...]:
    return (str(year), *(f"{year}-{m:02d}" for m in range(1, 13)))


@dataclass(eq=False)
class Cube:
    year: int
    parts: tuple[str, ...]
    additive: bool
    regions: tuple[str, ...] = ("",)
    """Sorted: a region's index is its place here."""
    periods: tuple[str, ...] = ()
    """The year and its months unless given."""
    cells: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    """The cells that have a figure, ascending; the arrays below are theirs, in this order."""
    values: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    events: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    latest: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    """Microseconds since 1970 (UTC), NEVER for none."""
    received: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    units: Ints | None = None
    """Units behind each figure, until suppressed (`kept`)."""
    links: Links | None = None
    """The relations between cells, until suppressed (`kept`)."""
    withheld_bits: np.ndarray[Any, np.dtype[np.uint8]] | None = None
    """Every cell's withheld flag, packed (`np.packbits`); None before suppression."""
    as_of: datetime | None = None
    """When its figures were read from the read model (suppressed cubes are served as last
    made, in the background)."""
    everything_withheld: bool = False
    """Not suppressed yet: nothing of it may be shown."""

    def __post_init__(self) -> None:
        if not self.periods:
            self.periods = year_periods(self.year)
        self._regions = regions_of(self.regions)
        self.regions = self._regions.codes

    @property
    def nbytes(self) -> int:
        """Memory its figures take (its regions are shared with the other cubes of its
        province and year)."""
        arrays = (self.cells, self.values, self.events, self.latest, self.received)
        held = sum(a.nbytes for a in arrays)
        for extra in (self.units, self.withheld_bits):
            held += 0 if extra is None else extra.nbytes
        if self.links is not None:
            held += self.links.totals.nbytes + self.links.starts.nbytes + self.links.members.nbytes
        return held

    @property
    def size(self) -> int:
        return len(self.parts) * len(self.periods) * len(self.regions)

    @property
    def _region_at(self) -> dict[str, int]:
        return self._regions.at

    @cached_property
    def _period_at(self) -> dict[str, int]:
        return {period: n for n, period in enumerate(self.periods)}

    @cached_property
    def _part_at(self) -> dict[str, int]:
        return {part: n for n, part in enumerate(self.parts)}

    def index(self, cell: Cell) -> int | None:
        """The cell's index, None when it is not one of this cube's."""
        r = self._region_at.get(cell.region)
        t = self._period_at.get(cell.period)
        p = self._part_at.get(cell.part)
        if r is None or t is None or p is None:
            return None
        return (p * len(self.periods) + t) * len(self.regions) + r

    def cell(self, index: int) -> Cell:
        rest, r = divmod(index, len(self.regions))
        p, t = divmod(rest, len(self.periods))
        return Cell(self.regions[r], self.periods[t], self.parts[p])

    def figure(self, cell: Cell) -> Figure:
        at = self.index(cell)
        if at is None:
            return Figure()
        n = int(np.searchsorted(self.cells, at))
        if n == len(self.cells) or self.cells[n] != at:
            return Figure()
        units = 0 if self.units is None else int(self.units[n])
        return Figure(
            int(self.values[n]),
            int(self.events[n]),
            _moment(int(self.latest[n])),
            _moment(int(self.received[n])),
            units,
        )

    def is_withheld(self, cell: Cell) -> bool:
        if self.everything_withheld:
            return True
        at = self.index(cell)
        if at is None or self.withheld_bits is None:
            return False
        return bool(self.withheld_bits[at >> 3] >> (7 - (at & 7)) & 1)

    def dense(self, figures: Ints) -> Ints:
        """One of the figures' arrays over every cell (zero where a cell has none)."""
        out = np.zeros(self.size, np.int64)
        out[self.cells] = figures
        return out

    def withheld_mask(self) -> Bools:
        if self.withheld_bits is None:
            return np.zeros(self.size, bool)
        return np.unpackbits(self.withheld_bits, count=self.size).astype(bool)

    # What tests and audits read: the cells as objects (slow on a large cube).

    @property
    def figures(self) -> dict[Cell, Figure]:
        return {self.cell(int(i)): self.figure(self.cell(int(i))) for i in self.cells}

    @property
    def withheld(self) -> frozenset[Cell]:
        if self.everything_withheld:
            return frozenset(self.cell(i) for i in range(self.size))
        return frozenset(self.cell(int(i)) for i in np.flatnonzero(self.withheld_mask()))

    @property
    def relations(self) -> list[Relation[Cell]]:
        assert self.links is not None, "a kept cube has let go of its relations"
        return [
            Relation(self.cell(total), tuple(self.cell(p) for p in parts))
            for total, parts in self.links.each()
        ]


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
    children: dict[str, set[str]] = {}
    found = {""}
    for village in villages:
        chain = ancestors(village)
        found.update(chain)
        for parent, child in itertools.pairwise(chain):
            children.setdefault(parent, set()).add(child)
    cube = Cube(year, (TOTAL, *parts), additive and bool(parts), tuple(sorted(found)))
    rows = list(leaves)
    if totals is not None and not cube.additive:
        rows += list(totals)
    _fill(cube, rows, flow)
    cube.links = _links(cube, children, flow)
    return cube


def _fill(cube: Cube, rows: list[Leaf], flow: bool) -> None:
    """Each leaf counted in its village's month and year and in every region above, in its
    part and (when the parts add up) in the total: one pass of array sums."""
    regions, periods = len(cube.regions), len(cube.periods)
    region_at, period_at, part_at = cube._region_at, cube._period_at, cube._part_at
    # Each region's chain of ancestors as region indices (-1 where a code is shorter).
    depth = max(region.count(".") + 2 if region else 1 for region in cube.regions)
    chains = np.full((regions, depth), -1, np.int64)
    for n, region in enumerate(cube.regions):
        for level, code in enumerate(ancestors(region) if region else [""]):
            chains[n, level] = region_at[code]
    kept = [
        row
        for row in rows
        if row.village_code in region_at and row.month in period_at and row.part in part_at
    ]  # a unit the registry has not announced yet, or a part the cube does not publish
    count = len(kept)
    village = np.fromiter((region_at[r.village_code] for r in kept), np.int64, count)
    month = np.fromiter((period_at[r.month] for r in kept), np.int64, count)
    part = np.fromiter((part_at[r.part] for r in kept), np.int64, count)
    value = np.fromiter((r.value for r in kept), np.int64, count)
    events = np.fromiter((r.events for r in kept), np.int64, count)
    latest = np.fromiter((_micros(r.latest) for r in kept), np.int64, count)
    received = np.fromiter((_micros(r.received) for r in kept), np.int64, count)
    unit_at: dict[str, int] = {}
    unit = np.fromiter(
        (-1 if r.unit is None else unit_at.setdefault(r.unit, len(unit_at)) for r in kept),
        np.int64,
        count,
    )
    # Where each leaf counts in its own village: its month and year, its part and the total.
    period_choices = [month, np.zeros(count, np.int64)]
    if not flow:
        december = cube.periods.index(f"{cube.year}-12")
        period_choices[1] = np.where(month == december, 0, -1)
    part_choices = [part, np.where(part != 0, 0, -1) if cube.additive else np.full(count, -1)]
    leaves, own = [], []
    for t in period_choices:
        for p in part_choices:
            ok = (t >= 0) & (p >= 0)
            leaves.append(np.flatnonzero(ok))
            own.append(((p * periods + t) * regions + village)[ok])
    leaf, at_village = np.concatenate(leaves), np.concatenate(own)
    # ... and in every region above it.
    spread, cell = _upward(at_village, chains, regions)
    leaf_of = leaf[spread]
    size = cube.size
    touched = np.bincount(cell, minlength=size) > 0
    sums = np.bincount(cell, weights=value[leaf_of], minlength=size)
    counts = np.bincount(cell, weights=events[leaf_of], minlength=size)
    last = np.full(size, NEVER, np.int64)
    np.maximum.at(last, cell, latest[leaf_of])
    arrived = np.full(size, NEVER, np.int64)
    np.maximum.at(arrived, cell, received[leaf_of])
    # Units behind each figure: distinct units among its leaves with a value. A unit's
    # leaves lie in its own village, so a region's units are its villages' added up; should
    # one lie in two villages, distinct (cell, unit) pairs are counted everywhere instead.
    counted = (value[leaf] > 0) & (unit[leaf] >= 0)
    many = max(len(unit_at), 1)
    with_value = (value > 0) & (unit >= 0)
    one_village = len(np.unique(unit[with_value])) == len(
        np.unique(village[with_value] * many + unit[with_value])
    )
    if one_village:
        pairs = np.unique(at_village[counted] * many + unit[leaf][counted])
        in_village = np.bincount(pairs // many, minlength=size)
        holding = np.flatnonzero(in_village)
        up, above = _upward(holding, chains, regions)
        units = np.bincount(above, weights=in_village[holding][up], minlength=size)
    else:
        found = (value[leaf_of] > 0) & (unit[leaf_of] >= 0)
        pairs = np.unique(cell[found] * many + unit[leaf_of][found])
        units = np.bincount(pairs // many, minlength=size)
    cube.cells = np.flatnonzero(touched).astype(np.int64)
    cube.values = np.rint(sums[cube.cells]).astype(np.int64)
    cube.events = np.rint(counts[cube.cells]).astype(np.int64)
    cube.latest = last[cube.cells]
    cube.received = arrived[cube.cells]
    cube.units = np.rint(units[cube.cells]).astype(np.int64)


def _upward(cells: Ints, chains: Ints, regions: int) -> tuple[Ints, Ints]:
    """Cells at their villages, spread to the same period and part of every region of the
    village's chain: for each, which of `cells` it came from, and where it goes."""
    village = cells % regions
    source, target = [], []
    for level in range(chains.shape[1]):
        r = chains[village, level]
        ok = r >= 0
        source.append(np.flatnonzero(ok))
        target.append((cells - village + r)[ok])
    return np.concatenate(source), np.concatenate(target)


def _links(cube: Cube, children: dict[str, set[str]], flow: bool) -> Links:
    """The relations, in the order suppression has always visited them: for each part, each
    period's regions as the sum of their sub-regions, then each region's year as the sum of
    its months; then each region's and period's total as the sum of the parts."""
    at = cube._region_at
    regions, periods, parts = len(cube.regions), len(cube.periods), len(cube.parts)
    geography = Links.of(
        [at[parent] for parent in children],
        [[at[c] for c in sorted(kids)] for kids in children.values()],
    )
    everywhere = np.arange(regions, dtype=np.int64)
    months = Links.of(
        everywhere, np.arange(1, periods, dtype=np.int64)[None, :] * regions + everywhere[:, None]
    )
    pieces = []
    for p in range(parts):
        pieces += [geography.shifted((p * periods + t) * regions) for t in range(periods)]
        if flow:
            pieces.append(months.shifted(p * periods * regions))
    if cube.additive:
        spots = (np.arange(periods)[None, :] * regions + everywhere[:, None]).ravel()
        block = periods * regions
        pieces.append(Links.of(spots, spots[:, None] + np.arange(1, parts)[None, :] * block))
    return Links.joined(pieces)


def _reparted(cube: Cube, index: Ints, parts: Sequence[int]) -> Ints:
    """Cell indices of `cube` moved to other part positions (`parts[p]` for part p)."""
    block = len(cube.periods) * len(cube.regions)
    return np.asarray(parts, np.int64)[index // block] * block + index % block


def merge(first: Cube, *others: Cube) -> Cube:
    """Cubes of one count over the same regions and year, each with its own breakdown, as one:
    their relations together (the totals are shared), so one suppression serves every table
    cut from them and no table can be subtracted from another. The totals are the first's."""
    assert first.links is not None
    merged_parts = first.parts
    figures = [(first.cells, first)]
    links = [first.links]
    for other in others:
        assert other.regions == first.regions and other.periods == first.periods
        clash = set(other.parts) & set(merged_parts) - {TOTAL}
        assert not clash, f"parts of two breakdowns share names: {clash}"
        assert other.links is not None
        place = [0, *range(len(merged_parts), len(merged_parts) + len(other.parts) - 1)]
        merged_parts += other.parts[1:]
        block = len(first.periods) * len(first.regions)
        # Its parts' figures; its totals are the first's (where the first has one).
        own = (other.cells >= block) | ~np.isin(other.cells, first.cells)
        figures.append((_reparted(other, other.cells[own], place), _take(other, own)))
        # Its relations among totals only are the first's again.
        among_totals = (other.links.totals < block) & (
            other.links.count(other.links.members >= block) == 0
        )
        mine = other.links.select(~among_totals)
        links.append(
            Links(
                _reparted(other, mine.totals, place),
                mine.starts,
                _reparted(other, mine.members, place),
            )
        )
    merged = Cube(first.year, merged_parts, first.additive, first.regions, first.periods)
    cells = np.concatenate([c for c, _ in figures])
    order = np.argsort(cells, kind="stable")
    merged.cells = cells[order]
    for name in ("values", "events", "latest", "received"):
        setattr(merged, name, np.concatenate([getattr(f, name) for _, f in figures])[order])
    if all(f.units is not None for _, f in figures):
        merged.units = np.concatenate([f.units for _, f in figures if f.units is not None])[order]
    merged.links = Links.joined(links)
    return merged


def _take(cube: Cube, which: Bools) -> Cube:
    taken = Cube(cube.year, cube.parts, cube.additive, cube.regions, cube.periods)
    taken.cells = cube.cells[which]
    taken.values, taken.events = cube.values[which], cube.events[which]
    taken.latest, taken.received = cube.latest[which], cube.received[which]
    taken.units = None if cube.units is None else cube.units[which]
    return taken


def refine(coarse: Cube, fine: Cube) -> Cube:
    """`coarse` with a breakdown each of whose parts refines one of its parts (`completed,high`
    refines `completed`), as one cube to suppress: `merge`'s relations and, for every region
    and period, `part = the sum of its refinements`, so neither table can be subtracted from
    the other."""
    assert coarse.links is not None
    refined = merge(coarse, fine)
    block = len(coarse.periods) * len(coarse.regions)
    places = np.unique(coarse.links.cells() % block)  # region-major: (region, period) order
    places = places[np.lexsort((places // len(coarse.regions), places % len(coarse.regions)))]
    at = refined._part_at
    own = [p for p in fine.parts if p != TOTAL]
    # Each coarse part's relations at every place, then in place-major order.
    pieces, keys = [], []
    for p, part in enumerate(coarse.parts):
        if part == TOTAL:
            continue
        finer = np.array([at[f] for f in own if f.split(",")[0] == part], np.int64)
        pieces.append(Links.of(p * block + places, places[:, None] + finer[None, :] * block))
        keys.append(np.arange(len(places)) * len(coarse.parts) + p)
    assert refined.links is not None
    if pieces:
        order = np.argsort(np.concatenate(keys), kind="stable")
        refined.links = Links.joined([refined.links, Links.joined(pieces).ordered(order)])
    return refined


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
    assert cube.links is not None
    may = _below_province(cube)
    block = len(cube.periods) * len(cube.regions)
    already = np.zeros(cube.size, bool)
    if totals is not None:
        may[:block] = False
        assert totals.regions == cube.regions and totals.periods == cube.periods
        already[:block] = totals.withheld_mask()[:block]
    values = cube.dense(cube.values)
    # The most a reader knows a cell can hold: its province's published figure.
    province_of = np.fromiter(
        (cube._region_at[r[:2]] for r in cube.regions), np.int64, len(cube.regions)
    )
    starts = np.repeat(
        np.arange(len(cube.parts) * len(cube.periods)) * len(cube.regions), len(cube.regions)
    )
    upper = values[starts + np.tile(province_of, len(cube.parts) * len(cube.periods))]
    withheld = suppress_indexed(
        values,
        cube.links,
        k=k,
        may_withhold=may,
        already=already,
        upper=upper,
        sensitive=_few_units(cube, min_units) & may,
        name=lambda i: tuple(cube.cell(i)),
    )
    cube.withheld_bits = np.packbits(withheld)
    return cube
