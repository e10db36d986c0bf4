"""Builds the demo dataset folder once (corpus → MiniLM → encoder → scores → store) and reuses it."""

from __future__ import annotations

import io
import json
import logging
import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dkmap.data.demo.corpus import make_corpus
from dkmap.data.demo.encoder import (ENCODER_FILE, EncoderConfig, embed_images, embed_texts, encoder_bytes,
                                     train_encoder)
from dkmap.data.demo.generators import GENERATORS
from dkmap.data.store import DatasetError, open_dataset, write_dataset

log = logging.getLogger(__name__)

VERSION = 3  # bump when the grammar, renderer, failures or encoder change what a build contains
STAMP = "demo_build.json"
TRUTH = "demo_truth.parquet"
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DemoSize:
    """How big a demo build is."""

    folder: str
    n_items: int
    n_encoder_pairs: int
    encoder: EncoderConfig
    layouts: int = 1          # renders of each encoder training prompt (and its twin), in random layouts


SIZES = {
    # 15,000 encoder pairs: CLIPScore AUC 0.83 against 0.77 at 6,000 (more epochs on fewer pairs overfit);
    # three layouts of each: 0.86 (BENCHMARKS.md, "What moved the AUC").
    "full": DemoSize("demo", 20_000, 15_000, EncoderConfig(width=16, epochs=12), layouts=3),
    "small": DemoSize("demo-small", 1_500, 1_200, EncoderConfig(width=16, epochs=8)),
}


def demo_size(size: str) -> DemoSize:
    """The settings of `size`; ValueError naming the allowed sizes otherwise."""
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}") from None


def _settings(size: str, seed: int) -> dict:
    spec = demo_size(size)
    return {"version": VERSION, "size": size, "seed": int(seed), "n_items": spec.n_items,
            "n_encoder_pairs": spec.n_encoder_pairs, "layouts": spec.layouts, "encoder": spec.encoder.to_dict()}


def _reusable(target: Path, settings: dict) -> bool:
    stamp = target / STAMP
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text())["settings"]
        open_dataset(target)
    except (ValueError, KeyError, DatasetError) as exc:
        log.info("demo at %s is not reusable (%s); rebuilding", target, exc)
        return False
    return recorded == settings


def _peak_memory_mb() -> dict:
    # ru_maxrss is in KiB on Linux; children are the render workers.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"process_mb": round(own, 1), "largest_child_mb": round(children, 1)}


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (the render workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _split(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 99]))
    split = np.full(n, "train", dtype=object)
    split[rng.permutation(n)[: int(round(TEST_FRACTION * n))]] = "test"
    return split


METRICS = {
    "clipscore_a": {"description": "CLIPScore of model A: 100·cos(prompt, image) in the demo encoder's joint space",
                    "unit": "100·cos", "generators": ["a"], "kind": "score"},
    "clipscore_b": {"description": "CLIPScore of model B: 100·cos(prompt, image) in the demo encoder's joint space",
                    "unit": "100·cos", "generators": ["b"], "kind": "score"},
    "clipscore_diff": {"description": "CLIPScore of model B minus that of model A on the same prompt",
                       "unit": "100·cos", "generators": ["a", "b"], "kind": "difference"},
}
DESCRIPTION = ("Procedural text-to-image benchmark: prompts from a grammar of shapes, colours, counts, sizes, "
               "spatial relations, backgrounds and styles, drawn by two simulated models that fail in "
               "different concept-dependent ways (A miscounts, simplifies intricate shapes and loses styles; "
               "B swaps colours, drops second objects and shrinks crowds), scored by a small cross-modal "
               "encoder trained here.")


def build_demo(data_dir: Path, size: str = "full", seed: int = 0, progress: bool = True,
               force: bool = False) -> Path:
    """Build data_dir/demo (or demo-small) unless a build with the same settings is there; return its path."""
    from dkmap.data.encoders import embed_prompts_minilm

    spec = demo_size(size)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    target = Path(data_dir) / spec.folder
    settings = _settings(size, seed)
    if not force and _reusable(target, settings):
        log.info("reusing demo dataset at %s", target)
        return target

    timings: dict[str, float] = {}
    cpu0 = _cpu_s()
    start = t0 = time.perf_counter()
    corpus = make_corpus(spec.n_items, spec.n_encoder_pairs, seed=seed, progress=progress, layouts=spec.layouts)
    timings["render_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    minilm = embed_prompts_minilm(corpus.prompts + corpus.train_prompts, progress=progress)
    item_minilm, train_minilm = minilm[:spec.n_items], minilm[spec.n_items:]
    timings["minilm_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = train_encoder(corpus.train_pixels, train_minilm, spec.encoder, seed=seed, progress=progress)
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    gens = sorted(GENERATORS)
    text = embed_texts(model, item_minilm)
    images = {g: embed_images(model, corpus.pixels[g]) for g in gens}
    scores = {g: 100.0 * np.einsum("ij,ij->i", text, images[g]).astype(np.float64) for g in gens}
    timings["embed_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ids = [f"{i:06d}" for i in range(spec.n_items)]
    items = pd.DataFrame({"id": ids, "prompt": corpus.prompts, "split": _split(spec.n_items, seed)})
    image_sources = {}
    for g in gens:
        rels = [f"{g}/{i}.png" for i in ids]
        items[f"image_{g}"] = rels
        image_sources.update(zip(rels, corpus.pngs[g]))
    items["clipscore_a"] = scores["a"]
    items["clipscore_b"] = scores["b"]
    items["clipscore_diff"] = scores["b"] - scores["a"]
    truth = corpus.truth.copy()
    truth.insert(0, "id", [ids[r] for r in truth.pop("row")])
    buf = io.BytesIO()
    truth.to_parquet(buf, index=False)
    write_dataset(
        target, name=spec.folder, description=DESCRIPTION, items=items,
        embeddings={"text": text, **{f"image_{g}": images[g] for g in gens}, "minilm": item_minilm},
        image_sources=image_sources, generators=gens, metrics=METRICS, extra_files={TRUTH: buf.getvalue(), ENCODER_FILE: encoder_bytes(model)},
    )
    timings["write_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    # On a shared machine wall time mostly measures the others; CPU time is what the build itself needed.
    timings["cpu_total_s"] = _cpu_s() - cpu0
    # The stamp goes in last: a folder without it is an unfinished build and is rebuilt.
    stamp = {"settings": settings, "timings": {k: round(v, 2) for k, v in timings.items()},
             "peak_memory": _peak_memory_mb(), "platform": platform.platform(),
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = target / f".{STAMP}.tmp"
    tmp.write_text(json.dumps(stamp, indent=2))
    os.replace(tmp, target / STAMP)
    log.info("built demo dataset %s in %.1f s", target, timings["total_s"])
    return target
