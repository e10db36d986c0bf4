"""Benchmark of the map build (issue 5): tile accuracy and speed vs direct evaluation, a full build
on synthetic items, and the α schedule; writes the section "## Map build (issue 5)" of BENCHMARKS.md.

  .venv/bin/python scripts/bench_contour.py accuracy [--n 200000]
  .venv/bin/python scripts/bench_contour.py build [--n 1000000 --train-max 50000 --epochs 5]
  .venv/bin/python scripts/bench_contour.py schedule [--dataset data/datasets/demo --metric clipscore]
Each part replaces its own block inside the section.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dkmap.contour import binning
from dkmap.contour.tiles import ContourField, cell_centres
from dkmap.projection.kernel import Kernel

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Map build (issue 5)"


def clustered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered positions in the unit square with a smooth metric plus noise (range ≈ 4)."""
    rng = np.random.default_rng(seed)
    centres = rng.random((40, 2)) * 0.8 + 0.1
    widths = rng.uniform(0.01, 0.08, 40)
    k = rng.integers(0, 40, n)
    pos = (centres[k] + rng.normal(size=(n, 2)) * widths[k, None]).clip(0.0, 1.0)
    val = np.sin(6 * pos[:, 0]) + np.cos(9 * pos[:, 1]) + 0.3 * rng.normal(size=n)
    return pos, val


def part_accuracy(args) -> str:
    pos, val = clustered(args.n)
    vrange = float(val.max() - val.min())
    T = 256
    lines = [f"Command: `.venv/bin/python scripts/bench_contour.py accuracy --n {args.n}` "
             f"(CPU, {torch.get_num_threads()} torch threads; N = {args.n} clustered items, "
             f"metric range {vrange:.3f}, T = {T}, stored levels 0..3 (2048² cells), deeper on demand).",
             ""]
    # binning: numpy bincount vs torch scatter-add on this CPU
    r = 2048
    window = (-8, -8, r + 16, r + 16)
    t0 = time.perf_counter()
    binning.bin_linear(pos, val, r, window, device="cpu")
    t_np = time.perf_counter() - t0
    u = binning.lattice_coords(pos, r)
    ix, iy = np.floor(u[:, 0]).astype(np.int64) + 8, np.floor(u[:, 1]).astype(np.int64) + 8
    t0 = time.perf_counter()
    binning._bin_torch(ix, iy, u[:, 0] % 1, u[:, 1] % 1, val, r + 16, r + 16, torch.device("cpu"))
    t_torch = time.perf_counter() - t0
    lines += [f"Binning {args.n} items onto 2064² nodes: numpy bincount {t_np:.3f} s, torch "
              f"index_add {t_torch:.3f} s on the CPU (the CPU path uses "
              f"{'numpy' if t_np <= t_torch else 'numpy anyway; torch is used on a GPU'}).", ""]
    lines += ["| kernel | level | cells checked | max abs error | error / range | FFT time | "
              "direct time (same cells) | speed-up |", "|---|---|---|---|---|---|---|---|"]
    rng = np.random.default_rng(1)
    worst = 0.0
    for alpha, beta in ((1e4, 1.0), (3e3, 0.7), (2e5, 1.0)):
        kernel = Kernel(alpha=alpha, beta=beta, scale=0.9, m_mean=float(val.mean()))
        field = ContourField(pos, val, kernel, tile_size=T, max_grid=2048)
        for z in (0, 2, 3, 5, 8):
            # a tile with data in it: the tile holding a random item
            item = pos[rng.integers(len(pos))]
            tx, ty = (np.minimum(item * (1 << z), (1 << z) - 1)).astype(int)
            t0 = time.perf_counter()
            if z <= 3:
                grid = field.level_grid(z, alpha)
                t_fft = time.perf_counter() - t0
                tile = grid[ty * T:(ty + 1) * T, tx * T:(tx + 1) * T]
                cells_fft = grid.size
            else:
                tile = field.tile(z, int(tx), int(ty), alpha)
                t_fft = time.perf_counter() - t0
                cells_fft = tile.size
            # direct evaluation on a random subset of the tile's cells, timed per cell
            pick = rng.choice(T * T, size=args.cells, replace=False)
            centres = cell_centres(z, T, tx, ty)[pick]
            t0 = time.perf_counter()
            exact = kernel.evaluate(centres, pos, val)
            t_direct = (time.perf_counter() - t0) / len(pick) * cells_fft
            err = float(np.abs(tile.ravel()[pick] - exact).max())
            worst = max(worst, err / vrange)
            what = f"level {z} (whole {int(np.sqrt(cells_fft))}² grid)" if z <= 3 else f"level {z} tile"
            lines.append(f"| α={alpha:g}, β={beta:g} | {what} | {len(pick)} | {err:.2e} | "
                         f"{err / vrange:.1e} | {t_fft:.2f} s | {t_direct:.0f} s (extrapolated from "
                         f"{len(pick)} cells) | {t_direct / t_fft:.0f}× |")
    # the same cells in full: one whole level-0 grid, direct vs FFT
    kernel = Kernel(alpha=1e4, beta=1.0, scale=0.9, m_mean=float(val.mean()))
    field = ContourField(pos, val, kernel, tile_size=T, max_grid=2048)
    t0 = time.perf_counter()
    grid = field.level_grid(0)
    t_fft = time.perf_counter() - t0
    rows = 32
    centres = cell_centres(0, T, 0, 0)[:rows * T]
    t0 = time.perf_counter()
    exact = kernel.evaluate(centres, pos, val)
    t_direct = (time.perf_counter() - t0) * (T / rows)
    err = float(np.abs(grid[:rows].ravel() - exact).max())
    lines += ["", f"Same cells, in one run: level 0 (256² cells, α=1e4, β=1) by FFT {t_fft:.2f} s vs "
              f"direct {t_direct:.0f} s (the first {rows} rows, {rows * T} cells, timed and scaled by "
              f"{T // rows}): **{t_direct / t_fft:.0f}× faster**, max abs error there {err:.1e}.",
              f"Worst error over all checks: **{worst:.1e} × metric range** (target ≤ 1e-3)."]
    return "\n".join(lines)


