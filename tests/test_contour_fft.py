"""FFT kernel sums equal direct sums; no wrap-around; the heavy tail is kept."""

import numpy as np
import pytest
import torch

from dkmap.contour.binning import bin_linear
from dkmap.contour.fft import convolve_t_kernel
from dkmap.projection.kernel import kernel_sums


@pytest.mark.parametrize("beta", [0.6, 1.0, 1.7])
def test_fft_equals_direct_for_points_on_nodes(beta):
    # points exactly on lattice nodes: binning is exact, so FFT sums must equal direct sums
    rng = np.random.default_rng(2)
    res, alpha = 24, 50.0
    nodes = rng.integers(0, res, size=(200, 2))
    pos = (nodes + 0.5) / res
    val = rng.normal(size=200)
    grids = bin_linear(pos, val, res, (0, 0, res + 1, res + 1), device="cpu")
    out = convolve_t_kernel(grids, 1.0 / res, alpha, beta, device="cpu").numpy()[:, :res, :res]
    centres = (np.arange(res) + 0.5) / res
    xx, yy = np.meshgrid(centres, centres)
    num, den = kernel_sums(np.column_stack([xx.ravel(), yy.ravel()]), pos, val, alpha, beta, "cpu")
    np.testing.assert_allclose(out[0].ravel(), num, rtol=0, atol=1e-10 * np.abs(num).max())
    np.testing.assert_allclose(out[1].ravel(), den, rtol=1e-10)


def test_no_wrap_around_and_far_tail_present():
    # one point in a corner: the opposite corner gets K(√2·span) > 0, and the near side is not
    # polluted by a periodic image (value would exceed the single kernel)
    res = 16
    grids = torch.zeros((1, res, res), dtype=torch.float64)
    grids[0, 0, 0] = 1.0
    alpha, beta = 10.0, 1.0
    out = convolve_t_kernel(grids, 1.0 / res, alpha, beta, device="cpu")[0].numpy()
    d2 = ((np.arange(res)[:, None] ** 2 + np.arange(res)[None, :] ** 2) / res**2)
    np.testing.assert_allclose(out, 1.0 / (1.0 + alpha * d2**beta), rtol=1e-10)


def test_bad_kernel_parameters_are_refused():
    with pytest.raises(ValueError, match="alpha, beta and spacing"):
        convolve_t_kernel(torch.zeros((1, 4, 4), dtype=torch.float64), 0.1, -1.0, 1.0, "cpu")
