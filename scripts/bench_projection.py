"""Benchmarks of the DKMap projection (issue 4); writes "## Projection (issue 4)" of BENCHMARKS.md.

    .venv/bin/python scripts/bench_projection.py                 # all parts
    .venv/bin/python scripts/bench_projection.py --parts affinities epochs
Parts: affinities (batched vs one scale at a time), epochs (seconds per epoch, peak memory),
quality (every method on a synthetic planted landscape), lambda (DKMap's λ sweep on it), demo
(every metric of data/datasets/demo, when it exists). Results are kept in data/cache/bench_projection.json so the
parts can be re-run separately; the section is re-rendered from all of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
from benchmarks_md import write_section  # noqa: E402  (scripts/ is on sys.path)

SECTION = "## Projection (issue 4)"
CACHE = ROOT / "data" / "cache" / "bench_projection.json"
DEMO = ROOT / "data" / "datasets" / "demo"
LAMBDAS = (0.125, 0.25, 0.5, 1.0, 2.0)
SIGNALS = (0.3, 0.6)
PARTS = ("affinities", "epochs", "quality", "lambda", "demo")
EPOCH_CASES = ((20_000, 256, None), (20_000, 1024, None), (20_000, 1024, 1024),
               (100_000, 256, None), (100_000, 1024, None))


def load_avg() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def clip_like(n: int, half: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(text, image) unit rows concatenated, with metric 100·cos(text, image)."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(50, half)).astype(np.float32)
    t = topics[rng.integers(50, size=n)] + rng.normal(size=(n, half)).astype(np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    v = t * rng.uniform(0.2, 1.0, (n, 1)).astype(np.float32)
    v += 0.05 * rng.normal(size=(n, half)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return np.concatenate([t, v], axis=1), 100.0 * (t * v).sum(1).astype(np.float64)


# ---------------------------------------------------------------- affinities
def reference_affinities(d2: np.ndarray, targets: list[int], tol: float = 1e-4,
                         max_iter: int = 100) -> np.ndarray:
    """One scale after another, one row after another (the reference's way), same bisection."""
    b = len(d2)
    out = np.zeros((len(targets), b, b))
    for s, h in enumerate(targets):
        for i in range(b):
            row = np.delete(d2[i], i)
            row = row - row.min()
            beta, lo, hi = 1.0 / max(row.mean(), 1e-12), 0.0, math.inf
            for _ in range(max_iter):
                e = np.exp(-beta * row)
                z = e.sum()
                entropy = (math.log(z) + beta * (e * row).sum() / z) / math.log(2.0)
                diff = entropy - h
                if abs(diff) < tol:
                    break
                if diff > 0:
                    lo = beta
                    beta = beta * 2.0 if math.isinf(hi) else (beta + hi) / 2.0
                else:
                    hi = beta
                    beta = beta / 2.0 if lo == 0 else (beta + lo) / 2.0
            p = np.exp(-beta * row)
            out[s, i] = np.insert(p / p.sum(), i, 0.0)
    return out


def joint(cond: np.ndarray) -> np.ndarray:
    b = cond.shape[1]
    p = np.maximum((cond + cond.transpose(0, 2, 1)) / (2.0 * b), 1e-10).mean(0)
    np.fill_diagonal(p, 0.0)
    return p


def bench_affinities() -> dict:
    from dkmap.projection.affinities import (conditional_affinities, entropy_targets,
                                             multiscale_affinities)
    from dkmap.projection.kernel import squared_distances

    x, _ = clip_like(1000, 512, seed=0)
    xt = torch.from_numpy(x)
    targets = entropy_targets(1000)
    d2 = squared_distances(xt, xt)
    load_before = load_avg()

    def best_of(runs: int, fn):
        times, out = [], None
        for _ in range(runs):
            started = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - started)
        return min(times), out

    # All three calibrate the same d2 of the same batch (distances are not part of the race).
    t_batched, cond = best_of(3, lambda: conditional_affinities(d2, targets))
    t_per_scale, per_scale = best_of(
        3, lambda: torch.cat([conditional_affinities(d2, [h]) for h in targets]))
    t_reference, reference = best_of(1, lambda: reference_affinities(d2.double().numpy(), targets))
    t_full, p_full = best_of(3, lambda: multiscale_affinities(xt))
    p_b = joint(cond.double().numpy())
    return {
        "load": f"{load_before} → {load_avg()}", "threads": torch.get_num_threads(),
        "batched_s": t_batched, "per_scale_s": t_per_scale, "reference_s": t_reference,
        "full_s": t_full,
        "max_diff_reference": float(np.abs(p_b - joint(reference)).max()),
        "max_diff_per_scale": float(np.abs(p_b - joint(per_scale.double().numpy())).max()),
        "max_diff_full": float(np.abs(p_b - p_full.double().numpy()).max()),
        "targets": len(targets),
    }


