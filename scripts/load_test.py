"""Load test of the API server: 16 concurrent clients mixing contour tiles, points and lassos.

Starts `dkmap.server.serve` (waitress, 8 threads) in a subprocess on 127.0.0.1 over --data, or
uses --url (loopback addresses only). Bounded in count (--requests) and time (--seconds).
Baseline in the same run: one sequential client on the same server, before the concurrent phase.
Writes p50/p99 latencies per request kind into the block "### <label>" of the BENCHMARKS.md
section "## API server (issue 6)".

    .venv/bin/python scripts/load_test.py --data data/datasets --dataset demo --metric clipscore_a \
        --label "demo corpus"
    .venv/bin/python scripts/load_test.py --data /tmp/big --dataset big1m --metric score --label "1M-item build"
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## API server (issue 6)"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
KINDS = ("tile", "tile_deep", "points", "points_all", "selection")
MIX = {"tile": 0.45, "tile_deep": 0.05, "points": 0.25, "points_all": 0.05, "selection": 0.20}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data: Path, threads: int, log=None) -> tuple[subprocess.Popen, str]:
    """`serve(data)` in a subprocess on a free loopback port; waits until it answers.
    log: an open file for the server's output (default: this process's stdout and stderr)."""
    port = free_port()
    code = (f"import logging; logging.basicConfig(level=logging.WARNING); "
            f"logging.getLogger('waitress.queue').setLevel(logging.ERROR); from dkmap.server.serve import serve; "
            f"serve({str(data)!r}, host='127.0.0.1', port={port}, threads={threads})")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=log,
                            stderr=None if log is None else subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            if requests.get(url + "/api/datasets", timeout=30).ok:
                return proc, url
        except requests.RequestException:  # not listening yet, or still opening the datasets
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not answer within 120 s")


class Workload:
    """Random requests drawn around item positions, so views and lassos hit data."""

    def __init__(self, url: str, dataset: str, metric: str, seed: int) -> None:
        self.base = f"{url}/api/maps/{dataset}/{metric}"
        info = requests.get(self.base, timeout=60)
        info.raise_for_status()
        self.info = info.json()
        pts = requests.get(self.base + "/points", params={"z": self.info["sampling"]["max_level"],
                                                          "sampling": "random", "limit": 20000}, timeout=120)
        pts.raise_for_status()
        p = pts.json()["points"]
        self.anchors = np.column_stack([p["x"], p["y"]])
        self.seed = seed

    def request(self, kind: str, rng: np.random.Generator) -> tuple[str, str, dict | None]:
        """(method, url, json body) of one request of `kind`."""
        ax, ay = self.anchors[rng.integers(len(self.anchors))]
        max_level = self.info["max_level"]
        pre = max(1, int(self.info.get("precomputed_levels") or max_level + 1))
        if kind in ("tile", "tile_deep"):
            z = int(rng.integers(0, min(pre, max_level + 1))) if kind == "tile" or pre > max_level else \
                int(rng.integers(pre, max_level + 1))
            n = 1 << z
            x, y = min(int(ax * n), n - 1), min(int(ay * n), n - 1)
            return "GET", f"{self.base}/contour/{z}/{x}/{y}", None
        if kind in ("points", "points_all"):
            z = int(rng.integers(0, max_level + 1))
            half = 0.5 / (1 << z) * 2.0  # a viewport about two tiles wide
            bbox = f"{ax - half:.6f},{ay - half:.6f},{ax + half:.6f},{ay + half:.6f}"
            sampling = "all" if kind == "points_all" else str(rng.choice(["bluenoise", "random"]))
            return "GET", f"{self.base}/points?z={z}&bbox={bbox}&sampling={sampling}", None
        k = int(rng.integers(8, 65))
        r = float(rng.uniform(0.02, 0.15))
        t = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 1)
        poly = np.column_stack([ax + r * np.cos(t) * rng.uniform(0.6, 1.0, k),
                                ay + r * np.sin(t) * rng.uniform(0.6, 1.0, k)])
        return "POST", f"{self.base}/selection", {"polygon": poly.round(6).tolist()}


WORDS = {
    "colour": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown"],
    "object": ["cat", "dog", "car", "house", "tree", "boat", "robot", "guitar", "teapot", "castle",
               "bicycle", "owl", "lamp", "chair", "rocket", "flower", "horse", "clock", "bridge", "whale"],
    "place": ["on a beach", "in a forest", "in space", "under water", "in a city", "on a mountain",
              "in a kitchen", "in the desert", "at night", "in the snow"],
    "style": ["photo", "oil painting", "pencil sketch", "3d render", "watercolour"],
}


SYNTHETIC_BUILD = {"epochs": 2, "train_max": 10_000, "refine_val_max": 200}


def make_synthetic(out: Path, n: int, dim: int = 32, seed: int = 0, build: bool = True, columns=None) -> Path:
    """Write an n-item dataset (metric `clip_a`) for load tests, then build its map with the real pipeline.
    `columns`: metadata columns (a DataFrame with a row per item) stored with it.

    Prompts come from a 10 000-phrase grammar (their MiniLM embeddings computed once each); text and
    image vectors follow the prompt's words, so the metric varies smoothly over the map."""
    import io

    import pandas as pd
    from PIL import Image

    from dkmap.data.encoders import embed_prompts_minilm
    from dkmap.data.store import write_dataset

    rng = np.random.default_rng(seed)
    combos = [(c, o, p, s) for c in WORDS["colour"] for o in WORDS["object"] for p in WORDS["place"]
              for s in WORDS["style"]]
    phrases = [f"a {s} of a {c} {o} {p}" for c, o, p, s in combos]
    word_vec = {w: rng.normal(size=dim) for words in WORDS.values() for w in words}
    semantic = np.stack([sum(word_vec[w] for w in combo) for combo in combos])
    # Items cluster on a few hundred phrases, as real prompt sets do.
    pick = np.minimum(rng.zipf(1.3, size=n) - 1, len(phrases) - 1)
    pick = rng.permutation(len(phrases))[pick]
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    text = unit(semantic[pick] + 0.5 * rng.normal(size=(n, dim)))
    noise = rng.uniform(0.3, 2.0, size=(len(phrases), 1))[pick]
    image = unit(semantic[pick] + noise * rng.normal(size=(n, dim)))
    minilm_unique = embed_prompts_minilm(phrases).astype(np.float16)
    images = {}
    for i in range(16):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), tuple(int(v) for v in rng.integers(0, 255, 3))).save(buf, format="PNG")
        images[f"a/{i:02d}.png"] = buf.getvalue()
    items = pd.DataFrame({
        "id": [f"s{i:07d}" for i in range(n)],
        "prompt": np.asarray(phrases, dtype=object)[pick],
        "split": np.where(rng.random(n) < 0.9, "train", "test"),
        "image_a": [f"a/{i % 16:02d}.png" for i in range(n)],
        "clip_a": 100.0 * (text * image).sum(axis=1),
    })
    write_dataset(out, name=out.name, description=f"synthetic {n}-item load-test corpus", items=items,
                  embeddings={"text": text, "image_a": image, "minilm": minilm_unique[pick]},
                  image_sources=images, generators=["a"],
                  metrics={"clip_a": {"description": "100·cos(text, image)", "unit": "100·cos",
                                      "generators": ["a"], "kind": "score"}}, columns=columns)
    if build:
        from dkmap.builder import build_map

        # Cheap projection settings: serving cost does not depend on the map's quality.
        build_map(out, "clip_a", settings=SYNTHETIC_BUILD, progress=True)
    return out


