"""The evaluation suite: named groups of synthetic cross-modal sets, one result row per set.

The development group is what defaults were tuned on; the held-out group is only reported. The
baselines' positions do not depend on DKMap's settings, so their results are cached on disk, keyed
by the set's spec and the baselines' version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from dkmap.evaluation import metrics
from dkmap.evaluation.crossmodal import CrossModalSpec, cross_modal, noise_floor
from dkmap.evaluation.references import REFERENCES
from dkmap.evaluation.report import Split, evaluate

log = logging.getLogger(__name__)

BASELINES = tuple(f"{e}-{r}" for e in ("pca", "tsne", "umap") for r in ("kde", "idw"))
# What `dkmap build` did before the defaults were chosen on this suite: 20 epochs, λ = 1, the
# train part's own value in its kernel estimate, the kernel as training left it, the raw features.
OLD_DEFAULTS = {"epochs": 20, "lam": 1.0, "leave_one_out": False, "select_fraction": 0.0,
                "agreement": False}
# Bump when a baseline or reference changes, so cached rows are recomputed.
BASELINE_VERSION = 2

SUITES: dict[str, dict[str, CrossModalSpec]] = {
    "dev": {
        "dev-clip-6k": CrossModalSpec(n=6000, half=128, topics=40, seed=11),
        "dev-tight-5k-d512": CrossModalSpec(n=5000, half=256, topics=60, topic_spread=0.5,
                                            topic_share=0.7, scale="unit", seed=12),
        "dev-diffuse-hub-4k-d128": CrossModalSpec(n=4000, half=64, topics=20, topic_spread=1.2,
                                                  topic_share=0.3, hubness=0.5, seed=13),
        "dev-diff-5k-d384": CrossModalSpec(n=5000, half=128, scale="diff", seed=14),
        "dev-quality-3k": CrossModalSpec(n=3000, half=128, extra=0.5, label_noise=0.3,
                                         scale="unit", seed=15),
    },
    "heldout": {
        "held-clip-10k": CrossModalSpec(n=10000, half=128, seed=21),
        "held-hub-8k": CrossModalSpec(n=8000, half=128, topics=100, topic_share=0.4,
                                      hubness=0.3, seed=22),
        "held-wide-2.5k-d1024": CrossModalSpec(n=2500, half=512, topics=30, scale="unit", seed=23),
        "held-diff-6k-d576": CrossModalSpec(n=6000, half=192, topic_spread=0.6, scale="diff",
                                            seed=24),
        "held-quality-hub-5k": CrossModalSpec(n=5000, half=96, extra=0.8, label_noise=0.2,
                                              hubness=0.8, seed=25),
    },
    # A few hundred items each, for tests of the suite machinery.
    "tiny": {
        "tiny-clip": CrossModalSpec(n=400, half=16, topics=6, seed=31),
        "tiny-diff": CrossModalSpec(n=300, half=16, topics=5, scale="diff", seed=32),
    },
}


def suite_specs(name: str) -> dict[str, CrossModalSpec]:
    """The sets of a named suite (ValueError listing the names otherwise)."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of {sorted(SUITES)}")
    return SUITES[name]


def split_of(spec: CrossModalSpec) -> Split:
    x, m, is_test = cross_modal(spec)
    return Split(x_train=x[~is_test], m_train=m[~is_test], x_test=x[is_test], m_test=m[is_test])


def _cache_key(spec: CrossModalSpec) -> str:
    return hashlib.sha256(f"{BASELINE_VERSION}:{spec!r}".encode()).hexdigest()[:16]


def baseline_rows(spec: CrossModalSpec, split: Split, cache_dir: Path | None, seed: int,
                  progress: bool) -> dict[str, dict]:
    """The six classic baselines and the references on one set; what the cache holds is reused."""
    path = None if cache_dir is None else Path(cache_dir) / f"{_cache_key(spec)}-{seed}.json"
    rows = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    if all(name in rows for name in (*BASELINES, *REFERENCES)):
        return rows
    if not all(name in rows for name in BASELINES):
        rows.update({r["method"]: r for r in evaluate(split, methods=list(BASELINES), seed=seed,
                                                      progress=progress)})
    for name, reference in REFERENCES.items():
        if name in rows:
            continue
        started = time.perf_counter()
        pred, pos = reference(split, seed)
        rows[name] = {"method": name, "mae": metrics.mae(pred, split.m_test),
                      "trust": None if pos is None else metrics.trustworthiness(
                          split.x_test, pos, k=20, seed=seed),
                      "seconds": time.perf_counter() - started}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(path)
    return rows