# ---------------------------------------------------------------- epochs
def proc_status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def epoch_worker(n: int, d: int, hidden: int | None) -> None:
    """Runs in a fresh process: one-epoch fit, prints timings and peak memory as JSON."""
    from dkmap.projection import DKMap

    x, m = clip_like(n, d // 2, seed=1)
    # Forget the data generation's peak: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")
    rss_before = proc_status_mib("VmRSS")
    fitted = DKMap(epochs=1, hidden=hidden).fit(x, m, progress=False)
    peak = proc_status_mib("VmHWM")
    print(json.dumps({"n": n, "d": d, "hidden": fitted.net.hidden, "data_mib": x.nbytes / 2**20,
                      "rss_before_mib": rss_before, "peak_mib": peak, **fitted.timings}))


def bench_epochs() -> list[dict]:
    """Each case in a fresh process, so peak memory is that case's alone."""
    rows = []
    for n, d, hidden in EPOCH_CASES:
        load_before = load_avg()
        args = [sys.executable, __file__, "--worker", str(n), str(d), str(hidden or 0),
                "--threads", str(torch.get_num_threads())]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["load"] = f"{load_before} → {load_avg()}"
        row["threads"] = torch.get_num_threads()
        print(row, flush=True)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- quality
def planted_split(signal: float = 0.3) -> tuple[Path, tuple[np.ndarray, ...]]:
    from dkmap.evaluation.synthetic import hidden_direction_landscape

    x, m = hidden_direction_landscape(6000, d=128, signal=signal, seed=0)
    npz = CACHE.parent / f"planted_landscape_{signal}.npz"
    np.savez(npz, x_train=x[:5000], m_train=m[:5000], x_test=x[5000:], m_test=m[5000:])
    return npz, (x[:5000], m[:5000], x[5000:], m[5000:])


def oracle_mae(signal: float) -> float:
    """Out-of-sample MAE of an oracle that knows the planted direction and clusters.

    It regresses m on the exact 1-D coordinate along the direction (Gaussian NW, Silverman);
    its error is what the noise in x leaves for any method that sees only x.
    """
    from dkmap.evaluation import baselines, metrics
    from dkmap.evaluation.synthetic import hidden_direction_landscape

    x, m, truth = hidden_direction_landscape(6000, d=128, signal=signal, seed=0,
                                             return_truth=True)
    r = (x.astype(np.float64) - truth["centres"][truth["labels"]]) @ truth["u"]
    r2 = np.stack([r, np.zeros_like(r)], axis=1)
    bandwidth = baselines.silverman_bandwidth(r2[:5000, :1])[0]
    pred = baselines.gaussian_nw(r2[5000:], r2[:5000], m[:5000], [bandwidth, 1.0])
    return metrics.mae(pred, m[5000:])


def bench_quality(epochs: int | None) -> dict:
    """Every method of `dkmap evaluate` on the planted landscape at two signal strengths, and
    the oracle's floor for each."""
    from dkmap.evaluation.command import run_evaluate

    out = {}
    for signal in SIGNALS:
        npz, _ = planted_split(signal)
        load_before = load_avg()
        rows = run_evaluate(npz=npz, epochs=epochs, progress=False)
        out[str(signal)] = {"rows": rows, "load": f"{load_before} → {load_avg()}",
                            "oracle_mae": oracle_mae(signal),
                            "command": f"dkmap evaluate --npz {npz.relative_to(ROOT)}"}
    return out


def bench_lambda(epochs: int | None) -> list[dict]:
    """Out-of-sample MAE and trustworthiness of DKMap for each λ, on the planted landscape."""
    from dkmap.evaluation import metrics
    from dkmap.projection import DKMap

    _, (x_train, m_train, x_test, m_test) = planted_split()
    sweep = []
    for lam in LAMBDAS:
        fitted = DKMap(lam=lam, **({"epochs": epochs} if epochs else {})).fit(
            x_train, m_train, progress=False)
        pos = fitted.transform(x_test)
        sweep.append({"lam": lam, "mae": metrics.mae(fitted.predict(pos), m_test),
                      "trust": metrics.trustworthiness(x_test, pos, k=20),
                      "alpha": fitted.kernel["alpha"], "beta": fitted.kernel["beta"]})
        print(sweep[-1], flush=True)
    return sweep


def bench_demo(epochs: int | None, folder: Path) -> dict | None:
    """Every metric of a demo dataset folder (its fixed split), or None when it is missing."""
    if not folder.exists():
        return None
    from dkmap.data.store import open_dataset
    from dkmap.evaluation.command import run_evaluate

    ds = open_dataset(folder)
    return {"folder": str(folder), "n": int(ds.n), "load_before": load_avg(),
            "metrics": {name: run_evaluate(dataset_dir=folder, metric=name, epochs=epochs,
                                           progress=False) for name in ds.metrics}}


# ---------------------------------------------------------------- report
def table(rows: list[dict]) -> list[str]:
    lines = ["| method | MAE | RMSE | MAPE % | MAE in | trust@20 | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cells = [r["method"]] + ["—" if r[k] is None else f"{r[k]:.4g}"
                                 for k in ("mae", "rmse", "mape", "mae_in", "trust", "seconds")]
        lines.append("| " + " | ".join(cells) + " |")
    baselines = [r["mae"] for r in rows if not r["method"].startswith("dkmap")]
    ours = [r["mae"] for r in rows if r["method"] == "dkmap"]
    if baselines and ours:
        lines.append(f"\nDKMap MAE / best baseline MAE = {ours[0] / min(baselines):.2f} "
                     f"(target ≤ 0.6).")
    return lines


def render(results: dict) -> str:
    out = ["Command: `.venv/bin/python scripts/bench_projection.py --threads 1` (parts: `--parts "
           "affinities epochs quality lambda demo`).",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other engineers' "
           "jobs; load averages 1/5/15 min given per part), CPU only; no GPU was available to "
           "this task, so there are no GPU figures. Run with one torch thread: under the shared "
           "load (15–20) torch's default two threads made the same affinity solve 2–4× slower "
           "(OpenMP spin-waiting).", ""]
    a = results.get("affinities")
    if a:
        out += ["### Multi-scale affinities, one 1000-point batch (D = 1024, 8 entropy targets)",
                f"torch threads {a['threads']}; load {a['load']}.", "",
                "| calibration of all 8 targets (same d², same batch) | seconds | speed-up of "
                "batched | max abs diff in joint P |", "|---|---:|---:|---:|",
                f"| batched: all targets × rows in one solve (ours, best of 3) | "
                f"{a['batched_s']:.3f} | 1× | — |",
                f"| one target after another, rows batched (our routine per target, best of 3) | "
                f"{a['per_scale_s']:.3f} | {a['per_scale_s'] / a['batched_s']:.1f}× | "
                f"{a['max_diff_per_scale']:.1e} |",
                f"| one target after another, one row after another (reference style, numpy "
                f"float64) | {a['reference_s']:.2f} | {a['reference_s'] / a['batched_s']:.1f}× | "
                f"{a['max_diff_reference']:.1e} |", "",
                f"Whole `multiscale_affinities` of the batch (distances, calibration, "
                f"symmetrised joint P): {a['full_s']:.3f} s. Batching the targets on top of "
                f"vectorised rows gains only {a['per_scale_s'] / a['batched_s']:.1f}× (the "
                "arithmetic is the same); the gain over the reference comes from solving all "
                "rows together with few Newton steps.",
                "Ours: safeguarded Newton in ln β (bisection when a Newton step leaves the "
                "bracket), started at 1/d² of each row's 2^h-th neighbour, computing only the "
                "(target, row) pairs not yet converged. The reference-style baseline is plain "
                "bisection (doubling/halving until bracketed), one row and one target at a time. "
                "All stop at |H − h| < 1e-4 bits (≤ 100 steps), so P agrees far below 1e-6.", ""]
    e = results.get("epochs")
    if e:
        out += ["### Seconds per epoch and peak memory (one fit, epochs = 1, batch 1000)",
                "Each case runs in a fresh process on synthetic CLIP-like features "
                "(unit text and image halves, metric 100·cos). Affinities are computed once per "
                "fit (fixed batches) and cached, so they are listed apart from the epoch. Memory: "
                "resident set before the fit (Python, torch and the data) and its peak during the "
                "fit (VmHWM, reset after the data was made).", "",
                "| N | D | hidden H | affinities (s, once) | epoch (s) | data (MiB) | RSS before "
                "(MiB) | peak RSS in fit (MiB) | threads | load before → after |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in e:
            out.append(f"| {r['n']:,} | {r['d']} | {r['hidden']} | {r['affinities_s']:.1f} | "
                       f"{r['epochs_s']:.1f} | {r['data_mib']:.0f} | {r['rss_before_mib']:.0f} | "
                       f"{r['peak_mib']:.0f} | "
                       f"{r['threads']} | {r['load']} |")
        wide = [r for r in e if r["n"] == 20_000 and r["d"] == 1024]
        if len(wide) == 2:
            narrow, full = sorted(wide, key=lambda r: r["hidden"])
            out += ["", f"Default hidden width H = min(D, 512): at N = 20,000, D = 1024 the "
                    f"paper's H = D costs {full['epochs_s']:.1f} s per epoch against "
                    f"{narrow['epochs_s']:.1f} s at H = 512 "
                    f"({full['epochs_s'] / narrow['epochs_s']:.1f}×); `DKMap(hidden=D)` restores "
                    "the paper's setting."]
        out.append("")
    q = results.get("quality")
    if q:
        out += ["### Quality on a planted landscape (synthetic; see the demo corpus below)",
                "`hidden_direction_landscape(6000, d=128, signal=s)` from "
                "`dkmap.evaluation.synthetic`: 12 clusters; the metric (CLIPScore-like scale, std "
                "3.8) follows one weak direction of x, so neighbours in x have very different "
                "scores. 5000 train / 1000 test items, DKMap with its defaults (20 epochs). The "
                "oracle knows the planted direction and clusters and regresses m on the exact "
                "coordinate: its MAE is the floor that the noise in x leaves for any method.", ""]
        for signal, block in q.items():
            best = min(r["mae"] for r in block["rows"] if not r["method"].startswith("dkmap"))
            out += [f"Signal s = {signal} (the direction carries {100 * float(signal) ** 2 / 3:.0f} % "
                    f"of the within-cluster variance). Command: `{block['command']}`; "
                    f"load {block['load']}.", ""]
            out += table(block["rows"])
            ours = next(r["mae"] for r in block["rows"] if r["method"] == "dkmap")
            floor = block["oracle_mae"]
            verdict = (f"DKMap closes {100 * (best - ours) / (best - floor):.0f} % of the gap "
                       "between the best baseline and the oracle." if ours < best else
                       f"DKMap is {100 * (ours / best - 1):.0f} % worse than the best baseline "
                       "here.")
            out += [f"Oracle floor MAE {floor:.3f} = {floor / best:.2f} × the best baseline, so "
                    f"no method can reach 0.6× on this landscape. {verdict}", ""]
        out += ["Reading: on both landscapes the ablations fall in the papers' order (w/o KR ≈ "
                "the KDE baselines, w/o GK between it and DKMap). IDW over t-SNE/UMAP is the "
                "strong baseline here (exact on its own centres, fine-grained); with Silverman's "
                "bandwidth the Gaussian KDE over-smooths every map. The issue's ≤ 0.6× target is "
                "for the demo corpus; on these synthetic landscapes even the oracle cannot reach "
                "it.", ""]
    sweep = results.get("lambda")
    if sweep:
        out += ["λ sweep on the s = 0.3 landscape (DKMap defaults otherwise; out-of-sample MAE "
                "and trust@20 on the same split). The default λ = 1 comes from here: MAE falls "
                "steeply up to λ = 1 and little after, while trustworthiness stays flat.", "",
                "| λ | MAE | trust@20 | α | β |", "|---:|---:|---:|---:|---:|"]
        for s in sweep:
            out.append(f"| {s['lam']} | {s['mae']:.3f} | {s['trust']:.3f} | {s['alpha']:.3f} | "
                       f"{s['beta']:.3f} |")
        out.append("")
    d = results.get("demo")
    out += ["### Demo corpus"]
    if d:
        out += [f"Dataset `{d['folder']}` ({d['n']:,} items, its fixed split); load before "
                f"{d['load_before']}."]
        if "demo-small" in d["folder"]:
            out += ["This is the small demo configuration (`dkmap demo --size small`): with so few "
                    "train items DKMap gets only a few dozen optimiser steps in 20 epochs. The "
                    "full demo's figures are pending (data/datasets/demo did not exist yet)."]
        out.append("")
        for metric, rows in d["metrics"].items():
            out += [f"Metric `{metric}`: `dkmap evaluate --dataset {d['folder']} --metric "
                    f"{metric}`", ""] + table(rows) + [""]
    else:
        out += ["Pending: data/datasets/demo did not exist when this ran (`dkmap demo` builds "
                "it); re-run `scripts/bench_projection.py --parts demo`.", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="*", choices=PARTS, default=list(PARTS),
                        help="parts to (re)measure; none: re-render the section from the cache")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 20)")
    parser.add_argument("--demo-dir", type=Path, default=DEMO,
                        help="demo dataset folder for the demo part (default data/datasets/demo)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        n, d, hidden = args.worker
        epoch_worker(n, d, hidden or None)
        return
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    for part in args.parts:
        print(f"== {part}", flush=True)
        if part == "affinities":
            results[part] = bench_affinities()
        elif part == "epochs":
            results[part] = bench_epochs()
        elif part == "quality":
            results[part] = bench_quality(args.epochs)
        elif part == "lambda":
            results[part] = bench_lambda(args.epochs)
        elif part == "demo":
            results[part] = bench_demo(args.epochs, args.demo_dir)
        print(json.dumps(results[part], indent=1)[:3000], flush=True)
        CACHE.write_text(json.dumps(results, indent=1))
    body = render(results)
    print(body)
    write_section(SECTION, body)
    print(f"\nwrote section '{SECTION}' of {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