def synthetic_dataset(root: Path, n: int, d: int, seed: int = 0) -> Path:
    """A CLIPScore-like synthetic dataset: clustered text vectors, images near them, D = 2d."""
    from dkmap.data.store import write_dataset
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d)).astype(np.float32)
    text = np.empty((n, d), np.float32)
    image = np.empty((n, d), np.float32)
    for s in range(0, n, 200_000):
        e = min(n, s + 200_000)
        t = centres[rng.integers(0, 50, e - s)] + 0.35 * rng.normal(size=(e - s, d)).astype(np.float32)
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        v = t + rng.uniform(0.2, 1.2, (e - s, 1)).astype(np.float32) * rng.normal(size=(e - s, d)).astype(np.float32) / np.sqrt(d)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        text[s:e], image[s:e] = t, v
    score = 100 * np.einsum("ij,ij->i", text, image, dtype=np.float64)
    items = pd.DataFrame({"id": np.char.add("i", np.arange(n).astype(str)), "prompt": "p",
                          "split": np.where(rng.random(n) < 0.9, "train", "test"),
                          "image_a": "a/x.png", "clipscore": score})
    write_dataset(root, name=root.name, description="synthetic benchmark", items=items,
                  embeddings={"text": text, "image_a": image, "minilm": text},
                  image_sources={"a/x.png": b"\x89PNG"}, generators=["a"],
                  metrics={"clipscore": {"description": "100·cos", "generators": ["a"], "kind": "score"}})
    return root


