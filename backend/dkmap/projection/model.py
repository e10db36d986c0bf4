"""DKMap settings (`DKMap(...).fit(x, m)`) and the fitted map they produce."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from dkmap.device import pick_device
from dkmap.projection.kernel import nadaraya_watson
from dkmap.projection.network import ProjectionNet, default_hidden
from dkmap.projection.train import train_projection

log = logging.getLogger(__name__)

FORMAT = "dkmap-projector/1"

# λ = 1 (the loss sees z-scored metric values): on the planted-landscape benchmark (BENCHMARKS.md,
# "Projection (issue 4)") out-of-sample MAE falls steeply from λ = 0.125 to 1 and only ~4 % more
# at 2, while trustworthiness stays flat; 1 keeps the KL term an equal partner.
DEFAULT_LAM = 1.0


def _as_features(x, name: str = "x", d_in: int | None = None) -> np.ndarray:
    """Validate a 2-D finite feature array and return it as float32."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, D), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if d_in is not None and arr.shape[1] != d_in:
        raise ValueError(f"{name} must have {d_in} columns (the fitted D), got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


@dataclass
class DKMap:
    """Settings of the metric-supervised projection; `fit` trains and returns a FittedMap.

    hidden=None means min(D, 512). lam=0 is the w/o KR ablation, learn_kernel=False the w/o GK one.
    """

    hidden: int | None = None
    epochs: int = 20
    batch_size: int = 1000
    lr: float = 0.002
    lam: float = DEFAULT_LAM
    w_train: float = 0.3
    w_val: float = 1.0
    val_fraction: float = 0.1
    exaggeration: float = 5.0
    exaggeration_steps: int = 4
    learn_kernel: bool = True
    seed: int = 0
    device: str | torch.device | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{field} must be {allowed}, got {getattr(self, field)!r}")

        need(self.hidden is None or (isinstance(self.hidden, int) and self.hidden >= 2),
             "hidden", "None or an integer >= 2")
        need(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", "an integer >= 1")
        need(isinstance(self.batch_size, int) and self.batch_size >= 16, "batch_size",
             "an integer >= 16")
        need(self.lr > 0, "lr", "> 0")
        need(self.lam >= 0, "lam", ">= 0")
        need(self.w_train >= 0, "w_train", ">= 0")
        need(self.w_val >= 0, "w_val", ">= 0")
        need(0 < self.val_fraction < 0.5, "val_fraction", "in (0, 0.5)")
        need(self.exaggeration >= 1, "exaggeration", ">= 1")
        need(isinstance(self.exaggeration_steps, int) and self.exaggeration_steps >= 0,
             "exaggeration_steps", "an integer >= 0")
        need(isinstance(self.seed, int), "seed", "an integer")

    def hidden_for(self, d_in: int) -> int:
        """The hidden width used for D = d_in input columns."""
        return self.hidden if self.hidden is not None else default_hidden(d_in)

    def fit(self, x, m, progress: bool = True) -> FittedMap:
        """Train on features x (N, D) and metric m (N,); needs N >= 2·batch_size (two batches)."""
        x = _as_features(x)
        m = np.asarray(m, dtype=np.float64)
        if m.ndim != 1 or len(m) != len(x):
            raise ValueError(f"m must be a 1-D array with one value per row of x ({len(x)}), "
                             f"got shape {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("m contains NaN or inf values")
        if len(x) < 2 * self.batch_size:
            raise ValueError(f"x has {len(x)} rows but batch_size={self.batch_size} needs at least "
                             f"{2 * self.batch_size} (two mini-batches); pass a smaller batch_size "
                             f"(at most {len(x) // 2})")
        device = pick_device(self.device)
        mean, std = float(m.mean()), float(m.std())
        if std == 0:
            log.warning("metric is constant; the kernel regression term has nothing to learn")
            std = 1.0
        m_z = torch.from_numpy((m - mean) / std).float()
        started = time.perf_counter()
        net, kernel, history, affinity_s = train_projection(torch.from_numpy(x), m_z, self, device,
                                                            progress)
        trained = time.perf_counter()
        positions = net.project(torch.from_numpy(x)).numpy()
        timings = {"affinities_s": affinity_s, "epochs_s": sum(h["seconds"] for h in history),
                   "total_s": time.perf_counter() - started,
                   "transform_s": time.perf_counter() - trained}
        log.info("DKMap fitted %d items in %.1fs", len(x), timings["total_s"])
        settings = {k: (str(v) if isinstance(v, torch.device) else v)
                    for k, v in asdict(self).items()}
        return FittedMap(net=net,
                         kernel={"alpha": kernel.alpha.item(), "beta": kernel.beta.item(),
                                 "scale": kernel.scale.item(), "m_mean": mean, "m_std": std},
                         train_positions=positions, train_values=m, settings=settings,
                         history=history, timings=timings)


class FittedMap:
    """A trained projection with its kernel regression: positions for new items, metric at positions."""

    def __init__(self, net: ProjectionNet, kernel: dict, train_positions: np.ndarray,
                 train_values: np.ndarray, settings: dict, history: list[dict],
                 timings: dict | None = None) -> None:
        self.net = net.eval()
        self.kernel = dict(kernel)
        self.train_positions = np.asarray(train_positions, dtype=np.float32)
        self.train_values = np.asarray(train_values, dtype=np.float64)
        self.settings = dict(settings)
        self.history = list(history)
        self.timings = dict(timings or {})

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def transform(self, x_new) -> np.ndarray:
        """Positions (n, 2) float32 of new items: an eval-mode forward pass."""
        x_new = _as_features(x_new, "x_new", self.net.d_in)
        return self.net.project(torch.from_numpy(x_new)).numpy()

    def predict(self, positions) -> np.ndarray:
        """Metric estimate at 2-D positions: (1 − s)·μ + s·NW_m(y) over the train items."""
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2 or not np.isfinite(positions).all():
            raise ValueError(f"positions must be a finite (n, 2) array, got shape {positions.shape}")
        k = self.kernel
        nw = nadaraya_watson(positions, self.train_positions, self.train_values,
                             k["alpha"], k["beta"])
        return (1.0 - k["scale"]) * k["m_mean"] + k["scale"] * nw

    def save(self, path: str | Path) -> None:
        """Write everything needed to transform and predict to one torch file."""
        state = {
            "format": FORMAT,
            "d_in": self.net.d_in,
            "hidden": self.net.hidden,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
            "kernel": self.kernel,
            "train_positions": torch.from_numpy(self.train_positions),
            "train_values": torch.from_numpy(self.train_values),
            "settings": self.settings,
            "history": self.history,
            "timings": self.timings,
        }
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        # Serialised in memory (a few MB), written by Python: a full disk is then an OSError(ENOSPC),
        # which the command line names, rather than torch's "unexpected pos" RuntimeError.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            tmp.write_bytes(buffer.getvalue())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> FittedMap:
        """Read a file written by `save`; the network goes to `device` (default: pick_device())."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"{path} is not a DKMap projector file (format {FORMAT})")
        net = ProjectionNet(state["d_in"], state["hidden"])
        net.load_state_dict(state["state_dict"])
        net.to(pick_device(device))
        return cls(net=net, kernel=state["kernel"], train_positions=state["train_positions"].numpy(),
                   train_values=state["train_values"].numpy(), settings=state["settings"],
                   history=state["history"], timings=state.get("timings"))


__all__ = ["DKMap", "FittedMap", "DEFAULT_LAM"]
