"""Scattered row reads from a memory-mapped embedding store, cold: the kernel's default read-around
against random access advised, and against that plus several reads in flight (dkmap.data.gather).

Each way runs in a fresh process after the page cache is dropped (needs root; otherwise fresh rows
per repeat and a warning), reading the rows a lasso's sample would: `--rows` sorted random rows.

    .venv/bin/python scripts/bench_gather.py --dataset /tmp/serve_bench/sharded_20000000 --space minilm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # benchmarks_md
from benchmarks_md import write_section  # noqa: E402

SECTION = "## Scattered row reads (lasso samples, issue 9)"
WAYS = {"default": "kernel default (read-around)", "random": "MADV_RANDOM, one read at a time",
        "random+threads": "MADV_RANDOM, 8 reads in flight (gather_rows)"}


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_way(dataset: Path, space: str, way: str, n_rows: int, repeats: int, seed: int) -> list[dict]:
    """Run in a child process: time `repeats` reads of `n_rows` rows, with bytes read from disk."""
    import numpy as np

    from dkmap.data.gather import gather_rows, prepare_for_scattered_reads
    from dkmap.data.store import open_dataset

    store = open_dataset(dataset).embedding(space)
    if way != "default":
        prepare_for_scattered_reads(store, memory_bytes=0)  # as for a store larger than memory

    def disk_bytes() -> int:
        return int(Path(f"/proc/{os.getpid()}/io").read_text().split("read_bytes: ")[1].split()[0])

    out = []
    for r in range(repeats):
        rows = np.sort(np.random.default_rng(seed + r).choice(len(store), n_rows, replace=False))
        before, t0 = disk_bytes(), time.perf_counter()
        got = gather_rows(store, rows) if way == "random+threads" else np.asarray(store[rows])
        out.append({"seconds": time.perf_counter() - t0, "read_mb": (disk_bytes() - before) / 1e6,
                    "shape": list(got.shape)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        way, seed = args.child.split(":")
        print(json.dumps(one_way(args.dataset, args.space, way, args.rows, args.repeats, int(seed))))
        return

    rows, dropped_all = [], True
    for i, way in enumerate(WAYS):
        dropped_all &= drop_caches()
        child = subprocess.run([sys.executable, __file__, "--dataset", str(args.dataset), "--space", args.space,
                                "--rows", str(args.rows), "--repeats", str(args.repeats),
                                "--child", f"{way}:{1000 * (i + 1)}"],
                               capture_output=True, text=True, check=True, cwd=ROOT)
        runs = json.loads(child.stdout.strip().splitlines()[-1])
        first, rest = runs[0], runs[1:]
        rows.append(f"| {WAYS[way]} | {first['seconds']:.2f} s / {first['read_mb']:,.0f} MB | "
                    + (" · ".join(f"{r['seconds']:.2f} s / {r['read_mb']:,.0f} MB" for r in rest) or "–") + " |")
    from dkmap.data.store import open_dataset

    store = open_dataset(args.dataset).embedding(args.space)
    size_gb = store.shape[0] * store.shape[1] * store.dtype.itemsize / 1e9
    body = "\n".join([
        "", f"Command: `.venv/bin/python scripts/bench_gather.py {' '.join(sys.argv[1:])}`", "",
        f"Store: `{args.space}` of `{args.dataset.name}`, {store.shape[0]:,} × {store.shape[1]} {store.dtype} "
        f"({size_gb:.1f} GB); {args.rows:,} sorted random rows per read (a lasso's sample); "
        f"{os.cpu_count()} CPU cores; page cache "
        + ("dropped before each way" if dropped_all else "NOT dropped (not root): figures are not cold") + ".", "",
        "| reads | first read (seconds / MB from disk) | further reads, fresh rows |", "|---|---|---|", *rows, "",
    ])
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