def part_build(args) -> str:
    from dkmap.builder import build_map
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dkmap-bench-"))
    root = work / f"synthetic_{args.n}"
    t0 = time.perf_counter()
    if not (root / "dataset.yaml").is_file():
        synthetic_dataset(root, args.n, args.d // 2)
    t_write = time.perf_counter() - t0
    written = f"dataset written in {t_write:.0f} s" if t_write > 1 else "dataset folder reused from --workdir"
    settings = {"train_max": args.train_max, "epochs": args.epochs, "index_exact_max": 200_000}
    t0 = time.perf_counter()
    path = build_map(root, "clipscore", settings, progress=True, force=True)
    total = time.perf_counter() - t0
    manifest = json.loads((path / "manifest.json").read_text())
    index = manifest["indexes"]["image_a"]
    workdir = f" --workdir {args.workdir}" if args.workdir else ""
    lines = [f"Command: `.venv/bin/python scripts/bench_contour.py build --n {args.n} --d {args.d} "
             f"--train-max {args.train_max} --epochs {args.epochs}{workdir}` (CPU, 2 cores shared).",
             f"N = {args.n} synthetic items, D = {args.d} (text {args.d // 2} + image {args.d // 2}); "
             f"{written} (not part of the build). Projection trained on a "
             f"sample of {manifest['training']['n_fit']} of {manifest['training']['n_train']} train "
             f"items for {args.epochs} epochs; all {args.n} items are transformed and are kernel "
             f"centres. Build total {total:.0f} s.", "",
             "| stage | time | peak RSS of the process |", "|---|---|---|"]
    for stage, t in manifest["timings"].items():
        label = f"index ({index['kind']}, recall@10 {index['recall_at_10']:.3f})" if stage == "index" else stage
        lines.append(f"| {label} | {t['seconds']:.1f} s | {t['peak_rss_mb']:.0f} MB |")
    lines += ["", f"Levels 0..{manifest['max_level']} (stored: {manifest['precomputed_levels']}), "
              f"α refinement stopped at {manifest['refinement_stopped_at']}; "
              f"sampling counts per level {manifest['sampling']['counts']}."]
    lines.append(_test_error(path, manifest))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return "\n".join(lines)


def _test_error(path: Path, manifest: dict, n_test: int = 2000) -> str:
    """Out-of-sample MAE at test items, estimated from the train items only (metric units)."""
    from dkmap.data.store import open_dataset
    ds = open_dataset(path.parent.parent)
    pos = np.load(path / "positions.npy").astype(np.float64)
    val = np.load(path / "values.npy")
    train = np.asarray(ds.is_train)
    test = np.flatnonzero(~train)[:n_test]
    k = manifest["kernel"]
    pred = Kernel.from_fitted(k).evaluate(pos[test], pos[train], val[train])
    mae = float(np.mean(np.abs(pred - val[test])))
    base = float(np.mean(np.abs(val[train].mean() - val[test])))
    return (f"Out-of-sample MAE at {len(test)} test items (train items as centres, α_0): {mae:.3f} "
            f"(predicting the train mean: {base:.3f}; metric std {val.std():.3f}).")


def part_schedule(args) -> str:
    from dkmap.builder import build_map
    dataset = Path(args.dataset)
    note = ""
    if not (dataset / "dataset.yaml").is_file():
        work = Path(tempfile.mkdtemp(prefix="dkmap-sched-"))
        dataset = synthetic_dataset(work / "synthetic_20k", 20_000, 64)
        note = (" The demo corpus (data/datasets/demo) did not exist when this ran, so this is a "
                "synthetic 20k-item dataset (D = 128); rerun with --dataset on the demo.")
    path = build_map(dataset, args.metric, {"epochs": args.epochs}, progress=True)
    manifest = json.loads((path / "manifest.json").read_text())
    ref = manifest["refinement"]
    lines = [f"Command: `.venv/bin/python scripts/bench_contour.py schedule --dataset {args.dataset} "
             f"--metric {args.metric}`.{note}",
             f"MSE_vl(α_0) = {ref['mse_val0']:.4g}, ε = {ref['epsilon']:.3g} ({ref['n_val']} validation "
             f"items held out of the sums, {ref['n_centres']} centres), growth {ref['growth']}.", "",
             "| level | α_k (unit square) | MSE_vl(α_k) | new α accepted |", "|---|---|---|---|"]
    for lv in manifest["levels"]:
        rej = lv.get("rejected")
        extra = f" (tried α={rej['alpha']:.4g}: MSE {rej['mse_val']:.4g} > bound)" if rej else ""
        lines.append(f"| {lv['z']} | {lv['alpha']:.5g} | {lv['mse_val']:.5g} | "
                     f"{'yes' if lv['accepted'] else 'no'}{extra} |")
    if args.png:
        lines.append(_zoom_png(dataset, args.metric, Path(args.png)))
    return "\n".join(lines)


def _zoom_png(dataset: Path, metric: str, out: Path) -> str:
    """The same region at three zoom levels, side by side (matplotlib-free: PIL)."""
    from PIL import Image
    from dkmap.maps import open_built
    bm = open_built(dataset, metric)
    pos = np.asarray(bm.positions)
    centre = np.median(pos, axis=0)
    lo, hi = bm.colour_domain
    panels = []
    for z in (1, 3, 5):
        tx, ty = (np.minimum(centre * (1 << z), (1 << z) - 1)).astype(int)
        t = bm.tile(z, int(tx), int(ty))
        g = np.clip((t - lo) / (hi - lo), 0, 1)
        rgb = np.stack([g, 0.3 + 0.4 * g * (1 - g) * 4 * 0.5, 1 - g], axis=-1)
        rgb[np.isnan(t)] = 0.9
        panels.append((np.nan_to_num(rgb) * 255).astype(np.uint8))
    sep = np.full((bm.tile_size, 4, 3), 255, np.uint8)
    img = np.concatenate([panels[0], sep, panels[1], sep, panels[2]], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(out)
    return (f"\nPicture: `{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}` — the tile "
            f"holding the median item position at levels 1, 3 and 5 (left to right).")


def write_block(part: str, text: str) -> None:
    """Replace this part's block inside the section (creating the section when absent)."""
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text() if path.is_file() else "# Benchmarks\n"
    begin, end = f"<!-- bench_contour:{part} -->", f"<!-- /bench_contour:{part} -->"
    block = f"{begin}\n### {part}\n{text}\n{end}"
    if SECTION not in doc:
        doc = doc.rstrip("\n") + f"\n\n{SECTION}\n\n"
    start = doc.index(SECTION)
    nxt = doc.find("\n## ", start + len(SECTION))
    section = doc[start:] if nxt < 0 else doc[start:nxt + 1]
    if begin in section:
        section = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, section, flags=re.S)
    else:
        section = section.rstrip("\n") + "\n\n" + block + "\n"
    doc = doc[:start] + section + ("" if nxt < 0 else doc[nxt + 1:])
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["accuracy", "build", "schedule"])
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--cells", type=int, default=300, help="random cells checked per level")
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--train-max", type=int, default=50_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--dataset", default="data/datasets/demo")
    ap.add_argument("--metric", default="clipscore")
    ap.add_argument("--png", default="docs/img/zoom_levels.png")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.n is None:
        args.n = 200_000 if args.part == "accuracy" else 1_000_000
    text = {"accuracy": part_accuracy, "build": part_build, "schedule": part_schedule}[args.part](args)
    print(text)
    if not args.no_write:
        write_block(args.part, text)


if __name__ == "__main__":
    sys.exit(main())
