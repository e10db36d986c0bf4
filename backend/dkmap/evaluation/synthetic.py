"""Planted landscapes: features whose metric is known, for tests and benchmarks."""

from __future__ import annotations

import numpy as np


def hidden_direction_landscape(n: int, d: int = 128, n_clusters: int = 12, signal: float = 0.3,
                               noise: float = 0.3, seed: int = 0, return_truth: bool = False):
    """Clustered features x (n, d) float32 whose metric follows one weak direction of x.

    The direction carries a few % of the within-cluster variance, so neighbours in x (and in any
    unsupervised map) have very different metric values, while a supervised map can order them.
    The metric is 30 + 5·a + 1.5·sin(3a) + noise on a CLIPScore-like scale, a ∈ U(−1, 1).
    Returns (x, m), plus a dict with a, the direction u, the cluster labels and centres when
    `return_truth` (for oracle baselines in benchmarks).
    """
    if n < 1 or d < 2:
        raise ValueError(f"n must be >= 1 and d >= 2, got n={n}, d={d}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d)) * (2.0 / np.sqrt(d))
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    a = rng.uniform(-1.0, 1.0, n)
    labels = rng.integers(n_clusters, size=n)
    x = centres[labels] + rng.normal(size=(n, d)) / np.sqrt(d)
    x += signal * a[:, None] * u[None, :]
    m = 30.0 + 5.0 * a + 1.5 * np.sin(3.0 * a) + noise * rng.normal(size=n)
    if return_truth:
        return x.astype(np.float32), m, {"a": a, "u": u, "labels": labels, "centres": centres}
    return x.astype(np.float32), m


def smooth_landscape(n: int, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features x (n, d) float32 with a metric that is a smooth function of the first two columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    m = 10.0 * np.sin(x[:, 0]) + 5.0 * x[:, 1] + 50.0
    return x.astype(np.float32), m
