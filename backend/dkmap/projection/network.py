"""The projection network f_θ: R^D → R^2 (three Linear→BatchNorm→ReLU blocks, then Linear(H, 2)).

When the feature is a concatenation of unit-norm embedding blocks of one width (a text block, then
one block per generator's images), the network also sees each image block's elementwise product
with the text block: their sum is the text-image cosine, which CLIP-like alignment metrics follow,
and an MLP on the concatenation alone approximates such products poorly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# Row norms of every block within this of 1 make the feature a concatenation of unit embeddings.
UNIT_NORM_TOLERANCE = 1e-3
MAX_BLOCKS = 4


def default_hidden(d_in: int) -> int:
    """Hidden width when none is given: H = D as in the paper, capped at 512 for CPU cost."""
    return min(d_in, 512)


def unit_blocks(x: np.ndarray, sample: int = 2048) -> int:
    """The number k ≥ 2 of equal-width unit-norm blocks x is made of, or 1 when it is not so."""
    x = np.asarray(x[:sample], dtype=np.float64)
    d = x.shape[1]
    for k in range(2, MAX_BLOCKS + 1):
        if d % k or d // k < 2:
            continue
        norms = np.linalg.norm(x.reshape(len(x), k, d // k), axis=2)
        if len(x) and np.abs(norms - 1.0).max() <= UNIT_NORM_TOLERANCE:
            return k
    return 1


class AgreementFeatures(nn.Module):
    """x → (x, √h·t⊙v_1, …, √h·t⊙v_{k−1}) for x = (t, v_1, …, v_{k−1}) of k blocks of width h.

    The √h factor gives the products the per-element scale of the embeddings themselves.
    """

    def __init__(self, d_in: int, blocks: int) -> None:
        super().__init__()
        if blocks < 1 or d_in % blocks:
            raise ValueError(f"blocks must divide d_in, got blocks={blocks}, d_in={d_in}")
        self.blocks = blocks
        self.width = d_in // blocks
        self.d_out = d_in + (blocks - 1) * self.width if blocks > 1 else d_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blocks == 1:
            return x
        parts = x.view(len(x), self.blocks, self.width)
        products = parts[:, :1, :] * parts[:, 1:, :] * math.sqrt(self.width)
        return torch.cat([x, products.reshape(len(x), -1)], 1)


class ProjectionNet(nn.Sequential):
    """MLP with Kaiming-normal weights and biases 0.01, as in the reference implementation.

    blocks > 1 puts AgreementFeatures in front (see the module docstring).
    """

    def __init__(self, d_in: int, hidden: int, blocks: int = 1) -> None:
        if d_in < 1 or hidden < 2:
            raise ValueError(f"ProjectionNet needs d_in >= 1 and hidden >= 2, got {d_in}, {hidden}")
        features = AgreementFeatures(d_in, blocks)
        layers: list[nn.Module] = [features]
        width = features.d_out
        for _ in range(3):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(hidden, 2))
        super().__init__(*layers)
        self.d_in = d_in
        self.hidden = hidden
        self.blocks = blocks
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.constant_(module.bias, 0.01)

    @torch.no_grad()
    def project(self, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """Eval-mode positions for many rows, in chunks; x may live on the CPU."""
        device = next(self.parameters()).device
        self.eval()
        out = [self(x[i:i + chunk].to(device, torch.float32)).cpu() for i in range(0, len(x), chunk)]
        return torch.cat(out) if out else torch.zeros(0, 2)
