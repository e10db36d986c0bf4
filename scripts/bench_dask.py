"""Benchmark the Dask engine (`dkmap build --engine dask`) on synthetic sharded datasets, D = 256.

For each size: write float16 shards (one shard in memory at a time), then build the map on a
LocalCluster (2 workers × 1 thread, 3 GiB each). Reports time and driver peak RSS per stage (from
the build's manifest), the workers' peak RSS, and seconds per million items. Baseline in the same
run: the single-machine build and the Dask build of the same plain dataset of --baseline items.
Writes the section "## Distributed build (issue 9)" of BENCHMARKS.md.

With --serve: for each size, a sharded dataset with MiniLM prompt embeddings is written and built
on Dask (kept in --data, reused when already built there; the builds made are tabled per stage in
"## Scaling the sharded build"), then served and measured with
scripts/load_test.py (16 clients; tiles, points, lassos); writes "## Serving sharded builds (issue 9)".

    .venv/bin/python scripts/bench_dask.py                         # 1M, 5M, 20M (disk permitting)
    .venv/bin/python scripts/bench_dask.py --sizes 200000 --no-write   # quick look
    .venv/bin/python scripts/bench_dask.py --serve --sizes 1000000,2000000 --data /tmp/serve
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from benchmarks_md import write_section  # noqa: E402  (scripts/ is on sys.path)

SECTION = "## Distributed build (issue 9)"
SERVE_SECTION = "## Serving sharded builds (issue 9)"
SCALING_SECTION = "## Scaling the sharded build (issue 9)"
LOAD_TEST_ARGS = ["--clients", "16", "--requests", "1000", "--seconds", "90", "--baseline-requests", "100"]
SHARD_ROWS = 125_000
BASELINE_PARTITION_ROWS = 25_000
DIM = 256


def bench_settings():
    """Defaults (T = 256, max_grid 2048, 10 levels) with a small training sample and validation set:
    training cost does not grow with N, and the O(validation × N) α check stays affordable here.
    Flat Faiss index (IVF k-means training on 2 cores would dominate and does not depend on N's
    partitioning)."""
    from dkmap.config import BuildSettings

    return BuildSettings(epochs=1, train_max=20_000, refine_val_max=200, index_exact_max=10**9)


def write_and_build_rich(root: Path, n: int, prompts_per_topic: int = 500) -> dict:
    """A sharded n-item dataset with varied prompts, their MiniLM rows and metadata columns
    (`write_synthetic_shards(..., prompts_per_topic, metadata=True)`), built on Dask with the default
    similar-images index (IVF, nprobe chosen for recall): what search and filters are measured on.
    Reused when already built; returns {ingest, build, index} (None for a reused build)."""
    from dkmap.config import BuildSettings
    from dkmap.distributed import write_synthetic_shards
    from dkmap.distributed.synthetic import METRIC

    manifest = root / "maps" / METRIC / "manifest.json"
    if manifest.is_file():
        return {"ingest": None, "build": None, "index": json.loads(manifest.read_text())["indexes"]}
    if root.exists():
        shutil.rmtree(root)
    t0 = time.perf_counter()
    write_synthetic_shards(root, n, DIM, SHARD_ROWS, "float16", progress=False,
                           prompts_per_topic=prompts_per_topic, metadata=True)
    ingest = time.perf_counter() - t0
    settings = BuildSettings(epochs=1, train_max=20_000, refine_val_max=200)
    r = run_build(root, METRIC, settings=settings)
    return {"ingest": ingest, "build": r["seconds"], "index": json.loads(manifest.read_text())["indexes"],
            "timings": r["timings"]}


def worker_rss_sampler(client, peak: dict, stop: threading.Event) -> threading.Thread:
    """Samples every worker's RSS every 0.5 s; keeps the largest seen per worker."""
    def rss():
        import psutil

        return psutil.Process().memory_info().rss

    def loop():
        while not stop.wait(0.5):
            try:
                for worker, value in client.run(rss).items():
                    peak[worker] = max(peak.get(worker, 0), value)
            except Exception:  # a worker restarting; sample again next time
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def run_build(root: Path, metric: str, plain_engine: bool = False, settings=None) -> dict:
    from dkmap.builder import build_map
    from dkmap.distributed.cluster import connect

    settings = settings or bench_settings()
    started = time.perf_counter()
    worker_peak: dict = {}
    if plain_engine:
        out = build_map(root, metric, settings, progress=False, force=True)
    else:
        with connect(None) as client:
            stop = threading.Event()
            sampler = worker_rss_sampler(client, worker_peak, stop)
            out = build_map(root, metric, settings, engine="dask", scheduler=client, progress=False,
                            force=True, partition_rows=BASELINE_PARTITION_ROWS)
            stop.set()
            sampler.join()
    seconds = time.perf_counter() - started
    manifest = json.loads((out / "manifest.json").read_text())
    index = manifest["indexes"]
    timings = dict(manifest["timings"])
    return {"seconds": seconds, "timings": timings, "n": manifest["n_items"],
            "worker_peak_mib": max(worker_peak.values()) / 2**20 if worker_peak else None,
            "index_seconds": sum(e.get("seconds", 0) for e in index.values()),
            "partitions": manifest.get("engine", {}).get("partitions", 1)}


