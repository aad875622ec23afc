"""Building a cube from the read model's leaves: the figures of every cell (each leaf counted
in its village's month and year and every region above), and the relations between cells, in
the order suppression has always visited them; merged with a companion breakdown, refined by
a crossed one."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np

from services.reporting.cube.cells import (
    NEVER,
    TOTAL,
    Bools,
    Cube,
    Ints,
    Leaf,
    ancestors,
    micros,
)
from services.reporting.suppression import Links


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
    # What the relations are made from, not the cube itself (no reference cycle).
    shape = (len(cube.periods), len(cube.parts), cube.additive)
    cube.relate = partial(_links, cube.region_at, shape, children, flow)
    return cube


def _fill(cube: Cube, rows: list[Leaf], flow: bool) -> None:
    """Each leaf counted in its village's month and year and in every region above, in its
    part and (when the parts add up) in the total: one pass of array sums."""
    regions, periods = len(cube.regions), len(cube.periods)
    region_at, period_at, part_at = cube.region_at, cube.period_at, cube.part_at
    # Each region's parent as a region index (-1 for Indonesia).
    parent_of = np.fromiter(
        (region_at[r.rpartition(".")[0]] if r else -1 for r in cube.regions), np.int64, regions
    )
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
    latest = np.fromiter((micros(r.latest) for r in kept), np.int64, count)
    received = np.fromiter((micros(r.received) for r in kept), np.int64, count)
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
    # Not held through the sums (the loops' last values included).
    del leaves, own, period_choices, part_choices, month, part, t, p, ok
    # Summed in each village's cells, then level by level up to Indonesia's: over the cells
    # touched only (a cube at national size has millions of cells and few figures), and each
    # level's from the distinct cells below (East Java's screenings: 560,000 places of leaves
    # in its villages, a few thousand in its regencies).
    cells, (sums, counts), (last, arrived) = _rolled_up(
        at_village,
        [value[leaf], events[leaf]],
        [latest[leaf], received[leaf]],
        parent_of,
        regions,
    )
    touched = len(cells)
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
        holding, (in_village,), _ = _rolled_up(
            pairs // many, [np.ones(len(pairs))], [], parent_of, regions
        )
        units: np.ndarray[Any, Any] = np.zeros(touched)
        units[np.searchsorted(cells, holding)] = in_village
    else:
        spread, cell = _upward(at_village, parent_of, regions)
        leaf_of = leaf[spread]
        found = (value[leaf_of] > 0) & (unit[leaf_of] >= 0)
        pairs = np.unique(cell[found] * many + unit[leaf_of][found])
        units = np.bincount(np.searchsorted(cells, pairs // many), minlength=touched)
    cube.cells = cells.astype(np.int64)
    cube.values = np.rint(sums).astype(np.int64)
    cube.events = np.rint(counts).astype(np.int64)
    cube.latest = last
    cube.received = arrived
    cube.units = np.rint(units).astype(np.int64)


def _rolled_up(
    cells: Ints, added: list[Any], greatest: list[Ints], parent_of: Ints, regions: int
) -> tuple[Ints, list[Any], list[Ints]]:
    """Figures at cells of villages (with repeats) in those cells and the same cell of every
    region above: the distinct cells, ascending, with each of `added` summed (in 64-bit
    floats: exact for counts of people) and each of `greatest` at its greatest."""
    pieces = [_combined(cells, added, greatest)]
    while len(pieces[-1][0]):  # level by level, until the one above the top (empty)
        cells, added, greatest = pieces[-1]
        region = cells % regions
        parent = parent_of[region]
        up = parent >= 0
        pieces.append(
            _combined(
                (cells - region + parent)[up], [a[up] for a in added], [g[up] for g in greatest]
            )
        )
    # Every level's cells in one ascending array (a cell reached twice, from villages of two
    # depths, summed once more).
    return _combined(
        np.concatenate([c for c, _, _ in pieces]),
        [np.concatenate([p[1][n] for p in pieces]) for n in range(len(pieces[0][1]))],
        [np.concatenate([p[2][n] for p in pieces]) for n in range(len(pieces[0][2]))],
    )


def _combined(
    cells: Ints, added: list[Any], greatest: list[Ints]
) -> tuple[Ints, list[Any], list[Ints]]:
    """Per distinct cell (ascending): each of `added` summed, each of `greatest` at its
    greatest."""
    distinct, at = np.unique(cells, return_inverse=True)
    size = len(distinct)
    sums = [np.bincount(at, weights=a, minlength=size) for a in added]
    most = []
    for moments in greatest:
        held = np.full(size, NEVER, np.int64)
        np.maximum.at(held, at, moments)
        most.append(held)
    return distinct, sums, most


def _upward(cells: Ints, parent_of: Ints, regions: int) -> tuple[Ints, Ints]:
    """Cells at their villages, spread to the same period and part of their own region and
    every region above: for each, which of `cells` it came from, and where it goes."""
    source, target = [], []
    at, current = np.arange(len(cells)), cells
    while len(at):
        source.append(at)
        target.append(current)
        region = current % regions
        parent = parent_of[region]
        up = parent >= 0
        at, current = at[up], (current - region + parent)[up]
    return np.concatenate(source), np.concatenate(target)


def _links(
    at: dict[str, int], shape: tuple[int, int, bool], children: dict[str, set[str]], flow: bool
) -> Links:
    """The relations, in the order suppression has always visited them: for each part, each
    period's regions as the sum of their sub-regions, then each region's year as the sum of
    its months; then each region's and period's total as the sum of the parts (`shape`: the
    cube's periods, parts, and whether they add up)."""
    (periods, parts, additive), regions = shape, len(at)
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
    if additive:
        spots = (np.arange(periods)[None, :] * regions + everywhere[:, None]).ravel()
        block = periods * regions
        pieces.append(Links.of(spots, spots[:, None] + np.arange(1, parts)[None, :] * block))
    return Links.joined(pieces)


def _reparted(cube: Cube, index: Ints, parts: Sequence[int]) -> Ints:
    """Cell indices of `cube` moved to other part positions (`parts[p]` for part p), in the
    indices' own width (a cube's relations are numbered in 32 bits: no copy twice as wide)."""
    block = index.dtype.type(len(cube.periods) * len(cube.regions))
    moved: Ints = np.asarray(parts, index.dtype)[index // block] * block + index % block
    return moved


def merge(first: Cube, *others: Cube) -> Cube:
    """Cubes of one count over the same regions and year, each with its own breakdown, as one:
    their relations together (the totals are shared), so one suppression serves every table
    cut from them and no table can be subtracted from another. The totals are the first's."""
    for made in (first, *others):
        assert made.relate is not None or made.links is not None, "a kept cube's relations"
    merged_parts = first.parts
    figures = [(first.cells, first)]
    places = []
    for other in others:
        assert other.regions == first.regions and other.periods == first.periods
        clash = set(other.parts) & set(merged_parts) - {TOTAL}
        assert not clash, f"parts of two breakdowns share names: {clash}"
        place = [0, *range(len(merged_parts), len(merged_parts) + len(other.parts) - 1)]
        places.append(place)
        merged_parts += other.parts[1:]
        block = len(first.periods) * len(first.regions)
        # Its parts' figures; its totals are the first's (where the first has one).
        own = (other.cells >= block) | ~np.isin(other.cells, first.cells)
        figures.append((_reparted(other, other.cells[own], place), _take(other, own)))
    merged = Cube(first.year, merged_parts, first.additive, first.regions, first.periods)
    assert merged.size < 2**31, "cells numbered in 32 bits (the relations' width)"
    cells = np.concatenate([c for c, _ in figures])
    order = np.argsort(cells, kind="stable")
    merged.cells = cells[order]
    for name in ("values", "events", "latest", "received"):
        setattr(merged, name, np.concatenate([getattr(f, name) for _, f in figures])[order])
    if all(f.units is not None for _, f in figures):
        merged.units = np.concatenate([f.units for _, f in figures if f.units is not None])[order]
    merged.relate = partial(_merged_links, first, others, places)
    return merged


def _merged_links(first: Cube, others: Sequence[Cube], places: Sequence[list[int]]) -> Links:
    """`merge`'s relations: the first's, then each other's but those among totals only (the
    first's again), with its parts at their places in the merged cube."""
    assert first.links is not None
    block = len(first.periods) * len(first.regions)
    links = [first.links]
    for other, place in zip(others, places, strict=True):
        assert other.links is not None
        among_totals = (other.links.totals < block) & (other.links.largest() < block)
        mine = other.links.select(~among_totals)
        links.append(
            Links(
                _reparted(other, mine.totals, place),
                mine.starts,
                _reparted(other, mine.members, place),
            )
        )
    return Links.joined(links)


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
    refined = merge(coarse, fine)
    assert refined.relate is not None
    refined.relate = partial(_refined_links, refined.relate, coarse, refined.part_at, fine.parts)
    return refined


def _refined_links(
    merged: Callable[[], Links], coarse: Cube, at: dict[str, int], fine_parts: Sequence[str]
) -> Links:
    """`refine`'s relations: `merge`'s, then each coarse part at every place as the sum of its
    refinements, place by place."""
    assert coarse.links is not None
    block = len(coarse.periods) * len(coarse.regions)
    # Every (region, period) place of a relation, region-major: (region, period) order (flags,
    # not `np.unique`, which sorts millions of cells).
    related = np.zeros(block, bool)
    related[coarse.links.totals % block] = True
    related[coarse.links.members % block] = True
    places = np.flatnonzero(related)
    places = places[np.lexsort((places // len(coarse.regions), places % len(coarse.regions)))]
    own = [p for p in fine_parts if p != TOTAL]
    # Each coarse part's relations at every place, then in place-major order.
    pieces, keys = [], []
    for p, part in enumerate(coarse.parts):
        if part == TOTAL:
            continue
        finer = np.array([at[f] for f in own if f.split(",")[0] == part], np.int64)
        pieces.append(Links.of(p * block + places, places[:, None] + finer[None, :] * block))
        keys.append(np.arange(len(places)) * len(coarse.parts) + p)
    if not pieces:
        return merged()
    order = np.argsort(np.concatenate(keys), kind="stable")
    return Links.joined([merged(), Links.joined(pieces).ordered(order)])
