"""Synthetic sharded datasets with a planted metric landscape, for scaling benchmarks and tests.

Items belong to topics; each topic has a planted text-image alignment, so the metric
(100·cos(text, image), CLIPScore-like) varies smoothly across topics and a good map shows it.
Each shard is generated from its own seed, so any N is written one shard at a time. With a
`Catalogue`, prompts are varied demo-grammar sentences (each topic its own, with a style and a light
appended) whose MiniLM rows are the real encoding of the sentence jittered per item, and
`metadata` adds one column of each kind (number with gaps, category, boolean, time, text): what
search, filters and export see on a 20M-item dataset without encoding 20M prompts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dkmap.data.sharded import write_shards
from dkmap.distributed.partitions import DEFAULT_PARTITION_ROWS

log = logging.getLogger(__name__)

GENERATOR = "synth"
METRIC = "clipscore"


class Landscape:
    """Topic centres and their planted alignments: the fixed part every shard shares."""

    def __init__(self, dim: int = 128, topics: int = 24, seed: int = 0):
        if dim < 2 or topics < 1:
            raise ValueError(f"dim must be ≥ 2 and topics ≥ 1, got {dim}, {topics}")
        rng = np.random.default_rng([seed, 0])
        centres = rng.standard_normal((topics, dim))
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.alignment = rng.uniform(0.25, 0.85, topics)
        self.dim = dim
        self.seed = seed

    def prompts(self) -> list[str]:
        """The prompt of each topic (items of a topic share it)."""
        return [f"synthetic topic {t}" for t in range(len(self.centres))]

    def shard(self, index: int, rows: int, start: int, dtype=np.float32, minilm: np.ndarray | None = None,
              catalogue: "Catalogue | None" = None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Items and embeddings (text, image_synth; minilm from `minilm`, one row per topic prompt,
        when given, or from `catalogue`) of shard `index` holding rows start..start+rows−1."""
        rng = np.random.default_rng([self.seed, 1, index])
        topic = rng.integers(0, len(self.centres), rows)
        noise = rng.standard_normal((rows, self.dim), dtype=np.float32) / np.float32(np.sqrt(self.dim))
        text = _unit(self.centres[topic].astype(np.float32) + 0.7 * noise)
        a = np.clip(self.alignment[topic] + 0.08 * rng.standard_normal(rows), 0.05, 0.95)
        a = a.astype(np.float32)[:, None]
        other = rng.standard_normal((rows, self.dim), dtype=np.float32)
        other -= np.einsum("ij,ij->i", other, text)[:, None] * text  # orthogonal to the text
        image = _unit(a * text + np.sqrt(1 - a * a) * _unit(other))
        text, image = text.astype(dtype), image.astype(dtype)
        score = 100.0 * np.einsum("ij,ij->i", text.astype(np.float32), image.astype(np.float32))
        ids = "s" + pd.Series(np.arange(start, start + rows)).astype(str)
        items = pd.DataFrame({
            "id": ids,
            "prompt": np.asarray(self.prompts(), dtype=object)[topic],
            "split": np.where(rng.random(rows) < 0.9, "train", "test"),
            f"image_{GENERATOR}": np.full(rows, "none.png"),
            METRIC: score.astype(np.float64),
        })
        emb = {"text": text, f"image_{GENERATOR}": image}
        if minilm is not None:
            emb["minilm"] = np.asarray(minilm, dtype=dtype)[topic]
        if catalogue is not None:
            items["prompt"], emb["minilm"] = catalogue.rows(topic, np.random.default_rng([self.seed, 3, index]),
                                                            dtype)
        return items, emb

    def shards(self, n: int, shard_rows: int, dtype=np.float32, minilm: np.ndarray | None = None,
               catalogue: "Catalogue | None" = None) -> Iterator[tuple[pd.DataFrame, dict[str, np.ndarray]]]:
        """All shards of an n-item dataset, in row order."""
        for index, start in enumerate(range(0, n, shard_rows)):
            yield self.shard(index, min(shard_rows, n - start), start, dtype, minilm, catalogue)


STYLES = np.asarray(["oil painting", "watercolor", "photograph", "pencil sketch", "3d render", "pixel art",
                     "flat vector art", "charcoal drawing", "low poly", "studio photo", "film still", "anime",
                     "ink drawing", "pastel drawing", "isometric view", "macro shot", "poster", "woodcut",
                     "mosaic", "stained glass", "claymation", "blueprint", "embroidery", "paper collage"],
                    dtype=object)
LIGHTS = np.asarray(["soft light", "golden hour", "overcast", "neon glow", "candlelight", "harsh noon sun",
                     "moonlight", "backlit", "foggy", "studio lighting", "sunset", "rim light", "dappled shade",
                     "blue hour", "spotlight", "firelight"], dtype=object)
MODELS = [f"model-{k}" for k in range(20)]
COLUMN_KINDS = {"guidance": "number", "model": "category", "nsfw": "boolean", "made": "time", "note": "text"}