def fit_and_score(split: Split, options: dict, seed: int = 0, progress: bool = False) -> dict:
    """DKMap with `options` fitted on the train items: out-of-sample MAE and trustworthiness@20 of
    the test items, fit seconds, the step budget and the chosen checkpoint."""
    from dkmap.projection import DKMap

    started = time.perf_counter()
    fitted = DKMap(**{"seed": seed, **options}).fit(split.x_train, split.m_train, progress=progress)
    seconds = time.perf_counter() - started
    pos = fitted.transform(split.x_test)
    return {"mae": float(metrics.mae(fitted.predict(pos), split.m_test)),
            "trust": float(metrics.trustworthiness(split.x_test, pos, k=20, seed=seed)), "fit_s": seconds,
            "steps": fitted.training.get("steps"), "best_step": fitted.training.get("best_step"),
            "lam": fitted.training.get("lam")}


def run_suite(name: str, variants: dict[str, dict] | None = None, cache_dir: Path | None = None,
              seed: int = 0, progress: bool = False, only: list[str] | None = None,
              on_row=None) -> list[dict]:
    """One row per (set, DKMap variant): MAE, ratio to the best classic baseline, trust ratio to
    t-SNE's, fit seconds, the references' ratios and the noise floor's (the least ratio any method
    can reach on the set). variants: name → DKMap settings
    (default: {"defaults": {}}, i.e. what `dkmap build` uses). on_row(row) is called as each
    row is ready."""
    variants = variants or {"defaults": {}}
    rows = []
    for set_name, spec in suite_specs(name).items():
        if only and set_name not in only:
            continue
        split = split_of(spec)
        base = baseline_rows(spec, split, cache_dir, seed, progress)
        best_name = min(BASELINES, key=lambda b: base[b]["mae"])
        best = base[best_name]["mae"]
        tsne_trust = base["tsne-idw"]["trust"]
        floor = noise_floor(spec)
        for variant, options in variants.items():
            scored = fit_and_score(split, options, seed, progress)
            row = {"suite": name, "set": set_name, "variant": variant, "n": spec.n,
                   "d": int(split.x_train.shape[1]), "scale": spec.scale, "mae": scored["mae"],
                   "best_baseline": best_name, "best_mae": best, "ratio": scored["mae"] / best,
                   "trust": scored["trust"], "trust_ratio": scored["trust"] / tsne_trust,
                   "fit_s": scored["fit_s"], "steps": scored["steps"], "best_step": scored["best_step"],
                   "lam": scored["lam"], "floor_ratio": floor / best}
            for ref in REFERENCES:
                row[f"{ref}_ratio"] = base[ref]["mae"] / best
            log.info("%s %s: ratio %.3f trust ratio %.3f (%.0f s)", set_name, variant, row["ratio"],
                     row["trust_ratio"], row["fit_s"])
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def medians(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per variant: median ratio, median trust ratio, median fit seconds."""
    out = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        out[variant] = {key: float(np.median([r[key] for r in mine]))
                        for key in ("ratio", "trust_ratio", "fit_s")}
    return out


def format_suite(rows: list[dict]) -> str:
    """The rows as a plain-text table, then one median line per variant."""
    refs = list(REFERENCES)
    header = ["set", "variant", "N", "D", "scale", "MAE", "best baseline", "ratio", "trust ratio",
              "λ", "fit s", *[f"{r} ratio" for r in refs], "floor ratio"]
    body = [[r["set"], r["variant"], str(r["n"]), str(r["d"]), r["scale"], f"{r['mae']:.4g}",
             f"{r['best_baseline']} {r['best_mae']:.4g}", f"{r['ratio']:.3f}",
             f"{r['trust_ratio']:.3f}", "–" if r.get("lam") is None else f"{r['lam']:g}",
             f"{r['fit_s']:.0f}", *[f"{r[f'{x}_ratio']:.3f}" for x in refs],
             "–" if r.get("floor_ratio") is None else f"{r['floor_ratio']:.3f}"]
            for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for variant, med in medians(rows).items():
        lines.append(f"median {variant}: ratio {med['ratio']:.3f}, trust ratio "
                     f"{med['trust_ratio']:.3f}, fit {med['fit_s']:.0f} s")
    return "\n".join(lines)
