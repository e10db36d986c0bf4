"""The demo corpus in memory: prompts, what each generator really drew, and the encoder's training twins."""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dkmap.data.demo.generators import GENERATORS, apply_failures, truth_fields
from dkmap.data.demo.grammar import Scene, describe, perturb, sample_prompts
from dkmap.data.demo.render import encoder_pixels, png_bytes, render

log = logging.getLogger(__name__)

PARALLEL_MIN_JOBS = 2000  # below this, starting worker processes costs more than it saves


def _seed(*parts: int) -> int:
    """A 32-bit seed derived from integers, independent of the order work is done in."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _render_job(job: tuple[Scene, int, bool]) -> tuple[bytes | None, np.ndarray]:
    scene, seed, keep_png = job
    img = render(scene, seed)
    return (png_bytes(img) if keep_png else None), encoder_pixels(img)


def render_many(jobs: list[tuple[Scene, int, bool]], processes: int = 2, desc: str = "render",
                progress: bool = True) -> tuple[list[bytes | None], np.ndarray]:
    """Render (scene, seed, keep_png) jobs, in worker processes when there are many; order is kept."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    bar = tqdm(total=len(jobs), desc=desc, unit="img", disable=not progress)
    pngs: list[bytes | None] = []
    pixels = []
    # fork: workers need no re-import of the caller's main module (spawn would), and only run Pillow.
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if processes == 1 or len(jobs) < PARALLEL_MIN_JOBS or not can_fork:
        results = map(_render_job, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("fork").Pool(processes)
        results = pool.imap(_render_job, jobs, chunksize=128)
    try:
        for png, px in results:
            pngs.append(png)
            pixels.append(px)
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    return pngs, np.stack(pixels)


@dataclass
class Corpus:
    """Everything the build needs before any model runs."""

    scenes: list[Scene]              # the prompt's scene, one per item
    prompts: list[str]
    truth: pd.DataFrame              # one row per (item, generator): what was really drawn
    pngs: dict[str, list[bytes]]     # generator -> PNG bytes per item
    pixels: dict[str, np.ndarray]    # generator -> (N, 64, 64, 3) uint8 encoder input
    train_prompts: list[str]         # encoder training: originals then their twins (2M)
    train_pixels: np.ndarray         # (layouts, 2M, 64, 64, 3) uint8, [:, i] ↔ train_prompts[i]


def make_corpus(n_items: int, n_encoder_pairs: int, seed: int = 0, processes: int = 2,
                progress: bool = True, layouts: int = 1) -> Corpus:
    """Sample prompts, let each generator draw them (with its failures) and render the training pairs
    and twins, each in `layouts` random layouts (more images per prompt for the encoder)."""
    if not isinstance(layouts, (int, np.integer)) or layouts < 1:
        raise ValueError(f"layouts must be an integer >= 1, got {layouts!r}")
    rng = np.random.default_rng(_seed(seed, 1))
    scenes, prompts = sample_prompts(n_items, rng)
    # The encoder learns from other prompts only, drawn faithfully, each with a one-concept-off twin.
    enc_scenes, enc_prompts = sample_prompts(n_encoder_pairs, np.random.default_rng(_seed(seed, 2)),
                                             exclude=set(prompts))
    twin_rng = np.random.default_rng(_seed(seed, 3))
    twin_scenes = [perturb(s, twin_rng) for s in enc_scenes]
    twin_prompts = [describe(s, twin_rng) for s in twin_scenes]

    jobs, rows = [], []
    for gi, gen in enumerate(sorted(GENERATORS)):
        for i, scene in enumerate(scenes):
            drawn, fired = apply_failures(gen, scene, np.random.default_rng(_seed(seed, 10 + gi, i)))
            jobs.append((drawn, _seed(seed, 20 + gi, i), True))
            rows.append({"row": i, "generator": gen, "failed": bool(fired), "failures": ",".join(fired),
                         **{f"prompt.{k}": v for k, v in truth_fields(scene).items()},
                         **{f"drawn.{k}": v for k, v in truth_fields(drawn).items()}})
    for layout in range(layouts):
        for scene_list in (enc_scenes, twin_scenes):
            # Same layout seed for original and twin: the twin differs in the changed concept only.
            jobs += [(scene, _layout_seed(seed, layout, i), False) for i, scene in enumerate(scene_list)]
    pngs, pixels = render_many(jobs, processes=processes, desc="render images", progress=progress)

    n, gens = n_items, sorted(GENERATORS)
    return Corpus(
        scenes=scenes, prompts=prompts, truth=pd.DataFrame(rows),
        pngs={g: pngs[k * n:(k + 1) * n] for k, g in enumerate(gens)},
        pixels={g: pixels[k * n:(k + 1) * n] for k, g in enumerate(gens)},
        train_prompts=enc_prompts + twin_prompts,
        train_pixels=pixels[len(gens) * n:].reshape(layouts, 2 * n_encoder_pairs, *pixels.shape[1:]),
    )


def _layout_seed(seed: int, layout: int, i: int) -> int:
    # layout 0 keeps the seeds of builds made before there were several layouts
    return _seed(seed, 30, i) if layout == 0 else _seed(seed, 31, layout, i)
