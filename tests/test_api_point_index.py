"""The server's grid indexes answer viewport queries exactly as a brute-force scan does."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.server.point_index import LevelledIndex, PointIndex


def brute(pos, bbox, mask=None):
    x0, y0, x1, y1 = bbox
    keep = (pos[:, 0] >= x0) & (pos[:, 0] <= x1) & (pos[:, 1] >= y0) & (pos[:, 1] <= y1)
    if mask is not None:
        keep &= mask
    return np.flatnonzero(keep)


@pytest.fixture(scope="module")
def pos():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random((3000, 2)), 0.5 + 0.05 * rng.normal(size=(2000, 2))]).clip(0, 1)
    # Points on cell borders and the square's edges.
    p[:6] = [[0, 0], [1, 1], [0, 1], [1, 0], [0.5, 0.5], [0.25, 0.75]]
    return p.astype(np.float32)


BOXES = [(0, 0, 1, 1), (-1, -1, 2, 2), (0.1, 0.2, 0.3, 0.35), (0.5, 0.5, 0.5, 0.5), (0.25, 0.0, 0.25, 1.0),
         (0.45, 0.45, 0.55, 0.56), (0.999, 0.999, 1, 1), (1.5, 1.5, 2, 2), (-2, -2, -1, -1), (0, 0, 0.004, 1)]


@pytest.mark.parametrize("grid", [1, 7, 64])
@pytest.mark.parametrize("bbox", BOXES)
def test_point_index_matches_a_scan(pos, grid, bbox):
    got = PointIndex(pos, grid=grid).in_bbox(bbox)
    assert np.sort(got).tolist() == brute(pos, bbox).tolist()


@pytest.mark.parametrize("bbox", BOXES)
def test_levelled_index_matches_a_scan_at_every_level(pos, bbox):
    levels = np.random.default_rng(0).integers(0, 6, len(pos)).astype(np.uint8)
    index = LevelledIndex(pos, levels)
    for z in range(8):
        got = index.in_bbox(bbox, z)
        assert np.sort(got).tolist() == brute(pos, bbox, levels <= z).tolist()
        assert np.all(np.diff(levels[got].astype(int)) >= 0)  # coarser levels first


def test_bad_shapes_are_rejected(pos):
    with pytest.raises(ValueError, match="positions must be N×2"):
        PointIndex(pos[:, :1])
    with pytest.raises(ValueError, match="grid must be >= 1"):
        PointIndex(pos, grid=0)
    with pytest.raises(ValueError, match="levels must have one entry per position"):
        LevelledIndex(pos, np.zeros(3, dtype=np.uint8))