def plain_copy(sharded: Path, out: Path, n: int) -> Path:
    """The first n items of a sharded dataset as a plain dataset (for the single-machine baseline)."""
    import pandas as pd

    from dkmap.data.store import write_dataset
    from dkmap.distributed.partitions import PartitionedDataset
    from dkmap.distributed.synthetic import GENERATOR, METRIC

    src = PartitionedDataset(sharded)
    parts = [p for p in src.partitions if p.start < n]
    items = pd.concat([src.columns(p, None) for p in parts], ignore_index=True).iloc[:n]
    emb = {s: np.concatenate([src.embedding(p, s) for p in parts])[:n] for s in src.meta["spaces"]}
    rng = np.random.default_rng(0)
    minilm = rng.standard_normal((n, 8)).astype(np.float32)
    emb["minilm"] = minilm / np.linalg.norm(minilm, axis=1, keepdims=True)
    write_dataset(out, name=out.name, description="baseline", items=items, embeddings=emb,
                  image_sources={"none.png": b"\x89PNG"}, generators=[GENERATOR],
                  metrics={METRIC: {"generators": [GENERATOR], "kind": "score"}})
    return out


PER_ITEM_STAGES = ("load", "transform", "refine", "sampling", "index")


def per_item(r: dict) -> float:
    """Seconds of the stages whose work grows with N (fit uses a fixed-size sample; the contour levels
    cost O(lattice) after binning)."""
    return sum(t["seconds"] for s, t in r["timings"].items() if s in PER_ITEM_STAGES)


