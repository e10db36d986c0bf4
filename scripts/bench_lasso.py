"""Lasso polygon test on a built map: every item in the polygon's bounding box tested (the baseline,
what the server did before) against the grid index testing only the cells along the boundary
(`PointIndex.in_polygon`). Same polygons as scripts/load_test.py's lassos, same answers checked.

    .venv/bin/python scripts/bench_lasso.py --dataset /tmp/serve_bench/sharded_20000000 --metric clipscore
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # benchmarks_md
from benchmarks_md import write_section  # noqa: E402

SECTION = "## Lasso polygon test (issue 9)"


def load_test_polygon(anchor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lasso as scripts/load_test.py draws one: 8–64 vertices, radius 0.02–0.15 around an item."""
    k = int(rng.integers(8, 65))
    r = float(rng.uniform(0.02, 0.15))
    t = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 1)
    return np.column_stack([anchor[0] + r * np.cos(t) * rng.uniform(0.6, 1.0, k),
                            anchor[1] + r * np.sin(t) * rng.uniform(0.6, 1.0, k)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--polygons", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from dkmap.geometry import points_in_polygon
    from dkmap.maps.point_index import PointIndex

    positions = np.load(args.dataset / "maps" / args.metric / "positions.npy")
    t0 = time.perf_counter()
    index = PointIndex(positions)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    anchors = positions[rng.integers(len(positions), size=args.polygons)]
    baseline, ours, sizes = [], [], []
    for anchor in anchors:
        polygon = load_test_polygon(anchor, rng)
        t0 = time.perf_counter()
        lo, hi = polygon.min(axis=0), polygon.max(axis=0)
        cand = index.in_bbox((float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
        want = np.sort(cand[points_in_polygon(np.asarray(positions[cand], dtype=np.float64), polygon)])
        baseline.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        got = index.in_polygon(polygon)
        ours.append(time.perf_counter() - t0)
        if not np.array_equal(np.sort(got), want):
            raise SystemExit(f"in_polygon differs from testing every item for polygon {polygon.tolist()}")
        sizes.append(len(want))
    sizes, baseline, ours = np.array(sizes), np.array(baseline) * 1000, np.array(ours) * 1000
    big = sizes >= np.median(sizes)
    body = "\n".join([
        "", f"Command: `.venv/bin/python scripts/bench_lasso.py {' '.join(sys.argv[1:])}`", "",
        f"{len(positions):,} items (`{args.dataset.name}`, map `{args.metric}`), grid index 256² built in "
        f"{build_s:.1f} s; {args.polygons} lassos drawn as scripts/load_test.py draws them (selecting "
        f"{sizes.min():,}–{sizes.max():,} items, median {int(np.median(sizes)):,}); both ways give the same items "
        f"for every lasso; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}.", "",
        "| polygon test | median ms | larger half median ms | max ms |", "|---|---:|---:|---:|",
        f"| every item in the bounding box (baseline) | {np.median(baseline):.1f} | {np.median(baseline[big]):.1f} | "
        f"{baseline.max():.1f} |",
        f"| `PointIndex.in_polygon`: items tested only in boundary cells (each item when the box holds ≤ 50k) | "
        f"{np.median(ours):.1f} | "
        f"{np.median(ours[big]):.1f} | {ours.max():.1f} |", "",
    ])
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
