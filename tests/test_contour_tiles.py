"""Contour tiles at stored and deep levels match direct kernel regression; masking; bad requests."""

import numpy as np
import pytest

from dkmap.contour.mask import FarMask
from dkmap.contour.tiles import ContourField, cell_centres, compute_tile, level_grid
from dkmap.projection.kernel import Kernel

T = 16


@pytest.fixture(scope="module")
def items():
    rng = np.random.default_rng(3)
    centres = rng.random((12, 2)) * 0.7 + 0.15
    pos = (centres[rng.integers(0, 12, 4000)] + rng.normal(size=(4000, 2)) * 0.04).clip(0.02, 0.98)
    val = np.sin(7 * pos[:, 0]) + 2 * pos[:, 1] + rng.normal(size=4000) * 0.2
    return pos, val


@pytest.mark.parametrize("alpha,beta", [(400.0, 1.0), (3000.0, 0.8)])
def test_tiles_match_direct_evaluation_at_every_level(items, alpha, beta):
    pos, val = items
    kernel = Kernel(alpha=alpha, beta=beta, scale=0.9, m_mean=float(val.mean()))
    field = ContourField(pos, val, kernel, tile_size=T, max_grid=64, device="cpu")
    assert field.precomputed_levels == 3
    rng = np.random.default_rng(0)
    tol = 1e-3 * (val.max() - val.min())
    for z in (0, 1, 2, 3, 4, 6, 8):
        tx, ty = rng.integers(0, 1 << z, size=2)
        tile = field.tile(z, int(tx), int(ty))
        exact = kernel.evaluate(cell_centres(z, T, tx, ty), pos, val, "cpu").reshape(T, T)
        assert np.abs(tile - exact).max() <= tol, f"level {z}"


def test_level_grid_equals_its_tiles_and_layout(items):
    pos, val = items
    field = ContourField(pos, val, Kernel(alpha=100.0, beta=1.0), tile_size=T, max_grid=64,
                         device="cpu")
    assert field.oversampling(2, 100.0) == 1   # both from the same global grid
    grid = level_grid(field, 2, 100.0)
    assert grid.shape == (4 * T, 4 * T) and grid.dtype == np.float32
    tile = field.tile(2, 3, 1, 100.0)   # x = 3, y = 1 → rows T..2T, columns 3T..4T
    np.testing.assert_allclose(grid[T:2 * T, 3 * T:4 * T], tile, atol=1e-5)


def test_mask_blanks_cells_far_from_items():
    pos = np.array([[0.25, 0.25], [0.3, 0.25]])
    field = ContourField(pos, np.array([1.0, 3.0]), Kernel(alpha=100.0, beta=1.0), tile_size=T,
                         max_grid=32, device="cpu")
    mask = FarMask(pos, radius=0.1)
    grid = level_grid(field, 0, 100.0, mask)
    centres = cell_centres(0, T, 0, 0)
    dist = np.min(np.linalg.norm(centres[:, None] - pos[None], axis=2), axis=1).reshape(T, T)
    assert np.array_equal(np.isnan(grid), dist > 0.1)
    deep = compute_tile(field, 5, 31, 31, 100.0, mask)   # a corner far from both items
    assert np.isnan(deep).all()


def test_bad_tile_and_inputs_are_refused(items):
    pos, val = items
    field = ContourField(pos, val, Kernel(alpha=500.0, beta=1.0), tile_size=T, max_grid=64)
    with pytest.raises(ValueError, match="outside level 2"):
        field.tile(2, 4, 0)
    with pytest.raises(ValueError, match="max_grid"):
        field.level_grid(5)
    with pytest.raises(ValueError, match="unit square"):
        ContourField(pos + 1.0, val, Kernel(alpha=1.0, beta=1.0))
    with pytest.raises(ValueError, match="tile_size"):
        ContourField(pos, val, Kernel(alpha=1.0, beta=1.0), tile_size=12)
