"""dkmap.maps.point_index: the grid indexes answer viewport and lasso queries as a brute-force scan does."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.geometry import points_in_polygon
from dkmap.maps.point_index import LevelledIndex, PointIndex


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


def star(cx, cy, r_out, r_in, k=7, turn=0.3):
    t = np.arange(2 * k) * np.pi / k + turn
    r = np.where(np.arange(2 * k) % 2 == 0, r_out, r_in)
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


POLYGONS = {
    "triangle": np.array([[0.1, 0.1], [0.9, 0.2], [0.4, 0.95]]),
    "concave star": star(0.5, 0.5, 0.45, 0.12),
    "star around the dense blob": star(0.5, 0.5, 0.08, 0.03, k=11),
    "beyond the square": np.array([[-1, -1], [2, -1], [2, 2], [-1, 2]]),
    "on cell borders": np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]),
    "inside one cell": np.array([[0.501, 0.501], [0.503, 0.501], [0.502, 0.503]]),
    "self-intersecting bow tie": np.array([[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]),
    "thin sliver": np.array([[0.0, 0.5], [1.0, 0.5001], [1.0, 0.5002]]),
    "outside": np.array([[1.5, 1.5], [2, 1.5], [2, 2]]),
    "notch through a cell": np.array([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.5, 0.9], [0.5, 0.3],
                                      [0.5001, 0.3], [0.5001, 0.9], [0.1, 0.9]]),
}


@pytest.mark.parametrize("grid, direct_below", [(1, 0), (16, 0), (256, 0), (256, 10**9)])
@pytest.mark.parametrize("name", list(POLYGONS))
def test_lasso_through_the_grid_equals_testing_every_point(pos, grid, direct_below, name):
    # Items in the notch and the sliver, where a cell's corners are all inside but some items are not.
    pos = np.concatenate([pos, [[0.50005, 0.5], [0.50005, 0.7], [0.5, 0.5], [0.3, 0.50006], [0.3, 0.50004]]])
    polygon = POLYGONS[name]
    got = PointIndex(pos.astype(np.float32), grid=grid, test_every_item_below=direct_below).in_polygon(polygon)
    assert np.sort(got).tolist() == points_in_polygon(pos.astype(np.float32), polygon).tolist()
    assert len(np.unique(got)) == len(got)


@pytest.mark.parametrize("direct_below", [0, 10**9])
@pytest.mark.parametrize("name", ["triangle", "beyond the square", "outside", "on cell borders", "far outside"])
def test_lasso_counts_items_outside_the_unit_square_only_where_the_polygon_reaches(pos, name, direct_below):
    strays = np.concatenate([pos, [[-0.3, 0.5], [1.4, 0.2], [0.5, 1.7], [1.6, 1.6], [1.8, 1.65]]]).astype(np.float32)
    polygon = POLYGONS[name] if name in POLYGONS else np.array([[1.7, 1.6], [1.9, 1.6], [1.9, 1.7], [1.7, 1.7]])
    got = PointIndex(strays, grid=32, test_every_item_below=direct_below).in_polygon(polygon)
    assert np.sort(got).tolist() == points_in_polygon(strays, polygon).tolist()
    if name == "far outside":
        assert got.tolist() == [len(pos) + 4]


def test_lasso_over_many_items_equals_testing_every_point():
    rng = np.random.default_rng(5)
    many = rng.random((200_000, 2)).astype(np.float32)
    polygon = star(0.5, 0.5, 0.4, 0.2)
    got = PointIndex(many, grid=256, test_every_item_below=0).in_polygon(polygon)
    assert np.sort(got).tolist() == points_in_polygon(many, polygon).tolist()


def test_bad_shapes_are_rejected(pos):
    with pytest.raises(ValueError, match="positions must be N×2"):
        PointIndex(pos[:, :1])
    with pytest.raises(ValueError, match="grid must be >= 1"):
        PointIndex(pos, grid=0)
    with pytest.raises(ValueError, match="levels must have one entry per position"):
        LevelledIndex(pos, np.zeros(3, dtype=np.uint8))
