"""Kernel calibration on held-out items: the grid search finds the kernel that predicts best."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.projection.calibration import calibrate_kernel, density_scaled_alpha
from dkmap.projection.kernel import nadaraya_watson


def _field(n: int, seed: int):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 1, (n, 2))
    values = np.sin(6 * pos[:, 0]) + np.cos(4 * pos[:, 1]) + 0.1 * rng.normal(size=n)
    return pos, (values - values.mean()) / values.std()


def _mse(centres, values, queries, truth, alpha, beta, scale):
    return float(np.mean((scale * nadaraya_watson(queries, centres, values, alpha, beta) - truth) ** 2))


def test_calibrated_kernel_beats_a_wide_start_and_reports_its_own_mse():
    centres, values = _field(3000, 0)
    queries, truth = _field(300, 1)
    cal = calibrate_kernel(centres, values, queries, truth, alpha0=1.0)
    assert cal.alpha > 10.0                       # the field varies on a 0.1 scale: a narrow kernel
    assert cal.mse == pytest.approx(_mse(centres, values, queries, truth, cal.alpha, cal.beta,
                                         cal.scale), rel=1e-3)
    assert cal.mse < 0.5 * _mse(centres, values, queries, truth, 1.0, 1.0, 1.0)


def test_without_alpha_search_only_the_scale_moves():
    centres, values = _field(500, 2)
    queries, truth = _field(100, 3)
    cal = calibrate_kernel(centres, values, queries, truth, alpha0=1.0, betas=(1.0,),
                           search_alpha=False)
    assert (cal.alpha, cal.beta) == (1.0, 1.0)
    assert cal.scale != 1.0


def test_density_scaling_grows_alpha_with_more_centres():
    assert density_scaled_alpha(2.0, 1.5, 1000, 1000) == 2.0
    assert density_scaled_alpha(2.0, 1.5, 1000, 8000) == pytest.approx(2.0 * 8 ** 0.5)
    with pytest.raises(ValueError, match="positive"):
        density_scaled_alpha(2.0, 1.0, 0, 10)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="alpha0"):
        calibrate_kernel(np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), np.zeros(2), alpha0=0.0)
    with pytest.raises(ValueError, match="at least one centre"):
        calibrate_kernel(np.zeros((0, 2)), np.zeros(0), np.zeros((2, 2)), np.zeros(2), alpha0=1.0)
