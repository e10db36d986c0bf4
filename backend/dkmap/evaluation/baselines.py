"""Unsupervised baselines: PCA / t-SNE / UMAP maps, then Gaussian NW or IDW over the train points."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

log = logging.getLogger(__name__)

CHUNK_ELEMENTS = 1 << 23


def embed_pca(x: np.ndarray, seed: int) -> np.ndarray:
    """Top-2 principal components."""
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x)


def embed_tsne(x: np.ndarray, seed: int) -> np.ndarray:
    """Barnes–Hut t-SNE (perplexity 30, PCA init)."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(x) - 1) / 3.0)
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=seed).fit_transform(x)


def embed_umap(x: np.ndarray, seed: int) -> np.ndarray:
    """UMAP with its default 15 neighbours."""
    import umap

    # A fixed random_state makes UMAP single-threaded anyway; saying so avoids its warning.
    return umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed,
                     n_jobs=1).fit_transform(x)


EMBEDDERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "pca": embed_pca, "tsne": embed_tsne, "umap": embed_umap,
}


def embed(name: str, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D positions (n, 2) float64 of x by the named unsupervised method."""
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedding {name!r}; choose one of {sorted(EMBEDDERS)}")
    return np.asarray(EMBEDDERS[name](np.asarray(x, dtype=np.float32), seed), dtype=np.float64)


def silverman_bandwidth(centres: np.ndarray) -> np.ndarray:
    """Per-axis Silverman bandwidth σ_j·(4 / ((d + 2)·n))^{1/(d+4)} of the centres (n, d)."""
    centres = np.asarray(centres, dtype=np.float64)
    n, d = centres.shape
    sigma = centres.std(axis=0, ddof=1) if n > 1 else np.ones(d)
    sigma = np.where(sigma > 0, sigma, 1.0)
    return sigma * (4.0 / ((d + 2.0) * n)) ** (1.0 / (d + 4.0))


def _chunks(queries: np.ndarray, n_centres: int):
    rows = max(1, CHUNK_ELEMENTS // max(1, n_centres))
    for start in range(0, len(queries), rows):
        yield torch.from_numpy(queries[start:start + rows])


def _check(queries, centres, values) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    queries = np.asarray(queries, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if queries.ndim != 2 or centres.ndim != 2 or queries.shape[1] != centres.shape[1]:
        raise ValueError(f"queries and centres must be (n, d) and (m, d), got {queries.shape} "
                         f"and {centres.shape}")
    if values.shape != (len(centres),) or len(centres) == 0:
        raise ValueError(f"values must hold one value per centre ({len(centres)}), got "
                         f"shape {values.shape}")
    return queries, torch.from_numpy(centres), torch.from_numpy(values)


def gaussian_nw(queries, centres, values, bandwidth) -> np.ndarray:
    """Nadaraya–Watson with a Gaussian product kernel of per-axis `bandwidth`."""
    queries, centres, values = _check(queries, centres, values)
    h = torch.as_tensor(np.broadcast_to(np.asarray(bandwidth, dtype=np.float64),
                                        (centres.shape[1],)).copy())
    scaled = centres / h
    out = []
    for q in _chunks(queries, len(centres)):
        d2 = torch.cdist(q / h, scaled, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
        # Shifting by the row minimum keeps far queries from underflowing to 0/0.
        w = torch.exp(-0.5 * (d2 - d2.min(1, keepdim=True).values))
        out.append((w @ values) / w.sum(1))
    return torch.cat(out).numpy()


def idw(queries, centres, values, power: float = 2.0) -> np.ndarray:
    """Inverse-distance weighting Σ v_k/d_k^p / Σ 1/d_k^p; a query on a centre takes its value."""
    queries, centres, values = _check(queries, centres, values)
    out = []
    for q in _chunks(queries, len(centres)):
        d2 = torch.cdist(q, centres, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
        on_centre = d2 <= 1e-24
        w = torch.where(on_centre, torch.zeros_like(d2), d2.clamp_min(1e-300).pow(-power / 2.0))
        estimate = (w @ values) / w.sum(1).clamp_min(1e-300)
        hits = on_centre.sum(1)
        exact = (on_centre.double() @ values) / hits.clamp_min(1)
        out.append(torch.where(hits > 0, exact, estimate))
    return torch.cat(out).numpy()


def regress(name: str, queries, centres, values) -> np.ndarray:
    """Metric at `queries` from train `centres`: 'kde' (Gaussian NW, Silverman) or 'idw' (p = 2)."""
    if name == "kde":
        return gaussian_nw(queries, centres, values, silverman_bandwidth(centres))
    if name == "idw":
        return idw(queries, centres, values, power=2.0)
    raise ValueError(f"unknown regressor {name!r}; choose one of ['idw', 'kde']")