class Catalogue:
    """Distinct demo-grammar prompts per topic and their MiniLM rows (encoded once, on this machine)."""

    def __init__(self, topics: int, per_topic: int, seed: int = 0):
        from dkmap.data.demo.grammar import describe, sample_scene
        from dkmap.data.encoders import embed_prompts_minilm

        if per_topic < 1:
            raise ValueError(f"per_topic must be ≥ 1, got {per_topic}")
        rng = np.random.default_rng([seed, 2])
        want = topics * per_topic
        distinct: dict[str, None] = {}
        for _ in range(20 * want):
            distinct.setdefault(describe(sample_scene(rng), rng))
            if len(distinct) == want:
                break
        if len(distinct) < want:
            raise ValueError(f"the demo grammar gave {len(distinct)} distinct prompts, {want} were asked")
        prompts = list(distinct)
        self.prompts = np.asarray(prompts, dtype=object).reshape(topics, per_topic)
        self.vectors = embed_prompts_minilm(prompts).reshape(topics, per_topic, -1)

    def rows(self, topic: np.ndarray, rng: np.random.Generator, dtype) -> tuple[np.ndarray, np.ndarray]:
        """Prompts and MiniLM rows of items of `topic`: a sentence of the topic with a style and a light
        appended, and the sentence's vector jittered (cosine ≈ 0.89 to it, as one prompt's variants)."""
        n, per_topic = len(topic), self.prompts.shape[1]
        pick = rng.integers(0, per_topic, n)
        prompts = (self.prompts[topic, pick] + ", " + STYLES[rng.integers(0, len(STYLES), n)] + ", "
                   + LIGHTS[rng.integers(0, len(LIGHTS), n)])
        d = self.vectors.shape[2]
        vectors = self.vectors[topic, pick] + rng.standard_normal((n, d), dtype=np.float32) * np.float32(0.5 / np.sqrt(d))
        return prompts, _unit(vectors).astype(dtype)


def metadata_columns(rows: int, start: int, seed: int) -> pd.DataFrame:
    """One column of each kind (COLUMN_KINDS) for rows start..start+rows−1, seeded per shard."""
    rng = np.random.default_rng([seed, 4, start])
    guidance = np.round(rng.uniform(1, 12, rows), 2)
    guidance[rng.random(rows) < 0.05] = np.nan
    made = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 365, rows), unit="s")
    return pd.DataFrame({"guidance": guidance, "model": np.asarray(MODELS, dtype=object)[rng.integers(0, 20, rows)],
                         "nsfw": rng.random(rows) < 0.1, "made": made,
                         "note": [f"note {start + i} seed {s}" for i, s in enumerate(rng.integers(0, 1 << 30, rows))]})


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.sqrt(np.einsum("ij,ij->i", a, a))[:, None]


def write_synthetic_shards(out_dir: str | os.PathLike, n: int, dim: int = 256,
                           shard_rows: int = DEFAULT_PARTITION_ROWS, dtype: str = "float16",
                           seed: int = 0, progress: bool = True, minilm: bool = False,
                           prompts_per_topic: int = 0, metadata: bool = False) -> Path:
    """Write an n-item sharded dataset whose feature x = (text, image) has `dim` columns; with
    `minilm`, also the MiniLM embedding of each item's prompt (for keywords when it is served); with
    `prompts_per_topic`, varied prompts from a `Catalogue` of that many sentences per topic (and their
    MiniLM rows); with `metadata`, the `metadata_columns`."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if dim % 2 or dim < 4:
        raise ValueError(f"dim must be an even int ≥ 4 (text and image halves), got {dim}")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    land = Landscape(dim // 2, seed=seed)
    spaces = ["text", f"image_{GENERATOR}"]
    prompt_vectors = catalogue = None
    if prompts_per_topic:
        catalogue = Catalogue(len(land.centres), prompts_per_topic, seed)
        spaces.append("minilm")
    elif minilm:
        from dkmap.data.encoders import embed_prompts_minilm

        prompt_vectors = embed_prompts_minilm(land.prompts())
        spaces.append("minilm")
    metrics = {METRIC: {"description": "100·cos(text, image), planted per topic", "unit": "",
                        "generators": [GENERATOR], "kind": "score"}}
    with write_shards(out_dir, name=Path(out_dir).name, description=f"synthetic, {n} items",
                      generators=[GENERATOR], metrics=metrics, spaces=spaces,
                      metadata_columns=metadata, column_kinds=COLUMN_KINDS) as writer:
        total = -(-n // shard_rows)
        start = 0
        for items, emb in tqdm(land.shards(n, shard_rows, np.dtype(dtype), prompt_vectors, catalogue), total=total,
                               desc="shards", unit="shard", disable=not progress):
            writer.append(items, emb, metadata_columns(len(items), start, seed) if metadata else None)
            start += len(items)
    return Path(out_dir)
