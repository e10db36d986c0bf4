"""Soak of the API server (issue 17): N clients for a duration while the map is rebuilt twice and the
dataset re-ingested once, against `dkmap serve` on the demo (or demo-small with --small).

Clients mix what the UI sends (contour tiles, points, lassos, items, similar images, search, sprite
sheets). Any answer other than 200 counts as an error (a 503 "retry it" too), as does a failed
connection. The server's RSS is sampled every --sample-every seconds. The disk changes run in this
process, one after the other, at 1/4, 1/2 and 3/4 of the duration: `build_map(force=True)`, then a
re-ingest (the dataset's own contents written again by `write_dataset`, its builds carried over as
`dkmap ingest` does with unchanged inputs), then a second forced build. Writes the figures to the
BENCHMARKS.md section "## Soak (issue 17)" under "### <label>".

    .venv/bin/python scripts/bench_soak.py                         # 16 clients, 600 s, full demo
    .venv/bin/python scripts/bench_soak.py --small --clients 8 --seconds 120 --label "demo-small, 2 min"

Point --data at a hard-linked copy (`cp -al data/datasets /tmp/soak`) to leave the demo itself
untouched (builds and ingest replace files by renaming, never in place). --rebuild-steps gives the
forced rebuilds a smaller step budget than the defaults, so that a full-demo rebuild under load
ends within the run; the map first served is the one already built.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from dkmap.server.serve import DEFAULT_THREADS  # noqa: E402
from load_test import start_server  # noqa: E402

SECTION = "## Soak (issue 17)"
KINDS = {"tile": 0.35, "points": 0.2, "selection": 0.1, "item": 0.1, "similar": 0.08, "search": 0.07,
         "sprites": 0.05, "datasets": 0.05}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Workload:
    def __init__(self, url: str, dataset: str, metric: str) -> None:
        self.url, self.dataset, self.metric = url, dataset, metric
        self.base = f"{url}/api/maps/{dataset}/{metric}"
        self.info = requests.get(self.base, timeout=60).json()
        ds = requests.get(f"{url}/api/datasets/{dataset}/search", params={"q": "a", "limit": 2000, "fields": "ids"},
                          timeout=60).json()
        self.ids = ds["ids"]
        self.words = ["red", "blue", "square", "circle", "star", "large", "small", "shadow", "white", "green"]

    def request(self, kind: str, rng: np.random.Generator) -> tuple[str, str, dict | None]:
        max_level = self.info["max_level"]
        ax, ay = rng.uniform(0.1, 0.9, 2)
        if kind == "tile":
            z = int(rng.integers(0, max_level + 1))
            n = 1 << z
            return "GET", f"{self.base}/contour/{z}/{min(int(ax * n), n - 1)}/{min(int(ay * n), n - 1)}", None
        if kind == "points":
            z = int(rng.integers(0, max_level + 1))
            half = 1.0 / (1 << z)
            bbox = f"{ax - half:.5f},{ay - half:.5f},{ax + half:.5f},{ay + half:.5f}"
            return "GET", f"{self.base}/points?z={z}&bbox={bbox}&sampling={rng.choice(['bluenoise', 'random'])}", None
        if kind == "selection":
            k, r = int(rng.integers(8, 40)), float(rng.uniform(0.03, 0.2))
            t = np.linspace(0, 2 * math.pi, k, endpoint=False)
            poly = np.column_stack([ax + r * np.cos(t), ay + r * np.sin(t)])
            return "POST", f"{self.base}/selection", {"polygon": poly.round(5).tolist()}
        item = str(self.ids[int(rng.integers(len(self.ids)))])
        if kind == "item":
            return "GET", f"{self.url}/api/datasets/{self.dataset}/items/{item}", None
        if kind == "similar":
            return "GET", f"{self.url}/api/datasets/{self.dataset}/items/{item}/similar?k=8", None
        if kind == "search":
            q = " ".join(rng.choice(self.words, int(rng.integers(1, 3))))
            return "GET", f"{self.url}/api/datasets/{self.dataset}/search?q={q}&limit=50", None
        if kind == "sprites":
            z = int(rng.integers(2, max(3, min(max_level, 6)) + 1))
            n = 1 << z
            return "GET", f"{self.base}/sprites/{z}/{min(int(ax * n), n - 1)}/{min(int(ay * n), n - 1)}", None
        return "GET", f"{self.url}/api/datasets", None


def reingest(root: Path) -> None:
    """Write the dataset folder again from its own contents, carrying its builds over."""
    from dkmap.data.reingest import carry_over
    from dkmap.data.store import open_dataset, write_dataset

    ds = open_dataset(root)
    sources = {str(ds.items[f"image_{g}"].iat[r]): ds.image_path(r, g) for g in ds.generators for r in range(ds.n)}
    extra = {p.name: p.read_bytes() for p in root.iterdir()
             if p.is_file() and p.suffix in (".pt", ".parquet", ".json") and p.name != "items.parquet"}
    write_dataset(root, name=ds.meta["name"], description=ds.meta.get("description", ""), items=ds.items.copy(),
                  embeddings={s: np.asarray(ds.embedding(s)) for s in ds.spaces}, image_sources=sources,
                  generators=ds.generators, metrics=ds.metrics, extra_files=extra,
                  before_replace=lambda tmp: carry_over(root, tmp))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "datasets")
    ap.add_argument("--small", action="store_true", help="demo-small instead of the full demo")
    ap.add_argument("--metric", default="clipscore_a")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--sample-every", type=float, default=5.0)
    ap.add_argument("--rebuild-steps", type=int, help="optimiser steps of the forced rebuilds (default: the build's)")
    ap.add_argument("--label", help="block heading in BENCHMARKS.md (default: dataset, clients, duration)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()

    from dkmap.builder import build_map
    from dkmap.data.demo.build import build_demo

    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    root = build_demo(args.data, size="small" if args.small else "full", seed=0, progress=False)
    dataset = root.name
    settings = None
    if args.small:
        from conftest import demo_build_settings
        settings = demo_build_settings()
    build_map(root, args.metric, settings=settings, progress=False)   # up to date: a no-op
    if args.rebuild_steps:
        from dataclasses import replace

        from dkmap.config import BuildSettings

        base = settings or BuildSettings()
        settings = replace(base, projection={**base.projection, "steps": args.rebuild_steps})

    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    server_log = open(ROOT / "test-artifacts" / "soak-server.log", "w")
    proc, url = start_server(args.data, DEFAULT_THREADS, log=server_log)
    work = Workload(url, dataset, args.metric)
    stop = threading.Event()
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    errors: Counter = Counter()
    examples: dict[str, str] = {}
    lock = threading.Lock()

    def client(cid: int) -> None:
        rng = np.random.default_rng(cid)
        kinds, weights = list(KINDS), np.array(list(KINDS.values()))
        with requests.Session() as session:
            while not stop.is_set():
                kind = str(rng.choice(kinds, p=weights / weights.sum()))
                method, target, body = work.request(kind, rng)
                t0 = time.perf_counter()
                try:
                    res = session.request(method, target, json=body, timeout=120)
                    status, text = res.status_code, res.text[:200]
                except requests.RequestException as exc:
                    status, text = "connection", str(exc)[:200]
                dt = time.perf_counter() - t0
                with lock:
                    latencies[kind].append(dt)
                    if status != 200:
                        errors[f"{kind} {status}"] += 1
                        examples.setdefault(f"{kind} {status}", text)

    events: list[tuple[float, str, float]] = []
    start = time.perf_counter()

    def changes() -> None:
        plan = [(0.25, "rebuild 1", lambda: build_map(root, args.metric, settings=settings, progress=False, force=True)),
                (0.5, "re-ingest", lambda: reingest(root)),
                (0.75, "rebuild 2", lambda: build_map(root, args.metric, settings=settings, progress=False, force=True))]
        for at, name, run in plan:
            while time.perf_counter() - start < at * args.seconds and not stop.is_set():
                time.sleep(0.2)
            t0 = time.perf_counter()
            run()
            events.append((t0 - start, name, time.perf_counter() - t0))
            print(f"[soak] {name} at {t0 - start:.0f} s took {time.perf_counter() - t0:.1f} s", flush=True)

    rss: list[tuple[float, float]] = []
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    changer = threading.Thread(target=changes, daemon=True)
    for t in threads:
        t.start()
    changer.start()
    try:
        # A change still running finishes under load, and memory is sampled until it has.
        while time.perf_counter() - start < args.seconds or changer.is_alive():
            rss.append((time.perf_counter() - start, rss_mb(proc.pid)))
            time.sleep(args.sample_every)
        changer.join()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=130)
        rss.append((time.perf_counter() - start, rss_mb(proc.pid)))
        proc.terminate()
        proc.wait(timeout=30)
        server_log.close()
    elapsed = time.perf_counter() - start

    every = np.concatenate([np.asarray(v) for v in latencies.values() if v]) * 1000
    n_req, n_err = int(len(every)), int(sum(errors.values()))
    lines = [f"Command: `{' '.join(shlex.quote(a) for a in ['.venv/bin/python', 'scripts/bench_soak.py', *sys.argv[1:]])}`",
             f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d')}; dataset {dataset}, {work.info['n_items']} items, map {args.metric}, "
             f"{args.clients} clients, {elapsed:.0f} s)", "",
             f"- requests: {n_req} ({n_req / elapsed:.1f}/s), errors: {n_err}"
             + (f" ({', '.join(f'{k}: {v}' for k, v in errors.most_common())})" if n_err else ""),
             f"- latency p50 {np.percentile(every, 50):.1f} ms, p99 {np.percentile(every, 99):.1f} ms, "
             f"max {every.max():.0f} ms",
             "- disk changes under load: " + "; ".join(f"{n} at {t:.0f} s ({d:.1f} s)" for t, n, d in events), "",
             "| kind | requests | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for kind, vals in latencies.items():
        if vals:
            v = np.asarray(vals) * 1000
            lines.append(f"| {kind} | {len(v)} | {np.percentile(v, 50):.1f} | {np.percentile(v, 99):.1f} |")
    step = max(1, len(rss) // 12)
    lines += ["", "Server RSS (MiB) over time: " + ", ".join(f"{t:.0f} s: {m:.0f}" for t, m in rss[::step] + [rss[-1]]),
              f"(min {min(m for _, m in rss):.0f}, max {max(m for _, m in rss):.0f})"]
    for k, text in examples.items():
        lines.append(f"- first `{k}` answer: {text!r}")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_block(args.label or f"{dataset}, {args.clients} clients, {args.seconds:.0f} s", body)


def write_block(label: str, body: str) -> None:
    """Replace (or add) the block '### label' in the soak section of BENCHMARKS.md."""
    from benchmarks_md import write_subsection

    write_subsection(SECTION, f"### {label}", body)


if __name__ == "__main__":
    main()
