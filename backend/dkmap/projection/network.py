"""The projection network f_θ: R^D → R^2 (three Linear→BatchNorm→ReLU blocks, then Linear(H, 2))."""

from __future__ import annotations

import torch
from torch import nn


def default_hidden(d_in: int) -> int:
    """Hidden width when none is given: H = D as in the paper, capped at 512 for CPU cost."""
    return min(d_in, 512)


class ProjectionNet(nn.Sequential):
    """MLP with Kaiming-normal weights and biases 0.01, as in the reference implementation."""

    def __init__(self, d_in: int, hidden: int) -> None:
        if d_in < 1 or hidden < 2:
            raise ValueError(f"ProjectionNet needs d_in >= 1 and hidden >= 2, got {d_in}, {hidden}")
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(3):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(hidden, 2))
        super().__init__(*layers)
        self.d_in = d_in
        self.hidden = hidden
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
