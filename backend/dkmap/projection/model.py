"""DKMap settings (`DKMap(...).fit(x, m)`) and the fitted map they produce."""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from dkmap.device import pick_device
from dkmap.projection.kernel import nadaraya_watson
from dkmap.projection.network import ProjectionNet, default_hidden, unit_blocks
from dkmap.projection.calibration import density_scaled_alpha
from dkmap.projection.train import Selection, train_projection

log = logging.getLogger(__name__)

FORMAT = "dkmap-projector/1"

# λ when there are no selection items to choose it by (the loss sees z-scored metric values): on the
# evaluation suite's development group λ = 1 left the ratio to the best baseline at ~0.8, and λ = 4
# cost some sets neighbourhood trust below 0.85 of t-SNE's (docs/defaults.md).
DEFAULT_LAM = 2.0
# lam=None: one fit per value, the checkpoint chosen among all of them by the selection items, so
# a larger λ is kept only where its neighbourhoods clear the same bar (docs/defaults.md "λ by the
# selection items"; 8 joined 2 and 4 on 2026-12-06 for metrics with a part no feature explains).
LAM_CHOICES = (2.0, 4.0, 8.0)
# A kept checkpoint's selection items keep at least this share of the trustworthiness a t-SNE map
# of the same items has (the goal is 0.85 of t-SNE's on new items; the margin is for the estimate's
# noise on a few hundred items; docs/defaults.md "λ = 8 and a bar from t-SNE").
TRUST_TARGET = 0.88
# Fewest train items a map is fitted on.
MIN_ITEMS = 32


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


# Optimiser steps when neither steps nor epochs is given: enough for the KR term to shape the map
# whatever N is (a fixed 20 epochs gave a 2k-item set 40 steps), bounded so a fit stays within
# minutes on a CPU. Rationale and measurements: docs/defaults.md.
# 60 passes, 1,200 to 3,000 steps: past 600 steps the selection MSE had levelled but the
# neighbourhoods kept improving (trustworthiness +0.01 to +0.04 on the dev group at 1,200 steps).
AUTO_STEPS = (1200, 3000)
AUTO_EPOCHS = 60
# Held-out selection items: a fraction of the train items, at least / at most this many.
SELECT_MIN, SELECT_MAX = 100, 2000


def auto_steps(n: int, batch_size: int) -> int:
    """The default step budget for n training rows: AUTO_EPOCHS epochs, within AUTO_STEPS."""
    lo, hi = AUTO_STEPS
    return int(min(hi, max(lo, AUTO_EPOCHS * math.ceil(n / max(1, batch_size)))))


