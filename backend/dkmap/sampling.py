"""Overlay sampling levels (METHOD.md §6): each item gets the first zoom level at which it is shown.

Levels are nested (an item shown at z is shown at every deeper level), so a viewport query is
"items in view with level ≤ z". Blue-noise: Poisson-disk samples whose radius halves per level, so
the density on screen stays even; each level keeps the previous level's points and adds new ones at
least r_z from every shown point. Random: a random priority per item, with the same number of items
per level as blue noise so both modes show as many points. The last level shows every item.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

_OFFSETS = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]


def bluenoise_levels(positions: np.ndarray, radius0: float, max_level: int, seed: int = 0) -> np.ndarray:
    """uint8 first level per item; items of levels ≤ z are at least radius0 / 2^z apart for z < max_level."""
    positions = _check(positions, max_level)
    if radius0 <= 0:
        raise ValueError(f"radius0 must be > 0, got {radius0}")
    n = len(positions)
    level = np.full(n, max_level, dtype=np.uint8)
    priority = np.random.default_rng(seed).permutation(n)  # lower = earlier in the dart throwing
    shown = np.zeros(0, dtype=np.int64)
    for z in range(max_level):
        r = radius0 / (1 << z)
        new = _poisson_level(positions, shown, np.flatnonzero(level == max_level), priority, r)
        level[new] = z
        shown = np.concatenate([shown, new])
        if len(shown) == n:
            break
    return level


def random_levels(n: int, counts: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 first level per item: the counts[z] items of highest random priority are shown at z."""
    counts = np.asarray(counts)
    if len(counts) == 0 or np.any(np.diff(counts) < 0) or counts[-1] != n:
        raise ValueError("counts must be non-decreasing cumulative counts ending at n")
    if len(counts) > 255:
        raise ValueError(f"at most 255 levels fit uint8, got {len(counts)}")
    rank = np.empty(n, dtype=np.int64)
    rank[np.random.default_rng(seed + 1).permutation(n)] = np.arange(n)
    return np.searchsorted(counts, rank, side="right").astype(np.uint8)


def cumulative_counts(levels: np.ndarray, max_level: int) -> np.ndarray:
    """Items shown at each level 0..max_level."""
    return np.cumsum(np.bincount(levels, minlength=max_level + 1)[:max_level + 1])


def _check(positions: np.ndarray, max_level: int) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must be (n, 2), got {positions.shape}")
    if not 0 <= max_level <= 254:
        raise ValueError(f"max_level must be in 0..254, got {max_level}")
    return positions


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key in sorted_keys, or −1."""
    if len(sorted_keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_keys, keys).clip(0, len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == keys, pos, -1)


def _poisson_level(positions, shown, candidates, priority, r):
    """Indices added at radius r: greedy by priority in parallel rounds (Luby-style), one per cell.

    Cells have side r/√2, so a cell holds at most one point at distance ≥ r; conflicts can only come
    from the 5×5 block of cells around a point. After the first round only candidates around the
    points added in the last round are re-checked.
    """
    side = r / np.sqrt(2.0)
    width = int(np.ceil(1.0 / side)) + 9
    cell = np.clip(np.floor(positions / side).astype(np.int64), -2, width - 7) + 4

    base = cell[:, 1] * width + cell[:, 0]

    def keys(idx, dy=0, dx=0):
        return base[idx] + (dy * width + dx)

    # candidates sorted by (cell, priority): the first of each cell run is that cell's proposal
    ck = keys(candidates)
    order = np.lexsort((priority[candidates], ck))
    cand, ck = candidates[order], ck[order]
    cand = cand[_clear_of(positions, cand, shown, keys, width, r)]
    added = []
    while len(cand):
        ck = keys(cand)
        first = np.flatnonzero(np.r_[True, ck[1:] != ck[:-1]])
        prop, pk = cand[first], ck[first]
        win = np.ones(len(prop), dtype=bool)
        for dy, dx in _OFFSETS:
            if dy == 0 and dx == 0:
                continue
            hit = _lookup(pk, pk + (dy * width + dx))
            has = hit >= 0
            other, me = prop[hit[has]], prop[has]
            d2 = np.sum((positions[me] - positions[other]) ** 2, axis=1)
            win[np.flatnonzero(has)[(d2 < r * r) & (priority[other] < priority[me])]] = False
        new = prop[win]
        added.append(new)
        # re-check only the candidates in the 5×5 cells around the new points
        near_cells = np.sort(np.concatenate([keys(new, dy, dx) for dy, dx in _OFFSETS]))
        touched = _lookup(near_cells, ck) >= 0
        keep = np.ones(len(cand), dtype=bool)
        sub = np.flatnonzero(touched)
        keep[sub] = _clear_of(positions, cand[sub], new, keys, width, r)
        cand = cand[keep]
    return np.concatenate(added) if added else np.zeros(0, dtype=np.int64)


def _clear_of(positions, cand, points, keys, width, r):
    """Bool per candidate: farther than r from every point in `points` (≤ 1 point per cell)."""
    ok = np.ones(len(cand), dtype=bool)
    if not len(points) or not len(cand):
        return ok
    pkey = keys(points)
    order = np.argsort(pkey)
    pkey, points = pkey[order], points[order]
    ckey = keys(cand)
    for dy, dx in _OFFSETS:
        hit = _lookup(pkey, ckey - (dy * width + dx))
        has = hit >= 0
        d2 = np.sum((positions[cand[has]] - positions[points[hit[has]]]) ** 2, axis=1)
        ok[np.flatnonzero(has)[d2 < r * r]] = False
    return ok
