"""The cube and its suppression as they were written first: cells as objects in dicts and
sets, relations as objects, one Python step at a time. Kept as the reference the service's
array implementation (`services/reporting/cube.py`, `suppression.py`) must match cell for
cell (`test_reference.py`), and as the baseline of `make bench`'s suppression figure.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Relation(Generic[K]):
    """`total` equals the sum of `parts`."""

    total: K
    parts: tuple[K, ...]


def suppress(
    values: Mapping[K, int],
    relations: Sequence[Relation[K]],
    *,
    k: int,
    may_withhold: Callable[[K], bool],
    already: Iterable[K] = (),
    upper: Callable[[K], int] | None = None,
    sensitive: Iterable[K] = (),
) -> set[K]:
    """The cells to withhold. Cells missing from `values` count as zero; `already` are cells
    another table withholds (a breakdown keeps the pattern of its totals); `upper(cell)` is the
    most a reader knows a cell can hold (its province's published figure); `sensitive` cells
    are protected like small ones whatever their value (made of too few units)."""
    cells = set(values) | {c for r in relations for c in (r.total, *r.parts)}
    protect = set(sensitive)
    withheld = {c for c in cells if values.get(c, 0) < k and may_withhold(c)} | protect
    withheld.update(already)
    by_cell: dict[K, list[Relation[K]]] = {}
    for relation in relations:
        for cell in (relation.total, *relation.parts):
            by_cell.setdefault(cell, []).append(relation)

    def value(cell: K) -> int:
        return values.get(cell, 0)

    bounds: dict[K, int] = {}

    def bound(cell: K) -> int:
        found = bounds.get(cell)
        if found is None:
            found = bounds[cell] = upper(cell) if upper is not None else 2**62
        return found

    def small(cell: K) -> bool:
        """To protect: under k but not zero, or made of too few units."""
        return 0 < value(cell) < k or (cell in protect and value(cell) > 0)

    def complete(pending: list[Relation[K]]) -> None:
        """Every relation: no withheld non-zero cell, or at least two."""
        while pending:
            relation = pending.pop()
            members = (relation.total, *relation.parts)
            hidden = [c for c in members if c in withheld and values.get(c, 0) > 0]
            if not hidden:
                continue
            if len(hidden) >= 2 and not _pinned_by_bounds(
                relation, hidden, withheld, small, value, bound
            ):
                continue
            candidates = [
                c for c in members if c not in withheld and values.get(c, 0) > 0 and may_withhold(c)
            ]
            if candidates:
                pick = min(candidates, key=lambda c: (c == relation.total, value(c), str(c)))
                withheld.add(pick)
                pending.extend(by_cell.get(pick, ()))
                pending.append(relation)  # it may need more than one

    complete(list(relations))
    # Relations together can still pin a cell (a withheld zero beside a published total says
    # the rest is known). Find what a reader can determine; while a small withheld cell is
    # among it, withhold one more non-zero cell where the determination came from.
    for _ in range(len(cells)):
        determined = _determined(values, relations, withheld, by_cell, bound)
        picks = set()
        for exposed in sorted((c for c in determined if small(c)), key=str):
            pick = _unpinning(exposed, withheld, by_cell, may_withhold, value)
            if pick is not None:  # None: implied by figures published by policy
                picks.add(pick)
        if not picks:
            break
        withheld.update(picks)
        # In a fixed order: every replica (and every run) must withhold the same cells, or
        # two answers for the same figures could be read together.
        complete([r for pick in sorted(picks, key=str) for r in by_cell.get(pick, ())])
    return withheld


def _pinned_by_bounds(
    relation: Relation[K],
    hidden: list[K],
    withheld: set[K],
    small: Callable[[K], bool],
    value: Callable[[K], int],
    upper: Callable[[K], int],
) -> bool:
    """With the total published, a reader knows the withheld parts' sum; a small part is
    pinned unless the other withheld parts, each at most its upper bound, could hold the whole
    sum between them (then the small one could be anything down to zero)."""
    if relation.total in withheld:
        return False
    remainder = sum(map(value, hidden))
    room = sum(map(upper, hidden))
    return any(small(c) and room - upper(c) < remainder for c in hidden)


def _determined(
    values: Mapping[K, int],
    relations: Sequence[Relation[K]],
    withheld: set[K],
    by_cell: Mapping[K, list[Relation[K]]],
    upper: Callable[[K], int],
    rounds: int = 1000,
) -> set[K]:
    """Withheld cells a reader can work out. Every cell gets the interval a reader knows it
    lies in (published: its value; withheld: zero to its province's figure), and each
    relation narrows its members' intervals from the others' (a part is at least the total's
    least minus the other parts' most, at most the total's most minus their least; the total
    between the sums), until nothing moves. A cell whose interval closes is worked out.

    All relations narrow at once, as arrays (a province-year at national size has hundreds of
    thousands of cells), until nothing moves: the same fixpoint as narrowing one relation at
    a time, since each narrowing only ever tightens."""
    active = relations  # those without a withheld cell narrow nothing, and cost little
    if not active or not withheld:
        return set()
    index: dict[K, int] = {}
    totals = np.fromiter(
        (index.setdefault(r.total, len(index)) for r in active), np.int64, len(active)
    )
    sizes = np.fromiter((len(r.parts) for r in active), np.int64, len(active))
    parts = np.fromiter(
        (index.setdefault(c, len(index)) for r in active for c in r.parts),
        np.int64,
        int(sizes.sum()),
    )
    owner = np.repeat(np.arange(len(active)), sizes)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    cells = list(index)
    hidden = np.fromiter((c in withheld for c in cells), bool, len(cells))
    value = np.fromiter((values.get(c, 0) for c in cells), np.int64, len(cells))
    ceiling = np.fromiter(
        (min(max(upper(c), 0), _CEILING) if h else 0 for c, h in zip(cells, hidden, strict=True)),
        np.int64,
        len(cells),
    )
    low = np.where(hidden, 0, value)
    high = np.where(hidden, ceiling, value)
    open_totals = hidden[totals]
    open_parts = hidden[parts]

    def sums(of: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
        running = np.concatenate(([0], np.cumsum(of[parts])))
        return running[bounds[1:]] - running[bounds[:-1]]

    for _ in range(rounds):
        parts_lo, parts_hi = sums(low), sums(high)
        new_low, new_high = low.copy(), high.copy()
        np.maximum.at(new_low, totals[open_totals], parts_lo[open_totals])
        np.minimum.at(new_high, totals[open_totals], parts_hi[open_totals])
        t_lo, t_hi = low[totals][owner], high[totals][owner]
        np.maximum.at(
            new_low,
            parts[open_parts],
            (t_lo - (parts_hi[owner] - high[parts]))[open_parts],
        )
        np.minimum.at(
            new_high,
            parts[open_parts],
            (t_hi - (parts_lo[owner] - low[parts]))[open_parts],
        )
        if np.array_equal(new_low, low) and np.array_equal(new_high, high):
            break
        low, high = new_low, new_high
    closed = hidden & (low >= high)
    return {cells[i] for i in np.flatnonzero(closed)}


_CEILING = 2**40
"""The most any cell is taken to hold (keeps the sums of bounds exact in 64 bits)."""


def _unpinning(
    exposed: K,
    withheld: set[K],
    by_cell: Mapping[K, list[Relation[K]]],
    may_withhold: Callable[[K], bool],
    value: Callable[[K], int],
) -> K | None:
    """The smallest published non-zero cell nearest the exposed one through the relations
    among withheld cells: withholding it loosens an interval on the way there."""
    seen, frontier = {exposed}, [exposed]
    while frontier:
        following = []
        for cell in frontier:
            for relation in by_cell.get(cell, ()):
                members = (relation.total, *relation.parts)
                candidates = [
                    c for c in members if c not in withheld and may_withhold(c) and value(c) > 0
                ]
                if candidates:
                    return min(candidates, key=lambda c: (value(c), str(c)))
                following += [c for c in members if c in withheld and c not in seen]
                seen.update(following)
        frontier = following
    return None


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
