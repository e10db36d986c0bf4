"""α refinement: never accepts an α that breaks MSE_vl ≤ MSE_vl(α_0) + ε; stops at the first failure."""

import numpy as np
import pytest

from dkmap.contour.refine import (detail_leaves, refine_alphas, tile_counts, upsample2,
                                  validation_mse_fn, validation_split)
from dkmap.projection.kernel import Kernel


def _check_constraint(result, mse_fn):
    bound = result.mse_val0 + result.epsilon
    previous = result.levels[0].alpha
    for level in result.levels[1:]:
        assert mse_fn(level.alpha) <= bound + 1e-12           # every α in use satisfies it
        if level.accepted:
            assert level.alpha > previous
        else:
            assert level.alpha == previous
        previous = level.alpha
    if result.stopped_at is not None:
        rejected = result.levels[result.stopped_at].rejected
        assert rejected["mse_val"] > bound
        assert not any(lv.accepted for lv in result.levels[result.stopped_at:])


def test_refinement_on_real_validation_mse():
    rng = np.random.default_rng(4)
    pos = rng.random((1500, 2))
    val = np.sin(3 * pos[:, 0]) + rng.normal(size=1500)
    is_train = rng.random(1500) < 0.8
    v_rows, c_rows = validation_split(is_train, 0.2, 300, seed=0)
    assert set(v_rows).isdisjoint(c_rows) and is_train[v_rows].all() and is_train[c_rows].all()
    kernel = Kernel(alpha=300.0, beta=1.0, scale=1.0, m_mean=float(val.mean()))
    mse_fn = validation_mse_fn(pos, val, kernel, v_rows, c_rows, device="cpu")
    result = refine_alphas(300.0, 12, mse_fn, growth=1.8, tolerance=0.02)
    assert len(result.levels) == 12 and result.levels[0].alpha == 300.0
    _check_constraint(result, mse_fn)
    # a smooth signal under heavy noise: sharpening helps a little, then fits noise (α → ∞ is
    # inverse-distance weighting), so refinement must stop
    assert result.levels[1].accepted and result.stopped_at is not None


@pytest.mark.parametrize("tolerance", [0.0, 0.05, 0.5])
def test_refinement_stops_at_the_first_violation(tolerance):
    # MSE dips then rises: the accepted α must be exactly those before the first violation
    def mse_fn(alpha):
        return 1.0 + 0.3 * np.log(alpha / 8.0) ** 2

    result = refine_alphas(1.0, 10, mse_fn, growth=2.0, tolerance=tolerance)
    _check_constraint(result, mse_fn)
    bound = mse_fn(1.0) * (1 + tolerance)
    expected_stop = next(z for z in range(1, 10) if mse_fn(2.0**z) > bound)
    assert result.stopped_at == expected_stop
    assert result.levels[-1].alpha == 2.0 ** (expected_stop - 1)


def test_bad_refinement_arguments():
    with pytest.raises(ValueError, match="growth"):
        refine_alphas(1.0, 3, lambda a: 1.0, growth=1.0)
    with pytest.raises(ValueError, match="alpha0"):
        refine_alphas(0.0, 3, lambda a: 1.0)


def test_tile_counts_and_detail_leaves():
    pos = np.array([[0.1, 0.1], [0.2, 0.1], [0.9, 0.6]])
    counts = tile_counts(pos, 1)
    assert counts.tolist() == [[2, 0], [0, 1]]
    coarse = np.add.outer(np.arange(8.0), np.arange(8.0))          # a plane: bilinear is exact
    fine = upsample2(coarse)
    fine[0, 0] += 1.0                                              # detail in tile (0, 0) only
    leaves = detail_leaves(coarse, fine, tile_size=4, tolerance=1e-6)
    assert not leaves[0, 0] and leaves[1, 1]


@pytest.mark.parametrize("alpha,beta", [(300.0, 1.0), (3e4, 0.8)])
def test_grid_validation_sums_match_kernel_sums(alpha, beta):
    # the route used for large N: FFT far field + exact near field must agree with exact sums
    from dkmap.projection.kernel import kernel_sums
    from dkmap.contour.refine import GridValidation
    rng = np.random.default_rng(7)
    pos = (rng.random((6, 2))[rng.integers(0, 6, 5000)] + rng.normal(size=(5000, 2)) * 0.05).clip(0, 1)
    val = np.sin(5 * pos[:, 0]) + rng.normal(size=5000) * 0.1
    grid = GridValidation(pos[:200], pos[200:], val[200:], beta, cells=128, near_cells=16, device="cpu")
    num, den = grid.sums(alpha)
    exact_num, exact_den = kernel_sums(pos[:200], pos[200:], val[200:], alpha, beta, "cpu")
    assert np.abs(num / den - exact_num / exact_den).max() <= 1e-3 * (val.max() - val.min())
    np.testing.assert_allclose(den, exact_den, rtol=2e-3)
