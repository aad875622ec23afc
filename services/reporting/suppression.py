"""Small-cell suppression with complementary suppression.

A published table is a set of cells and the additive relations between them: a region is the
sum of its sub-regions, a year the sum of its months, a total the sum of its breakdown. A cell
under `k` that may be suppressed is withheld (primary suppression), zero included: a published
zero beside a withheld cell tells a reader the withheld cell is not zero, and withheld cells
whose sum is known to be small would pin each other down. A reader who knows the other cells
of a relation could subtract them back, so every relation must hold either no withheld
non-zero cell or at least two, and when its total is published the other withheld parts must
be able to hold the whole withheld sum within what a reader knows of them (the province's
figure bounds each), or that bound pins the small part (complementary suppression): while a
relation falls short, its smallest other non-zero cell that may be withheld is withheld too.
Relations together can still pin a cell, so what a reader can work out is then searched, and
more is withheld where that came from, until no small cell can be worked out.

The audit in the tests solves the relations for every withheld cell, as an attacker would,
over the non-negative integers, and fails when any withheld cell has a single possible value.
The search for what a reader can work out propagates intervals, which is weaker than the
audit's integer programs: the rules are a heuristic checked by that audit, not a proof.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)
Ints = np.ndarray[Any, np.dtype[np.int64]]
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Places = np.ndarray[Any, np.dtype[np.int32]]

_log = logging.getLogger(__name__)


def _loaded() -> ctypes.CDLL:
    """`native.c`, built with the package (`pip install .`, `make setup`), each array argument
    checked for its type and layout at every call."""
    native = np.ctypeslib.load_library("_native", Path(__file__).parent)
    native.pulih_native_version.restype = ctypes.c_int64
    built = native.pulih_native_version()
    if built != _NATIVE_VERSION:  # a stale build beside newer Python: other arguments
        raise ImportError(
            f"services/reporting/_native was built from version {built} of native.c, this code "
            f"calls version {_NATIVE_VERSION}: reinstall the package (`make setup`)"
        )

    def arrays(kind: type, *, written: bool = False, ndim: int = 1) -> type:
        if written:
            return np.ctypeslib.ndpointer(kind, ndim=ndim, flags=("C_CONTIGUOUS", "WRITEABLE"))
        return np.ctypeslib.ndpointer(kind, ndim=ndim, flags="C_CONTIGUOUS")

    read64, read32, read8 = arrays(np.int64), arrays(np.int32), arrays(np.uint8)
    written32 = arrays(np.int32, written=True)
    relations = [read32, read32, read32]  # totals, starts, members
    native.pulih_group.argtypes = [ctypes.c_int64, ctypes.c_int64, *relations, *[written32] * 3]
    native.pulih_group.restype = None
    native.pulih_narrow.argtypes = [
        ctypes.c_int64,
        *relations,
        read32,
        read32,
        read8,
        arrays(np.int64, written=True, ndim=2),
        written32,
        arrays(np.uint8, written=True),
        ctypes.c_int64,
        ctypes.c_int64,
    ]
    native.pulih_narrow.restype = ctypes.c_int64
    native.pulih_short.argtypes = [
        ctypes.c_int64,
        *relations,
        read8,
        read64,
        read64,
        read8,
        arrays(np.uint8, written=True),
    ]
    native.pulih_short.restype = None
    return native


_NATIVE_VERSION = 2
"""`pulih_native_version()` of the `native.c` this module calls."""
_native = _loaded()


@dataclass(frozen=True)
class Relation(Generic[K]):
    """`total` equals the sum of `parts`."""

    total: K
    parts: tuple[K, ...]


@dataclass(frozen=True)
class Links:
    """Relations between numbered cells: relation j says cell `totals[j]` is the sum of
    `members[starts[j]:starts[j + 1]]`. Held in 32 bits (a national province's most refined
    cube has millions of members)."""

    totals: Ints
    starts: Ints
    members: Ints

    def __post_init__(self) -> None:
        for name in ("totals", "starts", "members"):
            held = getattr(self, name)
            if held.dtype != np.int32:
                assert not len(held) or held.max() < 2**31, "cells numbered in 32 bits"
                object.__setattr__(self, name, held.astype(np.int32))

    @classmethod
    def of(cls, totals: Sequence[int] | Ints, members: Sequence[Sequence[int]] | Ints) -> Links:
        """From each relation's total and members (a list of lists, or a 2-D array of
        relations of one size)."""
        if isinstance(members, np.ndarray):
            sizes = np.full(len(members), members.shape[1] if members.ndim == 2 else 0, np.int64)
            flat = members.ravel()
        else:
            sizes = np.fromiter((len(m) for m in members), np.int64, len(members))
            flat = np.fromiter((c for m in members for c in m), np.int64, int(sizes.sum()))
        starts = np.concatenate(([0], np.cumsum(sizes)))
        return cls(np.asarray(totals), starts, flat)

    @classmethod
    def joined(cls, pieces: Sequence[Links]) -> Links:
        """One after another, in order (each piece already in 32 bits: no wider copy)."""
        offsets = np.cumsum([0, *(len(p.members) for p in pieces)])
        assert offsets[-1] < 2**31, "relation members numbered in 32 bits"
        return cls(
            np.concatenate([p.totals for p in pieces]),
            np.concatenate(
                [
                    np.zeros(1, np.int32),
                    *((p.starts[1:] + np.int32(o)) for p, o in zip(pieces, offsets, strict=False)),
                ]
            ),
            np.concatenate([p.members for p in pieces]),
        )

    def __len__(self) -> int:
        return len(self.totals)

    def shifted(self, offset: int) -> Links:
        return Links(self.totals + offset, self.starts, self.members + offset)

    def largest(self) -> Ints:
        """Per relation: its largest member (-1: none)."""
        held = self.starts[1:] > self.starts[:-1]
        largest: Ints = np.full(len(self.totals), -1, self.members.dtype)
        if held.any():  # each from its start to the next relation's with members
            largest[held] = np.maximum.reduceat(self.members, self.starts[:-1][held])
        return largest

    def select(self, which: Bools) -> Links:
        """The relations marked, in order."""
        sizes = np.diff(self.starts)[which]
        member = np.repeat(which, np.diff(self.starts))
        return Links(
            self.totals[which],
            np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            self.members[member],
        )

    def ordered(self, order: Ints) -> Links:
        """The relations in another order (`order[n]`: the relation to put n-th)."""
        sizes = np.diff(self.starts)[order]
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        at = _ranges(self.starts[:-1][order], self.starts[1:][order])
        return Links(self.totals[order], starts, self.members[at])

    def each(self) -> Iterator[tuple[int, list[int]]]:
        members = self.members.tolist()
        starts = self.starts.tolist()
        for j, total in enumerate(self.totals.tolist()):
            yield total, members[starts[j] : starts[j + 1]]


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
    are protected like small ones whatever their value (made of too few units).

    Cells of any kind; a cube numbers its cells and calls `suppress_indexed` directly."""
    index: dict[K, int] = {}
    for relation in relations:
        for cell in (relation.total, *relation.parts):
            index.setdefault(cell, len(index))
    for cell in (*values, *already, *sensitive):
        index.setdefault(cell, len(index))
    cells = list(index)
    size = len(cells)

    def each(of: Callable[[K], Any], kind: type) -> np.ndarray[Any, Any]:
        return np.fromiter((of(c) for c in cells), kind, size)

    def flags(found: Iterable[K]) -> Bools:
        marked = np.zeros(size, bool)
        marked[[index[c] for c in found]] = True
        return marked

    links = Links.of(
        [index[r.total] for r in relations], [[index[c] for c in r.parts] for r in relations]
    )
    withheld = suppress_indexed(
        each(lambda c: values.get(c, 0), np.int64),
        links,
        k=k,
        may_withhold=each(may_withhold, bool),
        already=flags(already),
        upper=each(upper, np.int64) if upper is not None else np.full(size, _CEILING, np.int64),
        sensitive=flags(sensitive),
        name=lambda i: str(cells[i]),
    )
    return {cells[i] for i in np.flatnonzero(withheld)}


