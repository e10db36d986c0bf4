"""The training loop: a budget of optimiser steps on KL + λ·L_map, with checkpoint selection.

Mini-batches come from a few fixed random partitions whose multi-scale P is computed once. When
held-out selection items are given, the network is scored at checkpoints by how well its map
predicts them from the training items (the kernel calibrated for that many centres), and the best
checkpoint is kept: this is early stopping on train items only.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from dkmap.evaluation.baselines import embed
from dkmap.evaluation.metrics import trustworthiness
from dkmap.projection.affinities import multiscale_affinities
from dkmap.projection.calibration import BETAS, Calibration, calibrate_kernel
from dkmap.projection.loss import KernelParams, kernel_regression_errors, kl_divergence
from dkmap.projection.network import ProjectionNet

if TYPE_CHECKING:
    from dkmap.projection.model import DKMap

log = logging.getLogger(__name__)

# P of every batch is kept when it fits in this many bytes; otherwise recomputed per step.
AFFINITY_CACHE_BYTES = 2 << 30
# Distinct batches wanted for a small N: more partitions give the network more views of the data.
MIN_DISTINCT_BATCHES = 24
# Checkpoint scoring and the final calibration: at most this many training items as centres
# (one seeded sample); checkpoints search α and s, the final calibration β as well.
SELECT_CENTRES_MAX = 10_000
TRUST_K = 20
# How far below the best checkpoint's trustworthiness a chosen checkpoint may be when no checkpoint
# reaches the t-SNE target (see checkpoint_bar; measured in docs/defaults.md).
TRUST_SLACK = 0.02
REFERENCE_SKIP = 2


@dataclass
class Selection:
    """Held-out train items that score checkpoints: features (n, D) and z-scored metric (n,)."""

    x: torch.Tensor
    m_z: torch.Tensor


@dataclass
class Training:
    """What training produced: the chosen network and kernel, per-checkpoint records, timings."""

    net: ProjectionNet
    kernel: KernelParams
    history: list[dict]
    affinity_seconds: float
    best_step: int | None = None
    calibration: Calibration | None = None
    calibration_centres: int = 0
    lam: float | None = None
    # Per λ fitted: its best checkpoint under the common trust bar (step, selection MSE and trust).
    by_lam: list[dict] | None = None
    # The selection trustworthiness the kept checkpoint had to reach; the t-SNE target
    # (trust_target × the t-SNE map's trustworthiness on the selection items), which is the bar
    # when some checkpoint reaches it; that t-SNE trustworthiness.
    trust_bar: float | None = None
    trust_target: float | None = None
    tsne_trust: float | None = None


def make_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random partition of n rows into ceil(n / batch_size) batches of near-equal size.

    Near-equal sizes mean no batch is a tiny remainder whose KL and validation split are noise.
    """
    return np.array_split(rng.permutation(n), math.ceil(n / batch_size))


