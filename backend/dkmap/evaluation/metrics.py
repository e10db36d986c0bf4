"""Error and neighbourhood-preservation measures used by the evaluation table."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def _pair(pred, true) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    true = np.asarray(true, dtype=np.float64).ravel()
    if pred.shape != true.shape or pred.size == 0:
        raise ValueError(f"pred and true must be non-empty and of equal length, got {pred.size} "
                         f"and {true.size}")
    return pred, true


def mae(pred, true) -> float:
    """Mean absolute error, in the metric's units."""
    pred, true = _pair(pred, true)
    return float(np.mean(np.abs(pred - true)))


def rmse(pred, true) -> float:
    """Root mean squared error, in the metric's units."""
    pred, true = _pair(pred, true)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mape(pred, true) -> float:
    """Mean absolute percentage error (%) over items whose true value is non-zero (NaN if none)."""
    pred, true = _pair(pred, true)
    keep = true != 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(pred[keep] - true[keep]) / np.abs(true[keep])))


def trustworthiness(x_high, y_low, k: int = 20, max_items: int = 5000, seed: int = 0,
                    chunk: int = 512) -> float:
    """Trustworthiness T(k) ∈ [0, 1]: how many map neighbours are also neighbours in x.

    Above `max_items` a seeded random subset is scored (the exact cost is quadratic). Ranks in x
    are computed in row chunks, so memory stays at chunk × n.
    """
    x_high = np.asarray(x_high, dtype=np.float64)
    y_low = np.asarray(y_low, dtype=np.float64)
    if x_high.ndim != 2 or y_low.ndim != 2 or len(x_high) != len(y_low):
        raise ValueError(f"x_high and y_low must be 2-D with equal rows, got {x_high.shape} and "
                         f"{y_low.shape}")
    n = len(x_high)
    if n > max_items:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_items, replace=False))
        x_high, y_low, n = x_high[keep], y_low[keep], max_items
    if not 1 <= k < n / 2:
        raise ValueError(f"k must be in [1, n/2) for n={n} items, got {k}")
    # kneighbors() without a query leaves each point out of its own neighbour list.
    low_nn = NearestNeighbors(n_neighbors=k).fit(y_low).kneighbors(return_distance=False)
    sq = (x_high ** 2).sum(1)
    penalty = 0.0
    for start in range(0, n, chunk):
        rows = np.arange(start, min(n, start + chunk))
        d2 = sq[rows, None] + sq[None, :] - 2.0 * x_high[rows] @ x_high.T
        d2[np.arange(len(rows)), rows] = np.inf
        picked = np.take_along_axis(d2, low_nn[rows], axis=1)
        ranks = (d2[:, None, :] < picked[:, :, None]).sum(2) + 1
        penalty += np.maximum(ranks - k, 0).sum()
    return float(1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty)
