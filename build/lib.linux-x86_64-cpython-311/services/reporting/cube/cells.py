"""A cube's cells and the cube itself: cells numbered `(part * periods + period) * regions +
region` over its sorted regions, its periods and its parts; the figures of the cells that have
any, as arrays in cell order; the relations as index arrays until suppressed; the withheld
cells as bits. `Cell` objects only at the edges (`figure`, `is_withheld`)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from services.reporting.suppression import Links, Relation

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


@dataclass(frozen=True, slots=True)
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


def micros(moment: datetime | None) -> int:
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
    relate: Callable[[], Links] | None = field(default=None, repr=False)
    """Makes the relations between cells, the first time `links` is read: a cube with no
    small figure is suppressed without them (at national size they are most of its memory)."""
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
        self._links: Links | None = None

    @property
    def links(self) -> Links | None:
        """The relations between cells, until suppressed (`kept`)."""
        relate = self.relate  # once: a cube is made in one thread, but read it once anyway
        if self._links is None and relate is not None:
            self._links, self.relate = relate(), None
        return self._links

    @links.setter
    def links(self, links: Links | None) -> None:
        self._links, self.relate = links, None

    @property
    def nbytes(self) -> int:
        """Memory its figures take (its regions are shared with the other cubes of its
        province and year)."""
        arrays = (self.cells, self.values, self.events, self.latest, self.received)
        held = sum(a.nbytes for a in arrays)
        for extra in (self.units, self.withheld_bits):
            held += 0 if extra is None else extra.nbytes
        if self._links is not None:
            links = self._links
            held += links.totals.nbytes + links.starts.nbytes + links.members.nbytes
        return held

    @property
    def size(self) -> int:
        return len(self.parts) * len(self.periods) * len(self.regions)

    @property
    def region_at(self) -> dict[str, int]:
        return self._regions.at

    @cached_property
    def period_at(self) -> dict[str, int]:
        return {period: n for n, period in enumerate(self.periods)}

    @cached_property
    def part_at(self) -> dict[str, int]:
        return {part: n for n, part in enumerate(self.parts)}

    def index(self, cell: Cell) -> int | None:
        """The cell's index, None when it is not one of this cube's."""
        r = self.region_at.get(cell.region)
        t = self.period_at.get(cell.period)
        p = self.part_at.get(cell.part)
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
