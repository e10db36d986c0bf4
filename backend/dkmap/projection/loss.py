"""The two loss terms of one mini-batch: KL(P‖Q) and the kernel-regression error of the metric."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dkmap.projection.kernel import squared_distances, t_kernel

Q_FLOOR = 1e-10


def kl_divergence(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ_{i≠j} p_ij log(p_ij / q_ij) with the Student-t q of the 2-D positions y.

    p must have a zero diagonal (as `multiscale_affinities` returns); q's diagonal is excluded.
    """
    w = 1.0 / (1.0 + squared_distances(y, y))
    w = w - torch.diag(torch.diagonal(w))
    q = (w / w.sum()).clamp_min(Q_FLOOR)
    log_p = torch.log(torch.where(p > 0, p, torch.ones_like(p)))
    return (p * (log_p - torch.log(q))).sum()


class KernelParams(nn.Module):
    """α = a², β = b², s = c² (squared to stay positive), all starting at 1.

    With `learn_kernel=False` only s is learned (the w/o GK ablation).
    """

    def __init__(self, learn_kernel: bool = True) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.ones(()), requires_grad=learn_kernel)
        self.b = nn.Parameter(torch.ones(()), requires_grad=learn_kernel)
        self.c = nn.Parameter(torch.ones(()))

    @property
    def alpha(self) -> torch.Tensor:
        return self.a.pow(2)

    @property
    def beta(self) -> torch.Tensor:
        return self.b.pow(2)

    @property
    def scale(self) -> torch.Tensor:
        return self.c.pow(2)


@dataclass
class MapErrors:
    """Mean squared errors of the batch's kernel regression on z-scored metric values."""

    train: torch.Tensor
    val: torch.Tensor


def kernel_regression_errors(y: torch.Tensor, m_z: torch.Tensor, is_val: torch.Tensor,
                             kernel: KernelParams, leave_one_out: bool = False) -> MapErrors:
    """Predict every batch point from the batch's train part.

    A train point's own value is in its estimate (as in the papers) unless `leave_one_out`: then
    it is predicted from the other points only, which rewards neighbourhoods whose values agree
    instead of positions that isolate each point.
    """
    y_tr, m_tr = y[~is_val], m_z[~is_val]
    k = t_kernel(squared_distances(y, y_tr), kernel.alpha, kernel.beta)
    if leave_one_out:
        rows = torch.nonzero(~is_val).squeeze(1)
        k = k.index_put((rows, torch.arange(len(rows), device=k.device)),
                        torch.zeros(len(rows), dtype=k.dtype, device=k.device))
    estimate = kernel.scale * (k @ m_tr) / k.sum(1).clamp_min(torch.finfo(k.dtype).tiny)
    err = (estimate - m_z).pow(2)
    return MapErrors(train=err[~is_val].mean(), val=err[is_val].mean())
