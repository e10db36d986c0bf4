"""Linear binning: mass and first moments conserved, bad windows refused."""

import numpy as np
import pytest

from dkmap.contour.binning import bin_linear


def test_binning_conserves_mass_and_centroid():
    rng = np.random.default_rng(1)
    pos = rng.random((3000, 2))
    val = rng.normal(size=3000)
    res = 40
    grids = bin_linear(pos, val, res, (-1, -1, res + 2, res + 2), device="cpu").numpy()
    assert grids[0].sum() == pytest.approx(val.sum(), abs=1e-9)
    assert grids[1].sum() == pytest.approx(3000, abs=1e-9)
    # bilinear weights keep the centroid: Σ w·node = Σ position
    nodes = (np.arange(-1, res + 1) + 0.5) / res
    assert (grids[1].sum(0) * nodes).sum() == pytest.approx(pos[:, 0].sum(), rel=1e-12)
    assert (grids[1].sum(1) * nodes).sum() == pytest.approx(pos[:, 1].sum(), rel=1e-12)


def test_point_on_a_node_lands_on_that_node_only():
    res = 8
    pos = np.array([[(3 + 0.5) / res, (5 + 0.5) / res]])
    grids = bin_linear(pos, np.array([2.5]), res, (0, 0, res, res), device="cpu").numpy()
    assert grids[0, 5, 3] == pytest.approx(2.5)
    assert grids[1].sum() == pytest.approx(1.0) and grids[1, 5, 3] == pytest.approx(1.0)


def test_points_outside_the_window_are_refused():
    with pytest.raises(ValueError, match="outside the binning window"):
        bin_linear(np.array([[0.99, 0.5]]), np.array([1.0]), 10, (0, 0, 5, 5), device="cpu")
    with pytest.raises(ValueError, match="positions must be"):
        bin_linear(np.zeros((3, 3)), np.zeros(3), 10, (0, 0, 5, 5), device="cpu")
