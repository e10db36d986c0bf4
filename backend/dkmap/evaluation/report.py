"""Runs the evaluation methods on one train/test split and formats the result table."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dkmap.evaluation import baselines, metrics

log = logging.getLogger(__name__)

METHODS = ("dkmap", "dkmap-no-kr", "dkmap-no-gk", "pca-kde", "pca-idw", "tsne-kde", "tsne-idw",
           "umap-kde", "umap-idw")
COLUMNS = (("method", "method"), ("mae", "MAE"), ("rmse", "RMSE"), ("mape", "MAPE %"),
           ("mae_in", "MAE in"), ("trust", "trust@20"), ("seconds", "seconds"))
TRUST_K = 20
# Both the table and the JSON carry this many significant digits, so they hold the same numbers.
DIGITS = 5


@dataclass
class Split:
    """A fixed train/test split: features (n, D) and metric values (n,) of each part."""

    x_train: np.ndarray
    m_train: np.ndarray
    x_test: np.ndarray
    m_test: np.ndarray

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x, m = getattr(self, f"x_{part}"), getattr(self, f"m_{part}")
            if x.ndim != 2 or m.ndim != 1 or len(x) != len(m) or len(x) == 0:
                raise ValueError(f"x_{part} must be (n, D) and m_{part} (n,) with n > 0, got "
                                 f"{x.shape} and {m.shape}")
            if not (np.isfinite(x).all() and np.isfinite(m).all()):
                raise ValueError(f"x_{part} or m_{part} contains NaN or inf values")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"x_train has {self.x_train.shape[1]} columns but x_test has "
                             f"{self.x_test.shape[1]}")


@dataclass
class Placement:
    """What a method produced: test/train predictions, test positions, and time spent earlier
    on work it shares with another method (a cached embedding)."""

    pred_test: np.ndarray
    pred_train: np.ndarray
    pos_test: np.ndarray
    shared_seconds: float = 0.0


def _dkmap(variant: str) -> Callable[..., Placement]:
    def run(split: Split, settings: dict, seed: int, progress: bool, cache: dict) -> Placement:
        from dkmap.projection import DKMap

        options: dict = {"seed": seed, **settings}
        if variant == "no-kr":
            options["lam"] = 0.0
        if variant == "no-gk":
            options["learn_kernel"] = False
        fitted = DKMap(**options).fit(split.x_train, split.m_train, progress=progress)
        pos_test = fitted.transform(split.x_test)
        if variant == "no-kr":
            # Without the kernel term there is no learned kernel: regress like the baselines.
            pos_train = fitted.train_positions
            return Placement(baselines.regress("kde", pos_test, pos_train, split.m_train),
                             baselines.regress("kde", pos_train, pos_train, split.m_train),
                             pos_test)
        return Placement(fitted.predict(pos_test), fitted.predict(fitted.train_positions), pos_test)

    return run


def _baseline(embedder: str, regressor: str) -> Callable[..., Placement]:
    def run(split: Split, settings: dict, seed: int, progress: bool, cache: dict) -> Placement:
        shared = embedder in cache
        if not shared:
            started = time.perf_counter()
            # Unsupervised maps are fitted on train ∪ test, as the papers do.
            both = np.concatenate([split.x_train, split.x_test])
            cache[embedder] = (baselines.embed(embedder, both, seed), time.perf_counter() - started)
        positions, embed_seconds = cache[embedder]
        pos_train, pos_test = positions[:len(split.x_train)], positions[len(split.x_train):]
        return Placement(baselines.regress(regressor, pos_test, pos_train, split.m_train),
                         baselines.regress(regressor, pos_train, pos_train, split.m_train),
                         pos_test, shared_seconds=embed_seconds if shared else 0.0)

    return run


RUNNERS: dict[str, Callable[..., Placement]] = {
    "dkmap": _dkmap("full"), "dkmap-no-kr": _dkmap("no-kr"), "dkmap-no-gk": _dkmap("no-gk"),
    **{f"{e}-{r}": _baseline(e, r) for e in ("pca", "tsne", "umap") for r in ("kde", "idw")},
}


def check_methods(methods: list[str] | None) -> list[str]:
    """The requested method names (default: all), or ValueError naming the unknown ones."""
    if methods is None:
        return list(METHODS)
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    return list(methods)


def _rounded(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{value:.{DIGITS}g}")


def evaluate(split: Split, methods: list[str] | None = None, settings: dict | None = None,
             seed: int = 0, progress: bool = True) -> list[dict]:
    """One result row per method: out-of-sample MAE/RMSE/MAPE, in-sample MAE, trust@20, seconds.

    settings (DKMap's, e.g. {"lam": 2, "hidden": 256}) apply to the DKMap variants; w/o KR keeps
    λ = 0 and w/o GK a fixed α = β = 1. None keeps DKMap's defaults."""
    settings = dict(settings or {})
    rows = []
    cache: dict = {}
    k = min(TRUST_K, max(1, (min(len(split.x_test), 5000) - 1) // 2))
    for name in check_methods(methods):
        log.info("evaluating %s", name)
        started = time.perf_counter()
        placed = RUNNERS[name](split, settings, seed, progress, cache)
        seconds = time.perf_counter() - started + placed.shared_seconds
        rows.append({
            "method": name,
            "mae": _rounded(metrics.mae(placed.pred_test, split.m_test)),
            "rmse": _rounded(metrics.rmse(placed.pred_test, split.m_test)),
            "mape": _rounded(metrics.mape(placed.pred_test, split.m_test)),
            "mae_in": _rounded(metrics.mae(placed.pred_train, split.m_train)),
            "trust": _rounded(metrics.trustworthiness(split.x_test, placed.pos_test, k=k,
                                                      seed=seed)),
            "seconds": _rounded(seconds),
        })
    return rows


def format_cell(value) -> str:
    """How one value appears in the table (the JSON holds the same rounded number)."""
    if value is None:
        return "nan"
    if isinstance(value, str):
        return value
    return f"{value:.{DIGITS}g}"


def format_table(rows: list[dict]) -> str:
    """A plain-text table with one line per method, columns aligned."""
    header = [title for _, title in COLUMNS]
    body = [[format_cell(row[key]) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))) for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
