"""The generalised t-kernel, careful distances and Nadaraya–Watson regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkmap.projection.kernel import nadaraya_watson, squared_distances, t_kernel
from dkmap.projection.loss import KernelParams, kernel_regression_errors, kl_divergence
from helpers.torch_threads import one_thread  # noqa: F401  (autouse fixture)


def test_t_kernel_matches_formula_and_is_one_at_zero():
    d2 = np.array([0.0, 0.25, 1.0, 4.0])
    expected = 1.0 / (1.0 + 2.0 * d2 ** 0.7)
    np.testing.assert_allclose(t_kernel(d2, 2.0, 0.7), expected, rtol=1e-12)
    torch_k = t_kernel(torch.tensor(d2), torch.tensor(2.0, dtype=torch.float64), 0.7)
    np.testing.assert_allclose(torch_k.numpy(), expected, rtol=1e-12)
    assert t_kernel(np.zeros(1), 5.0, 0.3)[0] == 1.0


@pytest.mark.parametrize("beta", [0.25, 0.5, 0.9])
def test_gradients_finite_for_small_beta_and_coincident_points(beta):
    torch.manual_seed(0)
    y = torch.randn(40, 2, dtype=torch.float64)
    y[5] = y[3]                        # exactly coincident
    y[7] = y[3] + 1e-30                # closer than float precision can separate
    y = y.float().requires_grad_(True)
    kernel = KernelParams()
    with torch.no_grad():
        kernel.b.fill_(beta ** 0.5)
    m = torch.randn(40)
    is_val = torch.zeros(40, dtype=torch.bool)
    is_val[[3, 10, 20]] = True
    errors = kernel_regression_errors(y, m, is_val, kernel)
    p = torch.rand(40, 40)
    p = (p + p.T).fill_diagonal_(0.0)
    loss = kl_divergence(p / p.sum(), y) + errors.train + errors.val
    loss.backward()
    for grad in (y.grad, kernel.a.grad, kernel.b.grad, kernel.c.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert kernel.b.grad.abs() > 0


def test_squared_distances_avoid_cancellation():
    rng = np.random.default_rng(0)
    x = 10.0 + 0.01 * rng.normal(size=(50, 256))
    exact = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    got = squared_distances(torch.from_numpy(x).float(), torch.from_numpy(x).float()).numpy()
    assert got.min() >= 0.0
    # Typical squared distance here is 0.05; naive float32 expansion is off by ~1e-3.
    assert np.abs(got - exact).max() < 1e-5
    low = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert squared_distances(low, low)[0, 1].item() == 25.0


def test_nadaraya_watson_numpy_torch_chunks_agree_with_brute_force():
    rng = np.random.default_rng(1)
    centres, values, queries = rng.normal(size=(30, 2)), rng.normal(size=30), rng.normal(size=(9, 2))
    d2 = ((queries[:, None, :] - centres[None]) ** 2).sum(-1)
    k = 1.0 / (1.0 + 3.0 * d2 ** 0.6)
    expected = (k @ values) / k.sum(1)
    np.testing.assert_allclose(nadaraya_watson(queries, centres, values, 3.0, 0.6), expected,
                               rtol=1e-10)
    np.testing.assert_allclose(
        nadaraya_watson(queries, centres, values, 3.0, 0.6, chunk_elements=31), expected, rtol=1e-10)
    got = nadaraya_watson(torch.from_numpy(queries), torch.from_numpy(centres),
                          torch.from_numpy(values), 3.0, 0.6)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_nadaraya_watson_rejects_mismatched_values():
    with pytest.raises(ValueError, match="values"):
        nadaraya_watson(np.zeros((2, 2)), np.zeros((3, 2)), np.zeros(2), 1.0, 1.0)
    with pytest.raises(ValueError, match="queries and centres"):
        nadaraya_watson(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(3), 1.0, 1.0)
