"""Placing a new (prompt, image) pair on a built map: its embeddings checked, the sides not given
estimated from the nearest items, projected by the map's network, and the map's estimate there.

`check_features` validates what a client sends; `place` does the rest and returns the JSON-ready
answer. Errors are PlaceError (a ValueError) with a message naming the space and what is wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

IMPUTE_K = 10     # items whose embeddings stand in for a side that was not given
DEFAULT_NEIGHBOURS = 8
MAX_NEIGHBOURS = 50
# Metrics the pair itself can be scored by, from its text-image cosine, by the unit ingest and the
# demo record for them (dkmap.data.ingest.BUILTIN_METRICS, dkmap.data.demo.build.METRICS).
PAIR_SCORES = {"100·cos": lambda c: 100.0 * c, "2.5·max(cos,0)·100": lambda c: 250.0 * max(c, 0.0)}


class PlaceError(ValueError):
    """Features that cannot be placed; the message names the space and the problem."""


@dataclass
class Pair:
    """Unit-norm embeddings per space of the pair to place, and notes on how they were obtained."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    imputed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_features(raw, dims: dict[str, int]) -> dict[str, np.ndarray]:
    """`{space: [floats]}` as unit-norm float32 vectors (PlaceError naming an unknown space, a wrong
    dimension, a non-number, NaN or infinity, or a zero vector)."""
    if not isinstance(raw, dict) or not raw:
        raise PlaceError("'features' must be an object {space: [numbers]} with at least one space")
    out = {}
    for space, values in raw.items():
        if space not in dims:
            raise PlaceError(f"unknown space '{space}' in 'features' (this dataset has: {', '.join(dims)})")
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values):
            raise PlaceError(f"features['{space}'] must be a list of numbers")
        if len(values) != dims[space]:
            raise PlaceError(f"features['{space}'] has {len(values)} numbers; space '{space}' is "
                             f"{dims[space]}-dimensional")
        vec = np.asarray(values, dtype=np.float64)
        if not np.isfinite(vec).all():
            raise PlaceError(f"features['{space}'] holds NaN or infinite values")
        peak = float(np.abs(vec).max())
        if peak == 0.0:
            raise PlaceError(f"features['{space}'] is a zero vector (it has no direction to compare)")
        vec = vec / peak   # scaled first, so huge finite values cannot overflow the norm
        out[space] = (vec / np.linalg.norm(vec)).astype(np.float32)
    return out


def complete(pair: Pair, ds, spaces: list[str]) -> None:
    """Fill the spaces of `spaces` the pair lacks with the normalised mean of that space over the
    IMPUTE_K items nearest to the pair in the first space it has (PlaceError if it has none)."""
    given = [s for s in spaces if s in pair.vectors]
    if not given:
        raise PlaceError(f"nothing to place: give a prompt, an image, or features for at least one of "
                         f"{', '.join(spaces)}")
    missing = [s for s in spaces if s not in pair.vectors]
    if not missing:
        return
    anchor = given[0]
    rows = nearest_rows(ds.embedding(anchor), pair.vectors[anchor], IMPUTE_K)
    for space in missing:
        mean = np.asarray(ds.embedding(space)[np.sort(rows)], dtype=np.float64).mean(axis=0)
        pair.vectors[space] = (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)
        pair.imputed[space] = f"mean of the {len(rows)} items nearest in '{anchor}'"


def nearest_rows(emb, vector: np.ndarray, k: int, chunk: int = 262_144) -> np.ndarray:
    """Rows of the k rows of `emb` with the largest inner product with `vector` (exact, chunked)."""
    n = len(emb)
    k = min(k, n)
    best_rows, best_scores = np.empty(0, np.int64), np.empty(0, np.float32)
    for start in range(0, n, chunk):
        block = np.asarray(emb[start:start + chunk], dtype=np.float32) @ vector
        rows = np.concatenate([best_rows, np.arange(start, start + len(block))])
        scores = np.concatenate([best_scores, block])
        top = np.argsort(-scores, kind="stable")[:k]
        best_rows, best_scores = rows[top], scores[top]
    return best_rows


def pair_metric(info: dict, pair: Pair) -> float | None:
    """The metric computed from the pair itself, when its unit says how (a CLIPScore form) and no
    side it needs was estimated; else None."""
    score = PAIR_SCORES.get(info.get("unit", ""))
    gens = info.get("generators", [])
    spaces = ["text"] + [f"image_{g}" for g in gens]
    if score is None or any(s in pair.imputed or s not in pair.vectors for s in spaces):
        return None
    per_gen = [score(float(np.dot(pair.vectors["text"], pair.vectors[f"image_{g}"]))) for g in gens]
    return per_gen[0] if info.get("kind", "score") == "score" else per_gen[1] - per_gen[0]


def place(built, ds, metric: str, pair: Pair, k: int = DEFAULT_NEIGHBOURS) -> dict:
    """Where the pair lands on `built` (the map of `metric`), the map's estimate there, the metric
    of the pair itself (when computable), and the k items nearest to it on the map."""
    spaces = built.feature_spaces
    complete(pair, ds, spaces)
    features = np.concatenate([pair.vectors[s] for s in spaces])[None]
    position = built.transform(features)[0].astype(np.float64)
    predicted = float(built.predict(position[None])[0])
    actual = pair_metric(ds.metrics[metric], pair)
    ids = ds.ids
    prompts = ds.items["prompt"]
    positions = np.asarray(built.positions, dtype=np.float64)
    d2 = ((positions - position) ** 2).sum(axis=1)
    k = min(k, len(d2))
    near = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
    near = near[np.lexsort((near, d2[near]))]
    neighbours = [{"id": str(ids[r]), "row": int(r), "prompt": str(prompts.iat[r]),
                   "position": [float(positions[r, 0]), float(positions[r, 1])],
                   "value": float(built.values[r]), "distance": float(np.sqrt(d2[r]))} for r in near]
    return {"metric": metric, "position": [float(position[0]), float(position[1])], "predicted": predicted,
            "actual": actual, "difference": None if actual is None else actual - predicted,
            "spaces": spaces, "imputed": pair.imputed, "warnings": pair.warnings, "neighbours": neighbours}