def primary(
    values: Ints, *, k: int, may_withhold: Bools, already: Bools, sensitive: Bools
) -> Bools:
    """The cells withheld before any complement: small ones that may be withheld, sensitive
    ones, and those another table withholds.

    When every one of them is zero, this is the whole answer: no relation can pin a figure,
    and nothing needs a complement. A province-year with units and no facts of the indicator
    (a year before its first, a rare outcome) is this, and at national size its cube is as
    large as any: East Java's closures by outcome and risk, 4 million cells in 15 million
    relation members, took 9 s and 400 MiB to work this out the long way; knowing this first,
    its relations need not even be made (`cube.apply_suppression`)."""
    withheld: Bools = (values < k) & may_withhold | sensitive | already
    return withheld


def suppress_indexed(
    values: Ints,
    links: Links,
    *,
    k: int,
    may_withhold: Bools,
    already: Bools,
    upper: Ints,
    sensitive: Bools,
    name: Callable[[int], Any],
) -> Bools:
    """`suppress` over numbered cells (arrays indexed by cell): which to withhold. `name(cell)`
    orders cells where nothing else tells candidates apart, so every replica withholds the same
    cells."""
    size = len(values)
    withheld = primary(values, k=k, may_withhold=may_withhold, already=already, sensitive=sensitive)
    if not (withheld & (values > 0)).any():
        return withheld  # only zeros (see `primary`)
    small_cells = (values > 0) & ((values < k) | sensitive)
    # The walk below visits few cells and relations, one at a time, reading the arrays
    # through memoryviews (plain Python numbers, no copies); the withheld flags are one
    # buffer seen both ways.
    flags = bytearray(withheld.tobytes())
    withheld = np.frombuffer(flags, dtype=bool)
    values = np.ascontiguousarray(values, np.int64)
    # One bound a cell (or one for all), as the C code reads them.
    ceiling: Ints = np.clip(np.broadcast_to(np.asarray(upper, np.int64), size), 0, _CEILING)
    value, may = values.data, may_withhold.data
    small, bound = small_cells.data, ceiling.data
    totals, starts = links.totals.data, links.starts.data
    members = links.members
    _check(links, values)
    cell_starts, by_owner = _grouped(links, size)

    def relations_of(cell: int) -> list[int]:
        relations: list[int] = by_owner[cell_starts[cell] : cell_starts[cell + 1]].tolist()
        return relations

    def members_of(j: int) -> list[int]:
        return [totals[j], *members[starts[j] : starts[j + 1]].tolist()]

    def pinned_by_bounds(j: int, hidden: list[int]) -> bool:
        """With the total published, a reader knows the withheld parts' sum; a small part is
        pinned unless the other withheld parts, each at most its upper bound, could hold the
        whole sum between them (then the small one could be anything down to zero)."""
        if flags[totals[j]]:
            return False
        remainder = sum(value[c] for c in hidden)
        room = sum(bound[c] for c in hidden)
        return any(small[c] and room - bound[c] < remainder for c in hidden)

    def complete(pending: list[int]) -> None:
        """Every relation: no withheld non-zero cell, or at least two."""
        while pending:
            j = pending.pop()
            cells = members_of(j)
            hidden = [c for c in cells if flags[c] and value[c] > 0]
            if not hidden:
                continue
            if len(hidden) >= 2 and not pinned_by_bounds(j, hidden):
                continue
            candidates = [c for c in cells if not flags[c] and value[c] > 0 and may[c]]
            if candidates:
                total = totals[j]
                pick = min(candidates, key=lambda c: (c == total, value[c], name(c)))
                flags[pick] = True
                pending.extend(relations_of(pick))
                pending.append(j)  # it may need more than one

    # Only relations falling short now need the walk: one that holds can only fall short
    # when a cell of its own is withheld, and then the walk visits it.
    short = np.empty(len(links), np.uint8)
    _native.pulih_short(
        len(links),
        *_arrays(links),
        withheld.view(np.uint8),
        values,
        ceiling,
        small_cells.view(np.uint8),
        short,
    )
    complete(np.flatnonzero(short).tolist())
    del short
    # Relations together can still pin a cell (a withheld zero beside a published total says
    # the rest is known). Find what a reader can determine; while a small withheld cell is
    # among it, withhold one more non-zero cell where the determination came from.
    in_relations = np.diff(cell_starts) > 0
    for _ in range(size):
        determined = np.flatnonzero(
            _determined(values, links, withheld, ceiling, cell_starts, by_owner) & in_relations
        )
        picks = set()
        for exposed in sorted((int(c) for c in determined if small[c]), key=name):
            pick = _unpinning(exposed, flags, relations_of, members_of, may, value, name)
            if pick is not None:  # None: implied by figures published by policy
                picks.add(pick)
        if not picks:
            break
        for pick in picks:
            flags[pick] = True
        # In a fixed order: every replica (and every run) must withhold the same cells, or
        # two answers for the same figures could be read together.
        complete([j for pick in sorted(picks, key=name) for j in relations_of(pick)])
    return withheld.copy()