def first_deep_tiles(work: Workload, rng: np.random.Generator) -> dict[int, float]:
    """Seconds of one tile per level computed on demand (not stored), near an item, deepest last."""
    pre = int(work.info.get("precomputed_levels") or work.info["max_level"] + 1)
    seconds = {}
    for z in range(pre, work.info["max_level"] + 1):
        ax, ay = work.anchors[rng.integers(len(work.anchors))]
        n = 1 << z
        t0 = time.perf_counter()
        r = requests.get(f"{work.base}/contour/{z}/{min(int(ax * n), n - 1)}/{min(int(ay * n), n - 1)}",
                         timeout=600)
        if r.status_code != 200:
            raise SystemExit(f"warm-up deep tile at level {z} failed: {r.status_code} {r.text[:200]}")
        seconds[z] = time.perf_counter() - t0
    return seconds


def run_phase(work: Workload, clients: int, max_requests: int, seconds: float, seed: int) -> dict:
    """Run `clients` threads until `max_requests` are done or `seconds` pass; collect latencies."""
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + seconds
    kinds, weights = list(MIX), np.array(list(MIX.values()))

    def client(cid: int) -> None:
        rng = np.random.default_rng(seed * 1000 + cid)
        session = requests.Session()
        while time.perf_counter() < deadline:
            with lock:
                if next(counter, None) is None:
                    return
            kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
            method, url, body = work.request(kind, rng)
            t0 = time.perf_counter()
            try:
                r = session.request(method, url, json=body, timeout=120)
                r.content  # noqa: B018 - read the whole body
                ok = r.status_code == 200
                why = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                ok, why = False, repr(exc)
            dt = time.perf_counter() - t0
            with lock:
                lat[kind].append(dt)
                if not ok:
                    errors.append(f"{kind} {url}: {why}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"lat": lat, "errors": errors, "wall": wall, "n": sum(len(v) for v in lat.values())}


def table(phase: dict) -> list[str]:
    rows = ["| request | count | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for kind in KINDS + ("all",):
        vals = np.array(sum(phase["lat"].values(), []) if kind == "all" else phase["lat"].get(kind, []))
        if len(vals) == 0:
            continue
        p50, p99 = np.percentile(vals, [50, 99]) * 1000
        rows.append(f"| {kind} | {len(vals)} | {p50:.1f} | {p99:.1f} | {vals.max() * 1000:.1f} |")
    return rows


def write_block(label: str, body: str) -> None:
    """Replace (or add) the block '### label' inside this script's section of BENCHMARKS.md."""
    from benchmarks_md import write_subsection

    write_subsection(SECTION, f"### {label}", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="DATA_DIR to serve (a server subprocess is started)")
    parser.add_argument("--url", help="an already running server (loopback only)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000, help="at most this many concurrent-phase requests")
    parser.add_argument("--seconds", type=float, default=120.0, help="at most this long per phase")
    parser.add_argument("--baseline-requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=32, help="waitress worker threads (serve's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default=None, help="block title in BENCHMARKS.md (default: dataset/metric)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--make-synthetic", type=int, metavar="N",
                        help="first write an N-item dataset named --dataset under --data and build its map")
    args = parser.parse_args()
    if args.make_synthetic:
        if args.data is None:
            parser.error("--make-synthetic needs --data")
        started = time.perf_counter()
        make_synthetic(args.data / args.dataset, args.make_synthetic)
        print(f"wrote and built {args.make_synthetic} items in {time.perf_counter() - started:.0f} s")
    if (args.data is None) == (args.url is None):
        parser.error("give exactly one of --data or --url")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error(f"--url must be a loopback address ({', '.join(sorted(LOOPBACK))}), got {args.url}")
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 100_000 or not 0 < args.seconds <= 1800:
        parser.error("bounds: 1 <= clients <= 64, 1 <= requests <= 100000, 0 < seconds <= 1800")

    proc = None
    url = args.url
    if args.data is not None:
        proc, url = start_server(args.data.resolve(), args.threads)
    try:
        work = Workload(url, args.dataset, args.metric, args.seed)
        n_items = work.info["n_items"]
        print(f"{args.dataset}/{args.metric}: {n_items} items, tile {work.info['tile_size']}, "
              f"levels 0..{work.info['max_level']} (precomputed {work.info.get('precomputed_levels')})")
        # Warm-up, not measured: the first lasso loads KeyBERT/MiniLM, the first lookups open the map.
        warm = run_phase(work, 1, 20, args.seconds, args.seed + 99)
        if warm["errors"]:
            raise SystemExit(f"warm-up failed: {warm['errors'][0]}")
        first_deep = first_deep_tiles(work, np.random.default_rng(args.seed + 98))
        load_before = os.getloadavg()[0]
        base = run_phase(work, 1, args.baseline_requests, args.seconds, args.seed)
        load = run_phase(work, args.clients, args.requests, args.seconds, args.seed + 1)
        load_after = os.getloadavg()[0]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    cmd = "python scripts/load_test.py " + shlex.join(sys.argv[1:])
    lines = [
        f"{n_items:,} items, metric `{args.metric}`, tile size {work.info['tile_size']}, "
        f"levels 0..{work.info['max_level']} ({work.info.get('precomputed_levels')} precomputed). "
        f"{platform.machine()}, {os.cpu_count()} CPU cores, waitress {args.threads} threads; "
        f"request mix {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())} (tile_deep: levels computed on demand). "
        f"Machine load average (1 min) {load_before:.1f} before the baseline, {load_after:.1f} after the "
        f"concurrent phase (other work shares the machine).",
        "", f"Command: `{cmd}`", "",
        "Latencies are client-side wall times over loopback, after 20 unmeasured warm-up requests "
        "(the first lasso loads the keyword model) and one deep tile per deep level (its far-field "
        "grid is computed once per level, as the first user to zoom there would wait for it). Tiles "
        "are cached by the server once served.", "",
        "First deep tile of each level, s: " + (", ".join(f"z={z} {t:.2f}" for z, t in first_deep.items())
                                                 or "no deep levels"), "",
        f"Baseline, 1 sequential client: {base['n']} requests in {base['wall']:.1f} s "
        f"({base['n'] / base['wall']:.1f} req/s), {len(base['errors'])} errors.", "",
        *table(base), "",
        f"{args.clients} concurrent clients: {load['n']} requests in {load['wall']:.1f} s "
        f"({load['n'] / load['wall']:.1f} req/s), {len(load['errors'])} errors.", "",
        *table(load),
    ]
    body = "\n".join(lines)
    print(body)
    for err in (base["errors"] + load["errors"])[:10]:
        print("ERROR", err, file=sys.stderr)
    if not args.no_write:
        write_block(args.label or f"{args.dataset}/{args.metric}", body)
        print(f"\nwrote '### {args.label or args.dataset}' in section '{SECTION}' of BENCHMARKS.md")
    if base["errors"] or load["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
