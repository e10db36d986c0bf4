"""Synthetic cross-modal sets: CLIP-like text and image rows with an alignment metric per pair.

One generator with knobs for what varies between real text-to-image collections: the embedding
width, how clustered the prompts are, how much of the metric the topic explains, image-side
noise and hubness, and the metric's scale. Used by the evaluation suite and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES = ("clipscore", "unit", "diff")


@dataclass(frozen=True)
class CrossModalSpec:
    """How one synthetic collection is drawn.

    half: width of each embedding (D = 2·half, or 3·half for scale="diff", which has two image
    sets). topics: prompt clusters; topic_spread: within-topic noise of the prompts relative to
    the topic centre (small = tight clusters). topic_share: fraction of the alignment's variance
    that the topic explains. image_noise: image-only noise. hubness: weight of one direction that
    every image shares (hub images). extra: weight of a quality direction of the image that the
    metric rewards beyond the text-image cosine (HPS- or PickScore-like); label_noise: metric
    noise no feature explains, in units of the metric's standard deviation.
    """

    n: int
    half: int = 128
    topics: int = 40
    topic_spread: float = 0.8
    topic_share: float = 0.5
    image_noise: float = 0.6
    hubness: float = 0.0
    extra: float = 0.0
    label_noise: float = 0.0
    scale: str = "clipscore"
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 20 or self.half < 4:
            raise ValueError(f"n must be >= 20 and half >= 4, got n={self.n}, half={self.half}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {list(SCALES)}, got {self.scale!r}")
        if not 0.0 <= self.topic_share <= 1.0:
            raise ValueError(f"topic_share must be in [0, 1], got {self.topic_share}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _images(rng: np.random.Generator, spec: CrossModalSpec, t: np.ndarray, topic: np.ndarray,
            topic_align: np.ndarray, hub: np.ndarray) -> np.ndarray:
    """Images that follow their prompt by a per-item alignment, plus noise and a shared hub."""
    n, half = t.shape
    item = rng.normal(size=n)
    z = np.sqrt(spec.topic_share) * topic_align[topic] + np.sqrt(1.0 - spec.topic_share) * item
    align = 1.0 / (1.0 + np.exp(-1.2 * z))                  # (0, 1): how much the image follows
    own = _unit(rng.normal(size=(n, half)))
    v = align[:, None] * t + spec.image_noise * (1.0 - align[:, None]) * own
    v += spec.image_noise * 0.3 * rng.normal(size=(n, half)) / np.sqrt(half)
    v += spec.hubness * rng.uniform(0.0, 1.0, (n, 1)) * hub[None, :]
    return _unit(v)


def cross_modal(spec: CrossModalSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features x (n, D) float32, metric m (n,) float64 and is_test (n,) bool for one spec.

    x concatenates the L2-normalised text and image rows (two image sets for "diff"). The metric
    is 100·cos(text, image) for "clipscore" shifted to a CLIPScore-like ≈ 80, a logistic of it in
    [0, 1] for "unit", and the difference of two generators' scores for "diff".
    """
    x, m, _, is_test = _draw(spec)
    return x, m, is_test


def noise_floor(spec: CrossModalSpec) -> float:
    """The least out-of-sample MAE any method can reach on the set: that of the metric before its
    label noise, put on the noisy metric's scale. The noise is symmetric and every scale is a
    monotone map of the raw score, so this is the conditional median, the MAE-optimal predictor.
    0 for a set without label noise."""
    _, m, m_clean, is_test = _draw(spec)
    return float(np.abs(m_clean[is_test] - m[is_test]).mean())


def _draw(spec: CrossModalSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, the metric, the metric without label noise (same scale constants), is_test."""
    rng = np.random.default_rng(spec.seed)
    half = spec.half
    centres = _unit(rng.normal(size=(spec.topics, half)))
    # Topic sizes follow a Zipf-like law: a few big themes and a long tail, as prompt sets do.
    weights = 1.0 / np.arange(1, spec.topics + 1) ** 0.8
    topic = rng.choice(spec.topics, size=spec.n, p=weights / weights.sum())
    t = _unit(centres[topic] + spec.topic_spread * rng.normal(size=(spec.n, half)) / np.sqrt(half))
    hub = _unit(rng.normal(size=(1, half)))[0]
    quality = _unit(rng.normal(size=(1, half)))[0]
    topic_align = rng.normal(size=spec.topics)
    v = _images(rng, spec, t, topic, topic_align, hub)

    def score(img: np.ndarray) -> np.ndarray:
        return (t * img).sum(1) + spec.extra * (img @ quality)

    if spec.scale == "diff":
        v2 = _images(rng, spec, t, topic, rng.normal(size=spec.topics), hub)
        x = np.concatenate([t, v, v2], axis=1)
        clean = score(v2) - score(v)
    else:
        x = np.concatenate([t, v], axis=1)
        clean = score(v)
    raw = clean + spec.label_noise * clean.std() * rng.normal(size=spec.n)
    mean, std = raw.mean(), raw.std()

    def on_scale(r: np.ndarray) -> np.ndarray:
        if spec.scale == "clipscore":
            return 100.0 * r + 80.0 - 100.0 * mean
        if spec.scale == "unit":
            return 1.0 / (1.0 + np.exp(-(r - mean) / std))
        return 100.0 * r

    is_test = np.zeros(spec.n, dtype=bool)
    is_test[rng.permutation(spec.n)[:max(1, round(spec.test_fraction * spec.n))]] = True
    return (x.astype(np.float32), on_scale(raw).astype(np.float64), on_scale(clean).astype(np.float64),
            is_test)
