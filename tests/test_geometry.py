"""points_in_polygon (dkmap.geometry): exact inside sets, edge convention, concave and large inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.geometry import points_in_polygon

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def _grid(lo: float, hi: float, step: float) -> np.ndarray:
    ticks = np.arange(lo, hi + step / 2, step)
    gx, gy = np.meshgrid(ticks, ticks)
    return np.column_stack([gx.ravel(), gy.ravel()])


def test_square_inside_set_and_edge_convention():
    pts = _grid(-0.5, 1.5, 0.25)
    got = points_in_polygon(pts, SQUARE)
    # Half-open: x ∈ [0, 1), y ∈ [0, 1): left and lower edges in, right and upper edges out.
    want = np.flatnonzero((pts[:, 0] >= 0) & (pts[:, 0] < 1) & (pts[:, 1] >= 0) & (pts[:, 1] < 1))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64
    edges = np.array([[0, 0.5], [1, 0.5], [0.5, 0], [0.5, 1], [0, 0], [1, 0], [1, 1], [0, 1]])
    np.testing.assert_array_equal(points_in_polygon(edges, SQUARE), [0, 2, 4])


def test_orientation_and_closing_vertex_do_not_matter():
    pts = _grid(-0.5, 1.5, 0.125)
    want = points_in_polygon(pts, SQUARE)
    np.testing.assert_array_equal(points_in_polygon(pts, SQUARE[::-1]), want)
    np.testing.assert_array_equal(points_in_polygon(pts, np.vstack([SQUARE, SQUARE[:1]])), want)
    np.testing.assert_array_equal(points_in_polygon(pts.tolist(), SQUARE.tolist()), want)


def test_concave_u_shape_excludes_the_notch():
    # A U: the square [0,3]² minus the notch [1,2] × [1,3].
    u = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], dtype=float)
    pts = _grid(-0.25, 3.25, 0.5)  # 0.25 off the integer lines: no point lies on an edge
    got = points_in_polygon(pts, u)
    x, y = pts[:, 0], pts[:, 1]
    in_square = (x > 0) & (x < 3) & (y > 0) & (y < 3)
    in_notch = (x > 1) & (x < 2) & (y > 1)
    np.testing.assert_array_equal(got, np.flatnonzero(in_square & ~in_notch))
    assert len(got) == 36 - 8  # 6×6 cells of the square, minus the 2×4 cells of the notch


def test_tiling_puts_every_edge_point_in_exactly_one_tile():
    tiles = [np.array([[i, j], [i + 1, j], [i + 1, j + 1], [i, j + 1]], dtype=float)
             for i in range(2) for j in range(2)]
    # A triangle split of the same area: the diagonal is shared too.
    tiles_tri = [np.array([[0, 0], [2, 0], [2, 2]], dtype=float), np.array([[0, 0], [2, 2], [0, 2]], dtype=float)]
    pts = _grid(0.0, 2.0, 0.5)
    for group in (tiles, tiles_tri):
        hits = np.zeros(len(pts), dtype=int)
        for tile in group:
            hits[points_in_polygon(pts, tile)] += 1
        interior = (pts[:, 0] < 2) & (pts[:, 1] < 2)
        np.testing.assert_array_equal(hits, interior.astype(int))


def test_even_odd_rule_on_a_self_intersecting_star():
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5  # pentagram: vertex order skips one
    star = np.column_stack([np.cos(angles), np.sin(angles)])
    pts = np.array([[0.0, 0.0], [0.0, 0.7], [0.0, -0.9], [1.0, 1.0]])
    # Centre pentagon is covered twice (even): outside; a point tip is covered once: inside.
    np.testing.assert_array_equal(points_in_polygon(pts, star), [1])


def _star_reference(pts: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Inside test for a star-shaped polygon around the origin, by the edge under each point's angle."""
    v = len(radii)
    theta = np.arange(v) * 2 * np.pi / v
    verts = np.column_stack([radii * np.cos(theta), radii * np.sin(theta)])
    ang = np.mod(np.arctan2(pts[:, 1], pts[:, 0]), 2 * np.pi)
    k = np.minimum((ang // (2 * np.pi / v)).astype(int), v - 1)
    a, b = verts[k], verts[(k + 1) % v]
    side = (b[:, 0] - a[:, 0]) * (pts[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (pts[:, 0] - a[:, 0])
    return np.flatnonzero(side > 0)


def test_million_points_against_a_star_shaped_reference():
    rng = np.random.default_rng(0)
    v = 60
    radii = rng.uniform(0.3, 1.0, size=v)  # very concave: radii jump between neighbours
    theta = np.arange(v) * 2 * np.pi / v
    poly = np.column_stack([radii * np.cos(theta), radii * np.sin(theta)])
    pts = rng.uniform(-1.1, 1.1, size=(1_000_000, 2))
    got = points_in_polygon(pts, poly)
    want = _star_reference(pts, radii)
    # Random points are never within rounding distance of an edge here, so both are exact.
    np.testing.assert_array_equal(got, want)
    assert 0.2 < len(got) / len(pts) < 0.6


def test_edges_spanning_more_points_than_one_block():
    # Both slanted edges span every point's y: their spans are processed in several blocks.
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1, size=(600_000, 2))
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(points_in_polygon(pts, tri), np.flatnonzero(pts.sum(axis=1) < 1))


def test_nan_points_are_outside_and_empty_input_is_fine():
    pts = np.array([[0.5, 0.5], [np.nan, 0.5], [0.5, np.inf]])
    np.testing.assert_array_equal(points_in_polygon(pts, SQUARE), [0])
    assert points_in_polygon(np.empty((0, 2)), SQUARE).size == 0


@pytest.mark.parametrize("positions, polygon, error, match", [
    (np.zeros((3, 3)), SQUARE, ValueError, "positions must have shape"),
    (np.zeros((3, 2)), SQUARE[:2], ValueError, "at least 3 distinct vertices"),
    (np.zeros((3, 2)), np.vstack([SQUARE[:2], SQUARE[:1]]), ValueError, "at least 3 distinct vertices"),
    (np.zeros((3, 2)), np.array([[0, 0], [1, np.nan], [1, 1]]), ValueError, "non-finite vertex"),
    (np.zeros((3, 2)), [["a", "b"]] * 3, TypeError, "polygon must be a numeric array"),
])
def test_bad_input_names_the_parameter(positions, polygon, error, match):
    with pytest.raises(error, match=match):
        points_in_polygon(positions, polygon)
