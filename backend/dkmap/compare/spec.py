"""SPEC: which groups of items one embedding clusters and another does not (METHOD.md §8).

The N×N kernel difference Δ = (φ_X φ_Xᵀ − φ_Y φ_Yᵀ)/N is never formed. One streamed pass over the
items accumulates the joint covariance C = [φ_X, φ_Y]ᵀ[φ_X, φ_Y]/N in float64; with C = UᵀU
(Cholesky), Δ = Ψ M Ψᵀ where Ψ = [φ_X, φ_Y] U⁻¹/√N has orthonormal columns and
M = U diag(I, −I) Uᵀ is (d_X+d_Y)-square. So eig(M) gives Δ's non-zero eigenvalues, and a second
streamed pass maps the top eigenvectors w back to unit item vectors u = Ψ w. Cost O(N (d_X+d_Y)²).

Cluster rule (per top eigenvector u, ordered by |eigenvalue|): flip u so that its entry of
largest magnitude is positive; the cluster is every item with u_i ≥ `cluster_rel` · max(u)
(default 0.5), strongest first, at most `cluster_max` items (default 100). Weights are the
entries u_i of the unit-norm eigenvector. A positive eigenvalue means X groups the items and Y
does not (side "x"), a negative one the reverse (side "y").
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from scipy.linalg import solve_triangular
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from dkmap.device import pick_device

log = logging.getLogger(__name__)

KERNELS = ("cosine", "gaussian")
# Float64 elements of one feature chunk (rows × features): 2^24 is 128 MiB.
_CHUNK_ELEMENTS = 1 << 24
# Rows used by the median-distance bandwidth heuristic.
_BANDWIDTH_SAMPLE = 2000


class FeatureMap:
    """Maps a chunk of embeddings (float64 torch, rows × d_in) to kernel features (rows × dim)."""

    dim: int

    def __call__(self, chunk: torch.Tensor, offset: int = 0) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class CosineFeatures(FeatureMap):
    """L2-normalised rows: the feature inner product is the cosine similarity."""

    def __init__(self, d_in: int, name: str) -> None:
        self.dim = d_in
        self.name = name

    def __call__(self, chunk: torch.Tensor, offset: int = 0) -> torch.Tensor:
        norms = torch.linalg.vector_norm(chunk, dim=1, keepdim=True)
        if bool((norms == 0).any()):
            bad = offset + int(torch.nonzero(norms[:, 0] == 0)[0, 0])
            raise ValueError(f"{self.name}: row {bad} has zero norm; normalised features need non-zero embeddings")
        return chunk / norms


class FourierFeatures(FeatureMap):
    """Random Fourier features [cos(xω), sin(xω)]/√m of the Gaussian exp(−‖x−x'‖²/2σ²), seeded.

    The input rows are L2-normalised first when `normalize` is set (stored embeddings are unit
    vectors; the bandwidth then lives on the unit sphere)."""

    def __init__(self, d_in: int, n_fourier: int, bandwidth: float, seed: int, normalize: bool,
                 device: torch.device, name: str) -> None:
        if n_fourier < 1:
            raise ValueError(f"n_fourier must be a positive integer, got {n_fourier}")
        if not (bandwidth > 0 and math.isfinite(bandwidth)):
            raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth}")
        gen = torch.Generator().manual_seed(seed)
        omega = torch.randn(d_in, n_fourier, generator=gen, dtype=torch.float64) / bandwidth
        self.omega = omega.to(device)
        self.dim = 2 * n_fourier
        self.bandwidth = float(bandwidth)
        self.scale = 1.0 / math.sqrt(n_fourier)
        self.normalize = normalize
        self._cosine = CosineFeatures(d_in, name)

    def __call__(self, chunk: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if self.normalize:
            chunk = self._cosine(chunk, offset)
        proj = chunk @ self.omega
        return torch.cat([torch.cos(proj), torch.sin(proj)], dim=1) * self.scale


@dataclass(frozen=True)
class SpecCluster:
    """Items with the largest entries of one eigenvector of Δ, strongest first."""

    eigenvalue: float
    side: str  # "x": X groups these items and Y does not; "y": the reverse
    rows: np.ndarray  # int64 item rows
    weights: np.ndarray  # float64 eigenvector entries (unit-norm vector), descending


@dataclass
class SpecResult:
    """Eigenvalues of Δ (all d_X+d_Y, by |value| descending), top item eigenvectors and clusters."""

    eigenvalues: np.ndarray
    vectors: np.ndarray  # N × k float64, unit columns, sign fixed (largest |entry| positive)
    clusters: list[SpecCluster]
    n_items: int
    kernel: str
    jitter: float = 0.0  # added to C's diagonal when Cholesky failed (0: none was needed)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_diff(self) -> float:
        """SPEC-diff score: the spectral radius of Δ."""
        return float(np.abs(self.eigenvalues).max()) if self.eigenvalues.size else 0.0


def median_bandwidth(emb: np.ndarray, seed: int = 0, normalize: bool = True) -> float:
    """Median pairwise Euclidean distance over a seeded sample of rows: a default Gaussian σ."""
    n = emb.shape[0]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, _BANDWIDTH_SAMPLE), replace=False))
    sample = np.asarray(emb[rows], dtype=np.float64)
    if normalize:
        sample = sample / np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-300)
    sq = (sample * sample).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * sample @ sample.T, 0.0)
    dist = np.sqrt(d2[np.triu_indices(len(rows), k=1)])
    median = float(np.median(dist)) if dist.size else 0.0
    if median <= 0:
        raise ValueError("bandwidth: the median pairwise distance is 0 (identical rows); pass bandwidth explicitly")
    return median


def feature_maps(x: np.ndarray, y: np.ndarray, kernel: str = "cosine", n_fourier: int = 256,
                 bandwidth: float | Sequence[float] | None = None, seed: int = 0, normalize: bool = True,
                 device: torch.device | None = None) -> tuple[FeatureMap, FeatureMap, dict[str, Any]]:
    """The feature maps of X and Y that `spec` uses, and the kernel settings they were built with."""
    device = pick_device(device)
    if kernel == "cosine":
        return CosineFeatures(x.shape[1], "x"), CosineFeatures(y.shape[1], "y"), {}
    if kernel != "gaussian":
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if bandwidth is None:
        bw = (median_bandwidth(x, seed, normalize), median_bandwidth(y, seed, normalize))
    elif isinstance(bandwidth, (int, float)):
        bw = (float(bandwidth), float(bandwidth))
    else:
        bw = tuple(float(b) for b in bandwidth)
        if len(bw) != 2:
            raise ValueError(f"bandwidth must be a number, a pair (x, y) or None, got {bandwidth!r}")
    # Different seeds per side: the two feature maps must be independent draws.
    fx = FourierFeatures(x.shape[1], n_fourier, bw[0], seed, normalize, device, "x")
    fy = FourierFeatures(y.shape[1], n_fourier, bw[1], seed + 1, normalize, device, "y")
    return fx, fy, {"bandwidth": list(bw), "n_fourier": n_fourier, "seed": seed}


def _chunks(n: int, rows: int, progress: bool, desc: str):
    starts = range(0, n, rows)
    return tqdm(starts, desc=desc, disable=not progress, total=len(starts))


def _features(x: np.ndarray, y: np.ndarray, fx: FeatureMap, fy: FeatureMap, start: int, stop: int,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 features of rows start:stop of x and of y."""
    return tuple(fmap(torch.from_numpy(np.asarray(emb[start:stop], dtype=np.float64)).to(device), start)
                 for emb, fmap in ((x, fx), (y, fy)))


def _raise_non_finite(x: np.ndarray, y: np.ndarray, start: int, stop: int) -> None:
    """Name the first row of start:stop holding NaN/inf (only called once a chunk went non-finite)."""
    for name, emb in (("x", x), ("y", y)):
        bad = ~np.isfinite(np.asarray(emb[start:stop], dtype=np.float64)).all(axis=1)
        if bad.any():
            raise ValueError(f"{name}: row {start + int(np.argmax(bad))} has a non-finite value")
    raise ValueError(f"rows {start}:{stop}: features are not finite (values too large for the kernel)")


def _cholesky_upper(c: np.ndarray) -> tuple[np.ndarray, float]:
    """Upper U with C (+ jitter·I) = UᵀU; jitter grows from 1e-12·mean diag only if needed."""
    try:
        return np.linalg.cholesky(c).T, 0.0
    except np.linalg.LinAlgError:
        pass
    base = float(np.trace(c)) / c.shape[0]
    for power in range(-12, -3):
        jitter = base * 10.0**power
        try:
            upper = np.linalg.cholesky(c + jitter * np.eye(c.shape[0])).T
        except np.linalg.LinAlgError:
            continue
        log.warning("SPEC: covariance not positive definite (rank-deficient features); added jitter "
                    "%.3g to its diagonal, eigenvalues are approximate at that level", jitter)
        return upper, jitter
    raise ValueError("SPEC: the joint covariance is not positive definite even with jitter; "
                     "check the embeddings for constant or duplicated dimensions")


def _reduced_eigen(cov: np.ndarray, d_x: int, top: int, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Eigenvalues of M = U diag(I, −I) Uᵀ by |value| descending, the maps U⁻¹w/√N of the `top`
    eigenvectors back to features, and the jitter used."""
    # Small dense LAPACK calls: one thread is as fast at this size, and multi-threaded ones stall
    # for seconds when other processes share the cores.
    with threadpool_limits(limits=1):
        upper, jitter = _cholesky_upper(cov)
        signs = np.ones(cov.shape[0])
        signs[d_x:] = -1.0
        middle = (upper * signs) @ upper.T
        evals, evecs = np.linalg.eigh((middle + middle.T) / 2.0)
        order = np.argsort(-np.abs(evals), kind="stable")
        evals, evecs = evals[order], evecs[:, order]
        back = solve_triangular(upper, evecs[:, :top], lower=False) / math.sqrt(n)
    return evals, back, jitter


def _cluster(vector: np.ndarray, eigenvalue: float, rel: float, max_size: int) -> SpecCluster:
    peak = float(vector.max())
    candidates = np.flatnonzero(vector >= rel * peak)
    order = candidates[np.argsort(-vector[candidates], kind="stable")][:max_size]
    return SpecCluster(eigenvalue=float(eigenvalue), side="x" if eigenvalue >= 0 else "y",
                       rows=order.astype(np.int64), weights=vector[order].astype(np.float64))


def spec(x: np.ndarray, y: np.ndarray, k: int = 10, kernel: str = "cosine", *, n_fourier: int = 256,
         bandwidth: float | Sequence[float] | None = None, seed: int = 0, normalize: bool = True,
         cluster_rel: float = 0.5, cluster_max: int = 100, chunk_rows: int = 65536,
         device: str | torch.device | None = None, progress: bool = False) -> SpecResult:
    """SPEC between embeddings x (N×d_X) and y (N×d_Y) of the same items, streamed over N.

    `kernel`: "cosine" (normalised rows) or "gaussian" (random Fourier features, `n_fourier`
    frequencies per side, σ = `bandwidth` or the median pairwise distance when None, seeded)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    for name, emb in (("x", x), ("y", y)):
        if not hasattr(emb, "shape") or len(emb.shape) != 2 or emb.shape[1] < 1:
            raise ValueError(f"{name} must be a 2-D array (N × d), got shape {getattr(emb, 'shape', None)}")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must embed the same items: x has {n} rows, y has {y.shape[0]}")
    if n < 2:
        raise ValueError(f"SPEC needs at least 2 items, got {n}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not 0 < cluster_rel <= 1:
        raise ValueError(f"cluster_rel must be in (0, 1], got {cluster_rel}")
    if cluster_max < 1:
        raise ValueError(f"cluster_max must be a positive integer, got {cluster_max}")
    dev = pick_device(device)
    fx, fy, kernel_settings = feature_maps(x, y, kernel, n_fourier, bandwidth, seed, normalize, dev)
    d_x, d = fx.dim, fx.dim + fy.dim
    rows = max(1, min(int(chunk_rows), _CHUNK_ELEMENTS // d))

    cov = torch.zeros(d, d, dtype=torch.float64, device=dev)
    for start in _chunks(n, rows, progress, "SPEC covariance"):
        stop = min(start + rows, n)
        px, py = _features(x, y, fx, fy, start, stop, dev)
        cov[:d_x, :d_x].addmm_(px.T, px)
        cov[:d_x, d_x:].addmm_(px.T, py)
        cov[d_x:, d_x:].addmm_(py.T, py)
        # Any NaN/inf feature reaches the diagonal (a sum of squares): a d-sized check per chunk.
        if not bool(torch.isfinite(cov.diagonal()).all()):
            _raise_non_finite(x, y, start, stop)
    cov = cov.cpu().numpy() / n
    cov[d_x:, :d_x] = cov[:d_x, d_x:].T

    top = min(int(k), d)
    if top < k:
        log.info("SPEC: k=%d exceeds the feature dimension %d; returning %d clusters", k, d, top)
    evals, back_np, jitter = _reduced_eigen(cov, d_x, top, n)
    # u = [φ_X, φ_Y] U⁻¹ w / √N, one column per top eigenvector.
    back = torch.from_numpy(np.ascontiguousarray(back_np)).to(dev)
    back_x, back_y = back[:d_x], back[d_x:]
    vectors = np.empty((n, top), dtype=np.float64)
    for start in _chunks(n, rows, progress, "SPEC eigenvectors"):
        stop = min(start + rows, n)
        px, py = _features(x, y, fx, fy, start, stop, dev)
        vectors[start:stop] = (px @ back_x + py @ back_y).cpu().numpy()
    peak = vectors[np.abs(vectors).argmax(axis=0), np.arange(top)]
    vectors *= np.where(peak < 0, -1.0, 1.0)

    clusters = [_cluster(vectors[:, j], evals[j], cluster_rel, cluster_max) for j in range(top)]
    settings = {"k": top, "cluster_rel": cluster_rel, "cluster_max": cluster_max,
                "normalize": normalize, **kernel_settings}
    log.info("SPEC on %d items, %d+%d features: spec_diff=%.4g", n, d_x, d - d_x,
             float(np.abs(evals).max()))
    return SpecResult(eigenvalues=evals, vectors=vectors, clusters=clusters, n_items=n,
                      kernel=kernel, jitter=jitter, settings=settings)


def spec_clusters_json(result: SpecResult, ids: Sequence[str] | np.ndarray) -> dict[str, Any]:
    """`{"spec_diff", "clusters": [{"eigenvalue", "side", "ids", "weights"}]}` with item ids, JSON-ready."""
    ids = np.asarray(ids)
    if ids.shape[0] != result.n_items:
        raise ValueError(f"ids must have one entry per item ({result.n_items}), got {ids.shape[0]}")
    return {
        "spec_diff": result.spec_diff,
        "clusters": [
            {"eigenvalue": c.eigenvalue, "side": c.side, "ids": [str(i) for i in ids[c.rows]],
             "weights": [float(w) for w in c.weights]}
            for c in result.clusters
        ],
    }
