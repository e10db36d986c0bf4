"""The contour and sampling stages, after the projection: the kernel rescaled to the unit square,
subdivision, α refinement, stored contour levels and overlay sampling, written into the build
folder; returns their manifest entries."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from dkmap import sampling
from dkmap.config import BuildSettings
from dkmap.contour.mask import FarMask
from dkmap.contour.refine import (detail_leaves, refine_alphas, tile_counts, validation_mse_fn,
                                  validation_split)
from dkmap.contour.tiles import ContourField, level_grid
from dkmap.maps import layout
from dkmap.projection.calibration import density_scaled_alpha
from dkmap.projection.kernel import Kernel


def contour_and_sampling(tmp: Path, projected, m: np.ndarray, is_train: np.ndarray, settings: BuildSettings,
                         stages, progress: bool,
                         field_type: Callable[..., ContourField] = ContourField) -> dict:
    """Every stage after the projection into tmp, the contour field of type `field_type`; returns
    the manifest entries they determine."""
    s = settings
    fitted, norm = projected.fitted, projected.norm
    k = fitted.kernel
    kernel = Kernel.from_fitted(k).rescaled(norm["scale"])   # into unit-square coordinates
    if fitted.training.get("n_select"):
        # The kernel was calibrated for the n_fit training items; the map sums over all items.
        kernel = kernel.with_alpha(density_scaled_alpha(kernel.alpha, kernel.beta, projected.n_fit, len(m)))
    alpha0, beta = kernel.alpha, kernel.beta
    positions = np.asarray(projected.positions, dtype=np.float64)
    with stages("subdivision"):
        counts = [tile_counts(positions, z) for z in range(s.max_level + 1)]
        deepest = next((z for z in range(s.max_level + 1)
                        if counts[z].max() < s.subdivide_min_points), s.max_level)
        max_level = max(0, min(s.max_level, deepest))
    with stages("refine"):
        val, centres = validation_split(is_train, s.refine_val_fraction, s.refine_val_max, s.seed)
        bar = tqdm(total=max_level + 1, desc="refine α", disable=not progress, leave=False)
        refinement = refine_alphas(alpha0, max_level + 1,
                                   validation_mse_fn(positions, m, kernel, val, centres),
                                   s.alpha_growth, s.refine_tolerance, bar.update)
        bar.close()
    lo, hi = np.percentile(m, [1, 99])
    field = field_type(positions, m, kernel, s.tile_size, s.max_grid, s.oversample, s.near_margin)
    n_stored = min(field.precomputed_levels, max_level + 1)
    mask = FarMask(positions, s.mask_radius) if s.mask_enabled else None
    with stages("levels"):
        (tmp / layout.LEVELS).mkdir()
        leaves: dict[str, list[list[int]]] = {}
        previous = None
        for z in tqdm(range(n_stored), desc="contour levels", disable=not progress, leave=False):
            grid = level_grid(field, z, refinement.levels[z].alpha, mask)
            np.save(tmp / layout.level_file(z), grid)
            if previous is not None:
                flat = detail_leaves(previous, grid, s.tile_size,
                                     s.subdivide_detail_tol * max(hi - lo, 1e-12))
                leaves[str(z - 1)] = np.argwhere(flat)[:, ::-1].tolist()   # [tx, ty]
            previous = grid
        del previous, field
    with stages("sampling"):
        blue = sampling.bluenoise_levels(positions, s.bluenoise_radius0, max_level, s.seed)
        rand = sampling.random_levels(len(positions), sampling.cumulative_counts(blue, max_level), s.seed)
        np.save(tmp / layout.sampling_file("bluenoise"), blue)
        np.save(tmp / layout.sampling_file("random"), rand)
    return {
        "kernel": {"alpha": alpha0, "beta": beta, "scale": kernel.scale, "m_mean": kernel.m_mean},
        "projection_kernel": {key: float(v) for key, v in k.items()},
        "normalisation": norm,
        "training": {"n_fit": projected.n_fit, "n_train": int(is_train.sum()), **fitted.training,
                     "projection": fitted.settings, "how_chosen": "docs/defaults.md"},
        "colour_domain": [float(lo), float(hi)],
        "value_range": [float(m.min()), float(m.max())],
        "tile_size": s.tile_size,
        "max_level": max_level,
        "precomputed_levels": list(range(n_stored)),
        "levels": [lv.to_dict() for lv in refinement.levels],
        "refinement_stopped_at": refinement.stopped_at,
        "refinement": {"epsilon": refinement.epsilon, "mse_val0": refinement.mse_val0,
                       "n_val": int(len(val)), "n_centres": int(len(centres)),
                       "growth": s.alpha_growth},
        "subdivision": {"min_points": s.subdivide_min_points,
                        "detail_tolerance": s.subdivide_detail_tol * float(hi - lo),
                        "max_level": max_level, "detail_leaves": leaves},
        "mask": {"enabled": s.mask_enabled,
                 "radius": s.mask_radius if s.mask_enabled else None},
        "sampling": {"bluenoise_radius0": s.bluenoise_radius0,
                     "counts": sampling.cumulative_counts(blue, max_level).tolist()},
    }