def _determined(
    values: Ints,
    links: Links,
    withheld: Bools,
    ceiling: Ints,
    cell_starts: Places,
    by_cell: Places,
) -> Bools:
    """Withheld cells a reader can work out. Every cell gets the interval a reader knows it
    lies in (published: its value; withheld: zero to its province's figure), and each
    relation narrows its members' intervals from the others' (a part is at least the total's
    least minus the other parts' most, at most the total's most minus their least; the total
    between the sums), until nothing moves. A cell whose interval closes is worked out.

    A relation at a time, from a queue (`native.c`: `pulih_narrow`): every relation first,
    then those holding a cell that moved (`by_cell[cell_starts[c]:cell_starts[c + 1]]`: cell
    c's), until nothing moves. Each narrowing only ever tightens, so this reaches the same
    intervals as narrowing every relation at once, round after round (the tests' reference),
    and a province-year at national size (millions of relation members) in a fraction of a
    second."""
    if not len(links) or not withheld.any():
        return np.zeros(len(values), bool)
    # Each cell's interval, its two bounds side by side (read together for every member).
    # Filled in place: an array as wide as the cube fewer at the moment of suppression's peak.
    bounds = np.empty((len(values), 2), np.int64)
    low, high = bounds[:, 0], bounds[:, 1]
    low[:] = values
    high[:] = values
    np.copyto(low, 0, where=withheld)
    np.copyto(high, ceiling, where=withheld)
    made = _native.pulih_narrow(
        len(links),
        *_arrays(links),
        cell_starts,
        by_cell,
        np.ascontiguousarray(withheld).view(np.uint8),
        bounds,
        np.empty(len(links), np.int32),
        np.zeros(len(links), np.uint8),
        _ROUNDS * len(links),
        _CEILING,
    )
    if made < 0:  # still bounds a reader can work out: fewer cells closed, none wrongly
        _log.warning("intervals still narrowing after %d rounds' worth of relations", _ROUNDS)
    closed: Bools = withheld & (bounds[:, 0] >= bounds[:, 1])
    return closed


