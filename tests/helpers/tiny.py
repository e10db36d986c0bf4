"""The tiny API test dataset: 240 colour/shape prompts, two generators, real MiniLM prompt embeddings.

conftest.py's session fixture `tiny_data_dir` writes it and builds the maps of BUILT_METRICS once.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "yellow": (240, 200, 20)}
SHAPES = ["star", "circle", "square", "triangle"]
PLACES = ["on a table", "in the sky", "under water", "near a tree"]
GENERATORS = ["a", "b"]
N_ITEMS = 240
DIM = 16
DATASET = "tiny"


def _prompt(i: int, rng: np.random.Generator) -> tuple[str, str, str]:
    colour = list(COLOURS)[i % len(COLOURS)]
    shape = SHAPES[(i // len(COLOURS)) % len(SHAPES)]
    place = PLACES[int(rng.integers(len(PLACES)))]
    return f"a {colour} {shape} {place}", colour, shape


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def _png(colour: tuple[int, int, int], i: int) -> bytes:
    img = Image.new("RGB", (8, 8), colour)
    img.putpixel((i % 8, (i // 8) % 8), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_tiny_dataset(out: Path, n: int = N_ITEMS, seed: int = 0, marker: int = 0,
                       columns: pd.DataFrame | None = None) -> Path:
    """A dataset of `n` colour/shape prompts, two generators, real MiniLM prompt embeddings; `marker`
    moves the white pixel of every image (so a re-ingest can have other image bytes); `columns`,
    metadata columns with a row per item."""
    from dkmap.data.encoders import embed_prompts_minilm
    from dkmap.data.store import write_dataset

    rng = np.random.default_rng(seed)
    prompts, colours, shapes = zip(*(_prompt(i, rng) for i in range(n)))
    colour_vec = {c: rng.normal(size=DIM) for c in COLOURS}
    shape_vec = {s: rng.normal(size=DIM) for s in SHAPES}
    semantic = np.stack([colour_vec[c] + shape_vec[s] for c, s in zip(colours, shapes)])
    text = _unit(semantic + 0.3 * rng.normal(size=(n, DIM)))
    image_a = _unit(semantic + 0.6 * rng.normal(size=(n, DIM)))
    image_b = _unit(semantic + 1.2 * rng.normal(size=(n, DIM)))
    items = pd.DataFrame({
        "id": [f"item-{i:04d}" for i in range(n)],
        "prompt": list(prompts),
        "split": np.where(rng.random(n) < 0.8, "train", "test"),
        "image_a": [f"a/{i:04d}.png" for i in range(n)],
        "image_b": [f"b/{i:04d}.png" for i in range(n)],
    })
    items["clip_a"] = 100 * (text * image_a).sum(axis=1)
    items["clip_b"] = 100 * (text * image_b).sum(axis=1)
    items["diff_ab"] = items["clip_b"] - items["clip_a"]
    sources = {}
    for i, c in enumerate(colours):
        sources[f"a/{i:04d}.png"] = _png(COLOURS[c], i + marker)
        sources[f"b/{i:04d}.png"] = _png(tuple(255 - v for v in COLOURS[c]), i + marker)
    metrics = {
        "clip_a": {"description": "CLIPScore of a", "unit": "100·cos", "generators": ["a"], "kind": "score"},
        "clip_b": {"description": "CLIPScore of b", "unit": "100·cos", "generators": ["b"], "kind": "score"},
        "diff_ab": {"description": "b minus a", "unit": "100·cos", "generators": ["a", "b"], "kind": "difference"},
    }
    embeddings = {"text": text, "image_a": image_a, "image_b": image_b,
                  "minilm": embed_prompts_minilm(list(prompts))}
    write_dataset(out, name=DATASET, description="tiny API test dataset", items=items,
                  embeddings=embeddings, image_sources=sources, generators=GENERATORS, metrics=metrics,
                  columns=columns)
    return out


def tiny_build_settings():
    """Tiny tiles so z 0..2 are precomputed and z 3..4 computed on request; few epochs."""
    from dkmap.config import BuildSettings

    return BuildSettings(epochs=3, batch_size=128, tile_size=32, max_grid=128, max_level=4)


BUILT_METRICS = ("clip_a", "diff_ab")  # clip_b is left unbuilt on purpose


def build_tiny(data_dir: Path) -> Path:
    """DATA_DIR/tiny with the maps of BUILT_METRICS built by the real pipeline; returns data_dir."""
    from dkmap.builder import build_map

    write_tiny_dataset(data_dir / DATASET)
    for metric in BUILT_METRICS:
        build_map(data_dir / DATASET, metric, settings=tiny_build_settings(), progress=False)
    return data_dir
