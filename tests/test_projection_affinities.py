"""Multi-scale affinities: calibrated rows, a proper joint P, batched = one target at a time."""

from __future__ import annotations

import math

import pytest
import torch

from dkmap.projection.affinities import (conditional_affinities, entropy_targets,
                                         multiscale_affinities)
from dkmap.projection.kernel import squared_distances
from helpers.torch_threads import one_thread  # noqa: F401  (autouse fixture)


def clustered(n: int, d: int = 20, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(5, d, generator=g) * 2
    return centres[torch.randint(5, (n,), generator=g)] + torch.randn(n, d, generator=g)


def entropy_bits(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-300))).sum(-1) / math.log(2.0)


def test_entropy_targets_follow_batch_size():
    assert entropy_targets(1000) == list(range(1, 9))
    assert entropy_targets(300) == list(range(1, 7))
    with pytest.raises(ValueError, match="too small"):
        entropy_targets(4)


@pytest.mark.parametrize("n", [200, 137])
def test_conditional_rows_sum_to_one_and_hit_their_entropies(n):
    x = clustered(n).double()
    targets = entropy_targets(n)
    cond = conditional_affinities(squared_distances(x, x), targets)
    assert cond.shape == (len(targets), n, n)
    torch.testing.assert_close(cond.sum(-1), torch.ones(len(targets), n, dtype=torch.float64))
    assert torch.diagonal(cond, dim1=1, dim2=2).abs().max() == 0
    error = entropy_bits(cond) - torch.tensor(targets, dtype=torch.float64)[:, None]
    assert error.abs().max() < 1e-4


def test_joint_p_is_symmetric_normalised_and_floored():
    x = clustered(300, seed=1)
    p = multiscale_affinities(x)
    torch.testing.assert_close(p, p.T)
    off = ~torch.eye(300, dtype=torch.bool)
    assert abs(p.sum().item() - 1.0) < 1e-4
    assert p[off].min() >= 1e-10
    assert torch.diagonal(p).abs().max() == 0


def test_batched_targets_equal_one_target_at_a_time():
    x = clustered(250, seed=2)
    d2 = squared_distances(x, x)
    targets = entropy_targets(250)
    together = conditional_affinities(d2, targets)
    for i, h in enumerate(targets):
        alone = conditional_affinities(d2, [h])[0]
        assert (together[i] - alone).abs().max() < 1e-6