def make_partitions(n: int, batch_size: int, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of enough random partitions to give ≥ MIN_DISTINCT_BATCHES distinct ones (when the
    step budget uses them), within the affinity cache."""
    per_partition = math.ceil(n / batch_size)
    size = min(batch_size, n)
    by_cache = max(1, AFFINITY_CACHE_BYTES // (per_partition * size * size * 4))
    wanted = math.ceil(min(MIN_DISTINCT_BATCHES, steps) / per_partition)
    batches: list[np.ndarray] = []
    for _ in range(max(1, min(wanted, by_cache))):
        batches += make_batches(n, batch_size, rng)
    return batches


def batch_affinities(x: torch.Tensor, batches: list[np.ndarray], device: torch.device,
                     progress: bool) -> list[torch.Tensor]:
    """Multi-scale P of each batch (they depend on x only, so they are computed once)."""
    out = []
    with torch.no_grad():
        for idx in tqdm(batches, desc="affinities", unit="batch", disable=not progress, leave=False):
            out.append(multiscale_affinities(x[torch.from_numpy(idx)].to(device)))
    return out


class _Scorer:
    """Scores a checkpoint: calibrated kernel-regression MSE of the selection items."""

    def __init__(self, x: torch.Tensor, m_z: torch.Tensor, selection: Selection, seed: int) -> None:
        rng = np.random.default_rng(seed + 1)
        keep = np.sort(rng.choice(len(x), min(len(x), SELECT_CENTRES_MAX), replace=False))
        self.x_centres = x[torch.from_numpy(keep)]
        self.m_centres = m_z[torch.from_numpy(keep)].cpu().numpy()
        self.selection = selection

    def __call__(self, net: ProjectionNet, kernel: KernelParams, betas) -> tuple[Calibration, float]:
        """The calibrated kernel's selection MSE, and the selection items' trustworthiness."""
        centres = net.project(self.x_centres).numpy()
        queries = net.project(self.selection.x).numpy()
        net.train()
        calibration = calibrate_kernel(centres, self.m_centres, queries, self.selection.m_z.numpy(),
                                       alpha0=max(kernel.alpha.item(), 1e-12), betas=betas)
        return calibration, self._trust(queries)

    def tsne_trust(self, seed: int) -> float:
        """Trustworthiness of a t-SNE map of the selection items, scored as checkpoints are."""
        return self._trust(embed("tsne", self.selection.x.numpy(), seed))

    def _trust(self, positions: np.ndarray) -> float:
        """The selection items' trustworthiness@TRUST_K (fewer neighbours for a small set) at positions."""
        x = self.selection.x.numpy()
        return trustworthiness(x, positions, k=min(TRUST_K, (len(x) - 1) // 2))

    def calibrate(self, net: ProjectionNet, kernel: KernelParams, learn_kernel: bool) -> Calibration:
        """α, β and s of the chosen network's map, fitted on the selection items (w/o GK: α = β = 1
        stay fixed and only s is fitted)."""
        centres = net.project(self.x_centres).numpy()
        queries = net.project(self.selection.x).numpy()
        truth = self.selection.m_z.numpy()
        if not learn_kernel:
            return calibrate_kernel(centres, self.m_centres, queries, truth, alpha0=1.0, betas=(1.0,),
                                    search_alpha=False)
        betas = tuple(sorted(set(BETAS) | {round(kernel.beta.item(), 6)}))
        return calibrate_kernel(centres, self.m_centres, queries, truth,
                                alpha0=max(kernel.alpha.item(), 1e-12), betas=betas)


def lam_at(step: int, steps: int, settings) -> float:
    """λ at optimiser step `step` of `steps`: 0 for the first lam_warmup of the steps (KL alone
    lays out the neighbourhoods), then rising linearly to λ over the next lam_ramp of them."""
    start = settings.lam_warmup * steps
    if step <= start:
        return 0.0
    ramp = settings.lam_ramp * steps
    return settings.lam if ramp == 0 else settings.lam * min(1.0, (step - start) / ramp)


def choose_checkpoint(kept: list[tuple], bar: float) -> tuple:
    """The checkpoint (mse, trust, step, …) of lowest selection MSE among those whose selection
    trustworthiness reaches `bar` (the most trustworthy one when none does). Checkpoints of fits at
    several λ are one pool: a larger λ's map is kept only when it predicts the selection items
    better and its neighbourhoods clear the same bar."""
    eligible = [k for k in kept if k[1] >= bar] or [max(kept, key=lambda k: k[1])]
    return min(eligible, key=lambda k: k[0])


def checkpoint_bar(kept: list[tuple], reference: list[tuple] | None = None,
                   slack: float = TRUST_SLACK, target: float | None = None,
                   late: list[tuple] | None = None) -> float:
    """The trustworthiness a chosen checkpoint must reach: `target` (a share of what a t-SNE map of
    the selection items reaches) when some checkpoint after the first REFERENCE_SKIP (`late`, by
    default those of `kept`) reaches it, else the best trustworthiness among `reference` (by
    default the late checkpoints) less `slack`.

    Early checkpoints predict best but keep neighbourhoods worst (the metric term shapes the map
    first, KL catches up later), so MSE alone would trade the map's structure away. The first
    checkpoints neither set the relative bar nor decide whether the target is reached: taken under
    early exaggeration, before the metric has shaped anything, their KL-only neighbourhoods would
    rule out every later map.
    """
    late = late if late is not None else (kept[REFERENCE_SKIP:] or kept)
    if target is not None and any(k[1] >= target for k in late):
        return target
    return trust_floor(reference or late, slack)


def trust_floor(reference: list[tuple], slack: float) -> float:
    """The relative bar: the best trustworthiness among `reference` less `slack`."""
    return max(k[1] for k in reference) - slack


def _checkpoint_steps(steps: int, every: int) -> set[int]:
    return {s for s in range(every, steps + 1, every)} | {steps}


@dataclass
class _Run:
    """One fit at one λ: its final network and kernel, checkpoint records and scored checkpoints
    (selection MSE, selection trust, step, net state, kernel state, λ)."""

    lam: float
    net: ProjectionNet
    kernel: KernelParams
    records: list[dict]
    kept: list[tuple]


@dataclass
class _Shared:
    """What every λ's fit reuses: the batches, their P, the scorer, the checkpoint steps."""

    x: torch.Tensor
    m_z: torch.Tensor
    batches: list[np.ndarray]
    cached: list[torch.Tensor] | None
    scorer: _Scorer | None
    checkpoints: set[int]
    device: torch.device
    blocks: int


def _fit_one(shared: _Shared, settings: DKMap, steps: int, rng: np.random.Generator,
             progress: bool) -> _Run:
    """Train a fresh network (seeded) at settings.lam for `steps` steps on the shared batches."""
    x, m_z, batches, cached, device = shared.x, shared.m_z, shared.batches, shared.cached, shared.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = ProjectionNet(x.shape[1], settings.hidden_for(x.shape[1]), shared.blocks).to(device)
    kernel = KernelParams(settings.learn_kernel).to(device)
    params = list(net.parameters()) + [p for p in kernel.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=settings.lr)
    kept: list[tuple] = []
    records: list[dict] = []
    sums = {"kl": 0.0, "map": 0.0, "mse_train": 0.0, "mse_val": 0.0}
    since = 0
    started = time.perf_counter()
    order: list[int] = []
    net.train()
    for step in tqdm(range(1, steps + 1), desc=f"train λ={settings.lam:g}", unit="step",
                     disable=not progress, leave=False):
        if not order:
            order = list(rng.permutation(len(batches)))
        b = order.pop()
        idx = torch.from_numpy(batches[b])
        xb = x[idx].to(device)
        if cached is not None:
            p = cached[b]
        else:
            with torch.no_grad():
                p = multiscale_affinities(xb)
        if step <= settings.exaggeration_steps:
            p = p * settings.exaggeration
        y = net(xb)
        kl = kl_divergence(p, y)
        is_val = torch.zeros(len(idx), dtype=torch.bool)
        n_val = max(1, round(len(idx) * settings.val_fraction))
        is_val[torch.from_numpy(rng.permutation(len(idx))[:n_val])] = True
        is_val = is_val.to(device)
        lam = lam_at(step, steps, settings)
        with torch.set_grad_enabled(lam > 0):
            errors = kernel_regression_errors(y, m_z[idx.to(device)], is_val, kernel,
                                              leave_one_out=settings.leave_one_out)
            l_map = settings.w_train * errors.train + settings.w_val * errors.val
        loss = kl + lam * l_map if lam > 0 else kl
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        sums["kl"] += kl.item()
        sums["map"] += l_map.item()
        sums["mse_train"] += errors.train.item()
        sums["mse_val"] += errors.val.item()
        since += 1
        if step not in shared.checkpoints:
            continue
        record = {k: v / since for k, v in sums.items()}
        record.update(step=step, lam=lam, alpha=kernel.alpha.item(), beta=kernel.beta.item(),
                      scale=kernel.scale.item(), seconds=time.perf_counter() - started)
        if not all(math.isfinite(v) for v in record.values()):
            raise FloatingPointError(f"training diverged by step {step}: {record}")
        if shared.scorer is not None:
            score, trust = shared.scorer(net, kernel, betas=(kernel.beta.item(),))
            record["select_mse"] = score.mse
            record["select_trust"] = trust
            kept.append((score.mse, trust, step, copy.deepcopy(net.state_dict()),
                         copy.deepcopy(kernel.state_dict()), settings.lam))
        records.append(record)
        log.info("λ=%g step %d/%d kl=%.4f map=%.4f mse_val=%.4f select=%s alpha=%.4g beta=%.4g (%.1fs)",
                 settings.lam, step, steps, record["kl"], record["map"], record["mse_val"],
                 f"{record['select_mse']:.4f}" if "select_mse" in record else "-",
                 record["alpha"], record["beta"], record["seconds"])
        sums = dict.fromkeys(sums, 0.0)
        since = 0
        started = time.perf_counter()
    return _Run(lam=settings.lam, net=net, kernel=kernel, records=records, kept=kept)


def train_projection(x: torch.Tensor, m_z: torch.Tensor, settings: DKMap, device: torch.device,
                     steps: int, progress: bool = True,
                     selection: Selection | None = None, blocks: int = 1,
                     lams: tuple[float, ...] = ()) -> Training:
    """Fit the network and kernel on x (N, D float32, CPU) and z-scored metric m_z (N,) for
    `steps` optimiser steps. With `selection`, the best checkpoint by its score is returned.
    blocks: unit-norm embedding blocks of x (see network.AgreementFeatures; 1: none).
    lams: the λ values to fit (one fit each, on the same batches; () means settings.lam alone);
    with `selection` the checkpoint is chosen among all of theirs (see choose_checkpoint)."""
    n = len(x)
    lams = tuple(lams) or (settings.lam,)
    rng = np.random.default_rng(settings.seed)
    batch_size = min(settings.batch_size, n)
    batches = make_partitions(n, batch_size, steps, rng)
    cache_bytes = sum(len(b) ** 2 for b in batches) * 4
    cached = None
    started = time.perf_counter()
    if cache_bytes <= AFFINITY_CACHE_BYTES:
        cached = batch_affinities(x, batches, device, progress)
    else:
        log.info("affinities need %.1f GiB: recomputing them per batch", cache_bytes / 2**30)
    affinity_seconds = time.perf_counter() - started
    m_z = m_z.to(device)
    scorer = _Scorer(x, m_z, selection, settings.seed) if selection is not None else None
    checkpoints = _checkpoint_steps(steps, max(1, steps // settings.checkpoints))
    warm_end = int(settings.lam_warmup * steps)
    if warm_end >= 1:
        checkpoints.add(warm_end)   # the KL-only map: the reference for neighbourhood trust
    shared = _Shared(x, m_z, batches, cached, scorer, checkpoints, device, blocks)
    # Every λ's fit sees the same batch order and validation splits: they differ by λ alone.
    runs = [_fit_one(shared, replace(settings, lam=lam), steps, copy.deepcopy(rng), progress)
            for lam in lams]
    records = [r for run in runs for r in run.records]
    kept = [k for run in runs for k in run.kept]
    net, kernel = runs[0].net, runs[0].kernel
    best_step = best_lam = calibration = by_lam = bar = target = tsne_trust = None
    if kept:
        late = [k for run in runs for k in (run.kept[REFERENCE_SKIP:] or run.kept)]
        reference = [k for k in kept if k[2] <= warm_end] or late
        slack = TRUST_SLACK if settings.trust_slack is None else settings.trust_slack
        if settings.trust_target is not None:
            tsne_trust = scorer.tsne_trust(settings.seed)
            target = settings.trust_target * tsne_trust
        bar = checkpoint_bar(kept, reference, slack, target, late)
        _, _, best_step, net_state, kernel_state, best_lam = choose_checkpoint(kept, bar)
        by_lam = []
        for run in runs:
            mse, trust, step, *_ = choose_checkpoint(run.kept, bar)
            by_lam.append({"lam": run.lam, "step": step, "select_mse": mse, "select_trust": trust,
                           "within_bar": trust >= bar})
        chosen = next(run for run in runs if run.lam == best_lam)
        net, kernel = chosen.net, chosen.kernel
        net.load_state_dict(net_state)
        kernel.load_state_dict(kernel_state)
    net.eval()
    if scorer is not None:
        calibration = scorer.calibrate(net, kernel, settings.learn_kernel)
    return Training(net=net, kernel=kernel, history=records, affinity_seconds=affinity_seconds,
                    best_step=best_step, calibration=calibration,
                    calibration_centres=0 if scorer is None else len(scorer.x_centres),
                    lam=best_lam if best_lam is not None else lams[0], by_lam=by_lam,
                    trust_bar=bar, trust_target=target, tsne_trust=tsne_trust)