def stage_table(runs: list[tuple[str, dict]]) -> str:
    stages = []
    for _, r in runs:
        for s in r["timings"]:
            if s not in stages:
                stages.append(s)
    head = ("| run | items | partitions | " + " | ".join(stages)
            + " | total s | per-item stages, s per 1M items | worker peak MiB |")
    rule = "|" + "---|" * (len(stages) + 6)
    rows = [head, rule]
    for name, r in runs:
        cells = []
        for s in stages:
            t = r["timings"].get(s)
            if t is None:
                cells.append("–")
            elif t["peak_rss_mb"] is None:
                cells.append(f"{t['seconds']:.1f} s")
            else:
                cells.append(f"{t['seconds']:.1f} s / {t['peak_rss_mb']:.0f} MB")
        wp = f"{r['worker_peak_mib']:.0f}" if r["worker_peak_mib"] else "–"
        rows.append(f"| {name} | {r['n']:,} | {r['partitions']} | " + " | ".join(cells)
                    + f" | {r['seconds']:.0f} | {per_item(r) / r['n'] * 1e6:.1f} | {wp} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--baseline", type=int, default=100_000,
                        help="items of the plain dataset built by both engines (0: skip)")
    parser.add_argument("--data", type=Path, default=None, help="folder for the shards (default: temporary)")
    parser.add_argument("--time-budget", type=float, default=3600,
                        help="seconds; sizes not started within it are skipped and reported as such")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--serve", action="store_true",
                        help="build sharded datasets and load-test the server on them (needs --data)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.serve and args.data is None:
        parser.error("--serve needs --data (the builds are kept there)")
    data = args.data or Path(tempfile.mkdtemp(prefix="bench_dask_", dir="/tmp"))
    data.mkdir(parents=True, exist_ok=True)
    if args.serve:
        serve_bench(args, sizes, data)
        return
    from dkmap.distributed import write_synthetic_shards
    from dkmap.distributed.synthetic import METRIC

    began = time.perf_counter()
    runs: list[tuple[str, dict]] = []
    notes: list[str] = []
    rate = 0.0   # seconds per item (ingest + build) of the last size, to skip sizes that cannot finish
    if args.baseline:
        shards = write_synthetic_shards(data / "baseline_shards", args.baseline, DIM, SHARD_ROWS, progress=False)
        plain = plain_copy(shards, data / "baseline_plain", args.baseline)
        shutil.rmtree(shards)
        for name, plain_engine in (("local engine (baseline)", True), ("dask engine, same data", False)):
            r = run_build(plain, METRIC, plain_engine)
            runs.append((name, r))
            print(f"{name}: {r['seconds']:.0f} s", flush=True)
            report(args, runs, notes)
        shutil.rmtree(plain)
    for n in sizes:
        need = n * DIM * 2 * 1.15
        free = shutil.disk_usage(data).free
        if need > free:
            notes.append(f"{n:,} items skipped: shards need {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
            continue
        elapsed = time.perf_counter() - began
        estimate = rate * n if rate else 0.0
        if elapsed + estimate > args.time_budget:
            notes.append(f"{n:,} items not run: about {estimate / 60:.0f} min (extrapolated from the "
                         f"previous size) would exceed the time budget of {args.time_budget / 60:.0f} min")
            continue
        t0 = time.perf_counter()
        root = write_synthetic_shards(data / f"synthetic_{n}", n, DIM, SHARD_ROWS, "float16", progress=False)
        ingest = time.perf_counter() - t0
        r = run_build(root, METRIC)
        r["timings"] = {"ingest (shards)": {"seconds": ingest, "peak_rss_mb": None}, **r["timings"]}
        runs.append(("dask, sharded float16", r))
        rate = (ingest + r["seconds"]) / n
        print(f"{n:,}: ingest {ingest:.0f} s, build {r['seconds']:.0f} s", flush=True)
        shutil.rmtree(root)
        report(args, runs, notes)
    report(args, runs, notes)


def per_item_notes(runs: list[tuple[str, dict]]) -> list[str]:
    """Cost per item of the stages that grow with N, per size, and the largest size over the smallest."""
    if len(runs) < 2:
        return []
    costs = [(r["n"], per_item(r) / r["n"] * 1e6) for _, r in runs]
    (n0, c0), (n1, c1) = costs[0], costs[-1]
    return ["per-item stages (load/transform, refine, sampling, index), s per 1M items: "
            + ", ".join(f"{c:.1f} at {n:,}" for n, c in costs)
            + f"; {n1:,} ÷ {n0:,} = ×{c1 / c0:.2f}"]


def report(args: argparse.Namespace, runs: list[tuple[str, dict]], notes: list[str], section: str = SECTION) -> None:
    """Print the results so far and (unless --no-write) write them into BENCHMARKS.md."""
    s = bench_settings()
    body = "\n".join([
        "",
        "Command: `.venv/bin/python scripts/bench_dask.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Machine: {platform.machine()}, 2 CPU cores shared with other work, no GPU; LocalCluster of 2 "
        "workers × 1 thread, 3 GiB each; driver in the same machine. Synthetic items with a planted "
        f"metric landscape, D = {DIM} (text 128 + image 128), shards of {SHARD_ROWS:,} rows (float16).",
        f"Settings: epochs={s.epochs}, train_max={s.train_max:,}, refine_val_max={s.refine_val_max}, "
        f"tile {s.tile_size}, max_grid {s.max_grid}, max_level {s.max_level}, flat Faiss index.",
        "Each cell: stage seconds / driver peak RSS (MB); 'fit' includes gathering the training sample "
        "from the partitions, 'index' fills the Faiss index per partition and merges it; 'total s' is the "
        "build's wall time with cluster start-up (not the ingest); 'worker peak MiB' is the largest RSS "
        "of one worker process.",
        "",
        stage_table(runs),
        "",
        *[f"- {note}" for note in notes],
    ])
    print(body, flush=True)
    if not args.no_write:
        write_section(section, body)


def serve_bench(args: argparse.Namespace, sizes: list[int], data: Path) -> None:
    """Build (or reuse) a sharded dataset per size, then run scripts/load_test.py against it."""
    from dkmap.distributed import write_synthetic_shards
    from dkmap.distributed.synthetic import METRIC

    scaling_notes: list[str] = []
    built = {}
    runs: list[tuple[str, dict]] = []   # the builds made by this run, for the scaling table too
    for n in sizes:   # every build first, so the load tests run back to back under similar load
        root = data / f"sharded_{n}"
        if not (root / "maps" / METRIC / "manifest.json").is_file():
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            write_synthetic_shards(root, n, DIM, SHARD_ROWS, "float16", progress=False, minilm=True)
            ingest = time.perf_counter() - t0
            r = run_build(root, METRIC)
            r["timings"] = {"ingest (shards)": {"seconds": ingest, "peak_rss_mb": None}, **r["timings"]}
            runs.append(("dask, sharded float16 + MiniLM", r))
            built[n] = {"ingest": ingest, "build": r["seconds"]}
            print(f"{n:,}: ingest {ingest:.0f} s, build {built[n]['build']:.0f} s", flush=True)
            scaling_notes.append(f"load average {load:.1f} → {os.getloadavg()[0]:.1f} during the {n:,}-item "
                                 "ingest + build")
            report(args, runs, scaling_notes + per_item_notes(runs), SCALING_SECTION)
    results = []
    for n in sizes:
        name = f"sharded_{n}"
        cmd = [sys.executable, "scripts/load_test.py", "--data", str(data), "--dataset", name,
               "--metric", METRIC, "--no-write", *LOAD_TEST_ARGS]
        load = [os.getloadavg()[0]]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        load.append(os.getloadavg()[0])
        print(run.stdout, run.stderr[-2000:], flush=True)
        first_deep = [line for line in run.stdout.splitlines() if line.startswith("First deep tile")]
        results.append({"n": n, "built": built.get(n), "load": load, "status": run.returncode,
                        "phases": latency_tables(run.stdout), "stdout": run.stdout,
                        "first_deep": first_deep[0] if first_deep else None})
        report_serving(args, results)


def latency_tables(stdout: str) -> dict[str, dict[str, tuple[str, str, str]]]:
    """{phase: {kind: (count, p50, p99)}} from load_test.py's printed tables (baseline, then load)."""
    phases, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("Baseline"):
            current = phases.setdefault("baseline", {})
        elif "concurrent clients" in line:
            current = phases.setdefault("concurrent", {})
        elif current is not None and line.startswith("| ") and not line.startswith("| request"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            current[cells[0]] = (cells[1], cells[2], cells[3])
    return phases


def report_serving(args: argparse.Namespace, results: list[dict]) -> None:
    kinds = ("tile", "tile_deep", "points", "points_all", "selection", "all")
    head = "| items | build (ingest + build) | load avg (start → end) | phase | " + " | ".join(
        f"{k} p50 / p99 ms" for k in kinds) + " |"
    rows = [head, "|" + "---|" * (len(kinds) + 4)]
    for r in results:
        built = (f"{r['built']['ingest']:.0f} + {r['built']['build']:.0f} s" if r["built"]
                 else "reused (built by an earlier run of this command)")
        for phase in ("baseline", "concurrent"):
            cells = r["phases"].get(phase, {})
            rows.append(f"| {r['n']:,} | {built} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
                        f"{'1 client' if phase == 'baseline' else '16 clients'} | "
                        + " | ".join(f"{cells[k][1]} / {cells[k][2]} (n={cells[k][0]})" if k in cells else "–"
                                     for k in kinds) + " |")
    notes = [f"- {r['n']:,} items: load_test.py exited with status {r['status']} (errors in its output)"
              for r in results if r["status"]]
    notes += [f"- {r['n']:,} items, warm-up: {r['first_deep']}" for r in results if r.get("first_deep")]
    small, large = results[0], results[-1]
    for phase, label in (("baseline", "1 client"), ("concurrent", "16 clients")):
        a, b = small["phases"].get(phase, {}), large["phases"].get(phase, {})
        ratios = [f"{k} ×{float(b[k][1]) / float(a[k][1]):.2f}" for k in kinds if k in a and k in b]
        if len(results) > 1 and ratios:
            notes.append(f"- p50 at {large['n']:,} items / p50 at {small['n']:,} items, {label}: "
                          + ", ".join(ratios))
    s = bench_settings()
    body = "\n".join([
        "",
        "Command: `.venv/bin/python scripts/bench_dask.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Each size: a synthetic sharded dataset (D = {DIM}, float16 shards of {SHARD_ROWS:,} rows, MiniLM "
        "prompt embeddings for keywords) built with the Dask engine (settings as in 'Distributed build'), "
        f"then `scripts/load_test.py --data DATA --dataset sharded_N --metric clipscore --no-write "
        f"{' '.join(LOAD_TEST_ARGS)}` (waitress, 32 threads; 20 unmeasured warm-up requests; a 1-client "
        "baseline phase, then 16 concurrent clients). Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other work (load average from "
        "os.getloadavg at the start and end of each load test), no GPU. Settings: "
        f"tile {s.tile_size}, max_grid {s.max_grid}, max_level {s.max_level}.",
        "",
        *rows,
        "",
        *notes,
    ])
    print(body, flush=True)
    if not args.no_write:
        write_section(SERVE_SECTION, body)


if __name__ == "__main__":
    main()