_ROUNDS = 1000
"""At most this many narrowings of each relation on average before giving up: as many as the
rounds numpy was given. East Java's closures cube in the benchmark settles in 2.0."""


def _check(links: Links, values: Ints) -> None:
    """The C code indexes by what it is given, unchecked (and `python -O` drops asserts):
    every relation's members must lie in `members`, every cell in the cube, and each cell's
    relations be numbered in 32 bits. Its sums of bounds are exact in 64 bits for relations of
    up to 2^20 members and figures up to `_CEILING`."""
    size, starts = len(values), links.starts
    sizes = np.diff(starts)
    if (
        len(starts) != len(links.totals) + 1
        or starts[0] != 0
        or starts[-1] != len(links.members)
        or (sizes < 0).any()
    ):
        raise ValueError("relations whose members are not all in `members`, in order")
    for cells in (links.totals, links.members):
        if len(cells) and (cells.min() < 0 or cells.max() >= size):
            raise ValueError(f"relations of cells outside a cube of {size} cells")
    if len(links) + len(links.members) >= 2**31:
        raise ValueError("more relation members than 32 bits number")
    if len(links) and sizes.max() > 2**20:
        raise ValueError("a relation of more than 2^20 members")
    if size and (values.min() < -_CEILING or values.max() > _CEILING):
        raise ValueError(f"figures beyond {_CEILING}")


def _grouped(links: Links, size: int) -> tuple[Places, Places]:
    """Every relation each of `size` cells is in, in order: cell c's are `by_cell[starts[c]:
    starts[c + 1]]` (returned as `starts, by_cell`; `pulih_group`)."""
    starts = np.empty(size + 1, np.int32)
    by_cell = np.empty(len(links) + len(links.members), np.int32)
    free = np.empty(size, np.int32)
    _native.pulih_group(size, len(links), *_arrays(links), starts, by_cell, free)
    return starts, by_cell


def _arrays(links: Links) -> tuple[Ints, Ints, Ints]:
    """The relations' arrays as the C code reads them: 32 bits, one after another."""
    return (
        np.ascontiguousarray(links.totals),
        np.ascontiguousarray(links.starts),
        np.ascontiguousarray(links.members),
    )


def _ranges(starts: np.ndarray[Any, Any], stops: np.ndarray[Any, Any]) -> Ints:
    """The positions starts[n] .. stops[n] - 1 of every n, one after another."""
    sizes = stops - starts
    ends = np.cumsum(sizes)
    return np.repeat(starts - ends + sizes, sizes) + np.arange(ends[-1] if len(ends) else 0)


_CEILING = 2**40
"""The most any cell is taken to hold (keeps the sums of bounds exact in 64 bits)."""


def _unpinning(
    exposed: int,
    withheld: bytearray,
    relations_of: Callable[[int], list[int]],
    members_of: Callable[[int], list[int]],
    may_withhold: memoryview,
    value: memoryview,
    name: Callable[[int], Any],
) -> int | None:
    """The smallest published non-zero cell nearest the exposed one through the relations
    among withheld cells: withholding it loosens an interval on the way there."""
    seen, frontier = {exposed}, [exposed]
    while frontier:
        following: list[int] = []
        for cell in frontier:
            for j in relations_of(cell):
                members = members_of(j)
                candidates = [
                    c for c in members if not withheld[c] and may_withhold[c] and value[c] > 0
                ]
                if candidates:
                    return min(candidates, key=lambda c: (value[c], name(c)))
                reached = [c for c in members if withheld[c] and c not in seen]
                seen.update(reached)
                following += reached
        frontier = following
    return None
