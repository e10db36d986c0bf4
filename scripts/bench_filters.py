"""Filters, histograms and export against a real waitress server (issue 19).

Latency (median, p95) of a plain lasso (the baseline, same run), a lasso with filters, the whole
dataset filtered (/selection/ids, first page), a view's histograms under filters and a view's points
with `passes`, at 1 client and at 16 concurrent clients; then the throughput (rows/s) of exporting
the whole dataset as CSV and as Parquet, and the server's peak RSS (VmHWM) before and after.
Filters are drawn from the dataset's own columns (a metric range, split, the first category values,
a boolean, a time range, a prompt substring), so any built dataset works.

    .venv/bin/python scripts/bench_filters.py --data <DATA_DIR> --dataset demo-small --metric clipscore_a \\
        --label "demo-small"
    .venv/bin/python scripts/bench_filters.py --data /tmp/filters1m --dataset synth1m --metric clip_a \\
        --make-synthetic 1000000 --label "1M synthetic"

`--make-synthetic N` first writes and builds scripts/load_test.py's synthetic corpus with metadata
columns of every kind (number with missing values, category, boolean, time, text). `--make-sharded N`
writes a sharded dataset with such columns and varied prompts and builds it on Dask
(scripts/bench_dask.py `write_and_build_rich`; reused when built), for sizes beyond one table:

    .venv/bin/python scripts/bench_filters.py --data /tmp/rich --dataset rich_20000000 --metric clipscore \
        --make-sharded 20000000 --label "20M sharded"
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import threading
import time
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from load_test import make_synthetic, start_server  # noqa: E402
import load_test  # noqa: E402
from dkmap.distributed.synthetic import metadata_columns  # noqa: E402  (the sharded corpus's own columns)

SECTION = "## Filters and export (issue 19)"
KINDS = ("lasso", "lasso_filtered", "dataset_filtered", "dataset_new_filters", "histograms", "points_passes")


def pick_filters(base: str, dataset: dict, metric: str) -> list[dict]:
    """A filter per kind of column the dataset has, each keeping a good part of the items."""
    hist = requests.post(base + "/histograms", json={"bins": 4}, timeout=300).json()
    out = []
    for col in hist["columns"]:
        if col["kind"] in ("number", "time") and col["name"] in (metric, "guidance", "made"):
            e = col["edges"]
            out.append({"column": col["name"], "range": [e[1], e[4]]})
        elif col["name"] == "split":
            out.append({"column": "split", "in": ["train"]})
        elif col["kind"] == "category":
            out.append({"column": col["name"], "in": col["values"][:6], "other": True})
        elif col["kind"] == "boolean":
            out.append({"column": col["name"], "in": [False, None]})
    out.append({"column": "prompt", "contains": "a"})
    return out


def polygon(ax: float, ay: float, rng: np.random.Generator) -> list:
    k = int(rng.integers(8, 65))
    r = float(rng.uniform(0.02, 0.15))
    t = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 1)
    poly = np.column_stack([ax + r * np.cos(t) * rng.uniform(0.6, 1.0, k), ay + r * np.sin(t) * rng.uniform(0.6, 1.0, k)])
    return poly.round(6).tolist()


def request(base: str, kind: str, anchors: np.ndarray, filters: list, rng: np.random.Generator):
    import json

    ax, ay = anchors[rng.integers(len(anchors))]
    half = 0.1
    bbox = [ax - half, ay - half, ax + half, ay + half]
    if kind == "lasso":
        return "POST", base + "/selection", {"polygon": polygon(ax, ay, rng)}, None
    if kind == "lasso_filtered":
        return "POST", base + "/selection", {"polygon": polygon(ax, ay, rng), "filters": filters}, None
    if kind == "dataset_filtered":
        # Several filter lists, so the whole-dataset mask cache does not answer every request.
        chosen = filters[: int(rng.integers(1, len(filters) + 1))]
        return "POST", base + "/selection/ids", {"filters": chosen, "limit": 1000}, None
    if kind == "dataset_new_filters":
        # Every filter with the first range drawn afresh: a list no request asked before, so the
        # whole-dataset mask of each filter is computed (what a user moving a brush costs).
        k = next(i for i, f in enumerate(filters) if "range" in f)
        lo, hi = filters[k]["range"]
        a, b = np.sort(rng.uniform(lo, hi, 2))
        fresh = [*filters[:k], {**filters[k], "range": [float(a), float(b) + 1e-6]}, *filters[k + 1:]]
        return "POST", base + "/selection/ids", {"filters": fresh, "limit": 1000}, None
    if kind == "histograms":
        return "POST", base + "/histograms", {"bbox": bbox, "filters": filters}, None
    return "GET", base + "/points", None, {"z": 3, "bbox": ",".join(f"{v:.6f}" for v in bbox),
                                          "filters": json.dumps(filters)}


def run_phase(base: str, anchors, filters, clients: int, per_kind: int, seed: int) -> dict:
    lat = {k: [] for k in KINDS}
    errors: list[str] = []
    lock = threading.Lock()
    jobs = [k for k in KINDS for _ in range(per_kind)]
    np.random.default_rng(seed).shuffle(jobs)
    it = iter(jobs)

    def client(cid: int) -> None:
        rng = np.random.default_rng(seed * 100 + cid)
        session = requests.Session()
        while True:
            with lock:
                kind = next(it, None)
            if kind is None:
                return
            method, url, body, params = request(base, kind, anchors, filters, rng)
            t0 = time.perf_counter()
            r = session.request(method, url, json=body, params=params, timeout=600)
            r.content  # noqa: B018
            dt = time.perf_counter() - t0
            with lock:
                lat[kind].append(dt)
                if r.status_code != 200:
                    errors.append(f"{kind}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat": lat, "errors": errors}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export_run(base: str, fmt: str, pid: int) -> tuple[int, float, float, float]:
    """(bytes, seconds, server peak RSS MB after) of exporting the whole dataset."""
    t0 = time.perf_counter()
    size = 0
    with requests.post(base + "/export", params={"format": fmt}, json={}, stream=True, timeout=3600) as r:
        r.raise_for_status()
        for piece in r.iter_content(1 << 20):
            size += len(piece)
    return size, time.perf_counter() - t0, peak_rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--make-synthetic", type=int, metavar="N")
    parser.add_argument("--make-sharded", type=int, metavar="N")
    parser.add_argument("--per-kind", type=int, default=20, help="requests of each kind per phase")
    parser.add_argument("--threads", type=int, default=16, help="waitress threads")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    if args.make_synthetic:
        t0 = time.perf_counter()
        make_synthetic(args.data / args.dataset, args.make_synthetic, columns=metadata_columns(args.make_synthetic, 0, 1))
        print(f"wrote and built {args.make_synthetic:,} items in {time.perf_counter() - t0:.0f} s", flush=True)
    made = None
    if args.make_sharded:
        from bench_dask import write_and_build_rich

        made = write_and_build_rich(args.data / args.dataset, args.make_sharded)
        print(f"sharded dataset: {made}", flush=True)
    proc, url = start_server(args.data, args.threads)
    try:
        base = f"{url}/api/maps/{args.dataset}/{args.metric}"
        ds = next(d for d in requests.get(url + "/api/datasets", timeout=120).json()["datasets"] if d["name"] == args.dataset)
        pts = requests.get(base + "/points", params={"z": 4, "sampling": "random", "limit": 20000}, timeout=300).json()
        anchors = np.column_stack([pts["points"]["x"], pts["points"]["y"]])
        filters = pick_filters(base, ds, args.metric)
        phases = {c: run_phase(base, anchors, filters, c, args.per_kind, seed=c) for c in (1, 16)}
        rss_start = peak_rss_mb(proc.pid)
        lines = ["", f"Command: `.venv/bin/python scripts/bench_filters.py {shlex.join(sys.argv[1:])}`"
                 + (f" (writing the shards took {made['ingest']:.0f} s, the Dask build {made['build']:.0f} s)"
                    if made and made["ingest"] is not None else ""), "",
                 f"{ds['n_items']:,} items, map `{args.metric}`; waitress with {args.threads} threads; "
                 f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}. Filters "
                 f"({len(filters)}): `{filters}`. {args.per_kind} requests of each kind per phase; "
                 "lassos drawn as scripts/load_test.py draws them, views 0.2 wide around an item.", "",
                 "| request | 1 client median ms | p95 ms | 16 clients median ms | p95 ms |",
                 "|---|---:|---:|---:|---:|"]
        for kind in KINDS:
            cells = []
            for c in (1, 16):
                v = np.array(phases[c]["lat"][kind]) * 1000
                cells += [f"{np.median(v):.1f}", f"{np.percentile(v, 95):.1f}"]
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        errors = phases[1]["errors"] + phases[16]["errors"]
        lines += ["", f"Errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else "") + "."]
        if not args.no_export:
            lines += ["", f"Export of the whole dataset ({ds['n_items']:,} rows); server peak RSS {rss_start:.0f} MB "
                      "after the latency phases:", "",
                      "| format | seconds | rows/s | MB | server peak RSS after, MB |", "|---|---:|---:|---:|---:|"]
            for fmt in ("csv", "parquet"):
                size, secs, rss = export_run(base, fmt, proc.pid)
                lines.append(f"| {fmt} | {secs:.1f} | {ds['n_items'] / secs:,.0f} | {size / 1e6:.1f} | {rss:.0f} |")
        body = "\n".join(lines)
        print(body)
        if not args.no_write:
            load_test.SECTION = SECTION
            load_test.write_block(args.label, body)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