@dataclass
class DKMap:
    """Settings of the metric-supervised projection; `fit` trains and returns a FittedMap.

    hidden=None means min(D, 512). lam=None fits once per λ of lam_choices (LAM_CHOICES) and keeps
    the checkpoint the selection items choose among all of them; a number fixes λ (0 is the w/o KR
    ablation).
    learn_kernel=False is the w/o GK ablation.
    steps=None and epochs=None mean the automatic step budget (`auto_steps`); epochs=E trains E
    passes over the batches instead. select_fraction of the train items (SELECT_MIN to SELECT_MAX
    of them) are held out of training: checkpoints are chosen by how well the map predicts them,
    and the kernel is calibrated on them for all the centres the map sums over. 0 turns both off.
    A checkpoint is kept only if the selection items' trustworthiness reaches trust_target × that
    of a t-SNE map of them (None, or no checkpoint reaching it: within trust_slack of the best).
    """

    hidden: int | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 1000
    lr: float = 0.002
    lam: float | None = None
    lam_choices: tuple[float, ...] = LAM_CHOICES
    lam_warmup: float = 0.0
    lam_ramp: float = 0.0
    trust_slack: float | None = None
    trust_target: float | None = TRUST_TARGET
    w_train: float = 0.3
    w_val: float = 1.0
    val_fraction: float = 0.1
    leave_one_out: bool = True
    agreement: bool = True
    select_fraction: float = 0.1
    checkpoints: int = 10
    exaggeration: float = 5.0
    exaggeration_steps: int = 4
    learn_kernel: bool = True
    seed: int = 0
    device: str | torch.device | None = None

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{field} must be {allowed}, got {getattr(self, field)!r}")

        def integer(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        need(self.hidden is None or (integer(self.hidden) and self.hidden >= 2),
             "hidden", "None or an integer >= 2")
        need(self.steps is None or (integer(self.steps) and self.steps >= 1), "steps",
             "None or an integer >= 1")
        need(self.epochs is None or (integer(self.epochs) and self.epochs >= 1), "epochs",
             "None or an integer >= 1")
        need(self.steps is None or self.epochs is None, "steps", "None when epochs is given")
        need(integer(self.batch_size) and self.batch_size >= 16, "batch_size", "an integer >= 16")
        need(number(self.lr) and self.lr > 0, "lr", "a finite number > 0")
        need(self.lam is None or (number(self.lam) and self.lam >= 0), "lam",
             "a finite number >= 0 (or None: chosen by the selection items)")
        need(isinstance(self.lam_choices, (tuple, list)) and len(self.lam_choices) >= 1
             and all(number(v) and v > 0 for v in self.lam_choices), "lam_choices",
             "a non-empty sequence of finite numbers > 0")
        self.lam_choices = tuple(float(v) for v in self.lam_choices)
        need(number(self.lam_warmup) and 0 <= self.lam_warmup < 1, "lam_warmup", "in [0, 1)")
        need(number(self.lam_ramp) and 0 <= self.lam_ramp <= 1 - self.lam_warmup, "lam_ramp",
             "in [0, 1 - lam_warmup]")
        need(self.trust_slack is None or (number(self.trust_slack) and 0 <= self.trust_slack < 1),
             "trust_slack", "None or in [0, 1)")
        need(self.trust_target is None or (number(self.trust_target) and 0 < self.trust_target <= 1),
             "trust_target", "None or in (0, 1]")
        need(number(self.w_train) and self.w_train >= 0, "w_train", "a finite number >= 0")
        need(number(self.w_val) and self.w_val >= 0, "w_val", "a finite number >= 0")
        need(number(self.val_fraction) and 0 < self.val_fraction < 0.5, "val_fraction", "in (0, 0.5)")
        need(isinstance(self.leave_one_out, bool), "leave_one_out", "True or False")
        need(number(self.select_fraction) and 0 <= self.select_fraction < 0.5, "select_fraction",
             "in [0, 0.5)")
        need(integer(self.checkpoints) and self.checkpoints >= 1, "checkpoints", "an integer >= 1")
        need(number(self.exaggeration) and self.exaggeration >= 1, "exaggeration", ">= 1")
        need(integer(self.exaggeration_steps) and self.exaggeration_steps >= 0,
             "exaggeration_steps", "an integer >= 0")
        need(isinstance(self.learn_kernel, bool), "learn_kernel", "True or False")
        need(isinstance(self.agreement, bool), "agreement", "True or False")
        need(integer(self.seed), "seed", "an integer")

    def hidden_for(self, d_in: int) -> int:
        """The hidden width used for D = d_in input columns."""
        return self.hidden if self.hidden is not None else default_hidden(d_in)

    def steps_for(self, n: int) -> int:
        """Optimiser steps for n training rows under these settings."""
        batch = min(self.batch_size, n)
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return self.epochs * math.ceil(n / batch)
        return auto_steps(n, batch)

    def lams_for(self, n_select: int) -> tuple[float, ...]:
        """The λ values fitted: the one given, else lam_choices when there are selection items to
        choose by (DEFAULT_LAM otherwise)."""
        if self.lam is not None:
            return (self.lam,)
        return self.lam_choices if n_select else (DEFAULT_LAM,)

    def selection_size(self, n: int) -> int:
        """How many of n train items are held out to choose checkpoints and calibrate the kernel."""
        if self.select_fraction == 0 or self.lam == 0:
            return 0
        size = min(SELECT_MAX, max(SELECT_MIN, round(self.select_fraction * n)))
        return size if n - size >= max(SELECT_MIN, 2 * size) else 0

    def fit(self, x, m, progress: bool = True) -> FittedMap:
        """Train on features x (N, D) and metric m (N,); needs N >= 32."""
        x = _as_features(x)
        m = np.asarray(m, dtype=np.float64)
        if m.ndim != 1 or len(m) != len(x):
            raise ValueError(f"m must be a 1-D array with one value per row of x ({len(x)}), "
                             f"got shape {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("m contains NaN or inf values")
        if len(x) < MIN_ITEMS:
            raise ValueError(f"x has {len(x)} rows; a map needs at least {MIN_ITEMS}")
        device = pick_device(self.device)
        mean, std = float(m.mean()), float(m.std())
        if std == 0:
            log.warning("metric is constant; the kernel regression term has nothing to learn")
            std = 1.0
        m_z = torch.from_numpy((m - mean) / std).float()
        started = time.perf_counter()
        n_select = self.selection_size(len(x))
        order = np.random.default_rng(self.seed + 7).permutation(len(x))
        held, kept = np.sort(order[:n_select]), np.sort(order[n_select:])
        x_t = torch.from_numpy(x)
        selection = Selection(x_t[held], m_z[held]) if n_select else None
        steps = self.steps_for(len(kept))
        blocks = unit_blocks(x) if self.agreement else 1
        lams = self.lams_for(n_select)
        trained = train_projection(x_t[kept], m_z[kept], self, device, steps, progress, selection,
                                   blocks, lams)
        kernel = {"alpha": trained.kernel.alpha.item(), "beta": trained.kernel.beta.item(),
                  "scale": trained.kernel.scale.item()}
        learned = dict(kernel)
        calibration = trained.calibration
        if calibration is not None:
            # The map sums over every train item (the held-out ones too): scale α for that density.
            alpha = density_scaled_alpha(calibration.alpha, calibration.beta,
                                         trained.calibration_centres, len(x))
            kernel = {"alpha": alpha, "beta": calibration.beta, "scale": calibration.scale}
        fitted_at = time.perf_counter()
        positions = trained.net.project(x_t).numpy()
        timings = {"affinities_s": trained.affinity_seconds,
                   "steps_s": sum(h["seconds"] for h in trained.history),
                   "total_s": time.perf_counter() - started,
                   "transform_s": time.perf_counter() - fitted_at}
        log.info("DKMap fitted %d items in %.1fs (%d steps, best at %s)", len(x), timings["total_s"],
                 steps, trained.best_step)
        settings = {k: (str(v) if isinstance(v, torch.device) else v)
                    for k, v in asdict(self).items()}
        training = {"steps": steps, "blocks": blocks, "best_step": trained.best_step, "n_trained": int(len(kept)),
                    "n_select": int(n_select), "learned_kernel": learned,
                    "lam": trained.lam, "lams_tried": list(lams), "by_lam": trained.by_lam,
                    "trust_bar": trained.trust_bar, "trust_target": trained.trust_target,
                    "tsne_select_trust": trained.tsne_trust,
                    "select_mse": None if calibration is None else calibration.mse}
        return FittedMap(net=trained.net, kernel={**kernel, "m_mean": mean, "m_std": std},
                         train_positions=positions, train_values=m, settings=settings,
                         history=trained.history, timings=timings, training=training)


class FittedMap:
    """A trained projection with its kernel regression: positions for new items, metric at positions."""

    def __init__(self, net: ProjectionNet, kernel: dict, train_positions: np.ndarray,
                 train_values: np.ndarray, settings: dict, history: list[dict],
                 timings: dict | None = None, training: dict | None = None) -> None:
        self.net = net.eval()
        self.kernel = dict(kernel)
        self.train_positions = np.asarray(train_positions, dtype=np.float32)
        self.train_values = np.asarray(train_values, dtype=np.float64)
        self.settings = dict(settings)
        self.history = list(history)
        self.timings = dict(timings or {})
        self.training = dict(training or {})

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
            "blocks": self.net.blocks,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
            "kernel": self.kernel,
            "train_positions": torch.from_numpy(self.train_positions),
            "train_values": torch.from_numpy(self.train_values),
            "settings": self.settings,
            "history": self.history,
            "timings": self.timings,
            "training": self.training,
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
        net = ProjectionNet(state["d_in"], state["hidden"], state.get("blocks", 1))
        net.load_state_dict(state["state_dict"])
        net.to(pick_device(device))
        return cls(net=net, kernel=state["kernel"], train_positions=state["train_positions"].numpy(),
                   train_values=state["train_values"].numpy(), settings=state["settings"],
                   history=state["history"], timings=state.get("timings"),
                   training=state.get("training"))


__all__ = ["DKMap", "FittedMap", "DEFAULT_LAM", "LAM_CHOICES"]
