"""Server cost of thumbnail sprite sheets (issue 20): per sheet, cold (thumbnails decoded and the
WebP encoded: `dkmap.sprites.make_sheet`), from the disk cache (`SheetDisk.read`) and through the
HTTP route with both caches warm (Flask test client), at two zoom levels of a built map, with the
items and bytes per sheet. Writes "### Sprite sheets: server cost per sheet" in the BENCHMARKS.md
section "## Images and Arrow (issue 20)".

    .venv/bin/python scripts/bench_sprites.py --data data/datasets --dataset demo --metric clipscore_diff

The cold and disk timings write to a temporary folder; the HTTP route caches its sheets beside the
build, as `dkmap serve` does.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import write_subsection  # noqa: E402

SECTION = "## Images and Arrow (issue 20)"
SUBSECTION = "### Sprite sheets: server cost per sheet"


def busiest_tiles(built, z: int, count: int) -> list[tuple[int, int]]:
    """The `count` tiles of level z holding the most items (the sheets a user zooming into the map meets)."""
    n = 2 ** z
    cells = np.clip((np.asarray(built.positions) * n).astype(int), 0, n - 1)
    keys, counts = np.unique(cells[:, 0] * n + cells[:, 1], return_counts=True)
    top = keys[np.argsort(-counts)[:count]]
    return [(int(k // n), int(k % n)) for k in top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--zooms", default="3,5", help="zoom levels of the sheets (comma-separated)")
    ap.add_argument("--sheets", type=int, default=12, help="sheets per zoom level")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from dkmap import sprites
    from dkmap.data.store import open_dataset
    from dkmap.maps.built import open_map
    from dkmap.server.app import create_app

    root = args.data / args.dataset
    ds = open_dataset(root)
    built = open_map(root / "maps" / args.metric)
    model = (ds.metrics[args.metric].get("generators") or ds.generators)[0]
    ids = np.asarray(ds.ids)
    client = create_app({"DATA_DIR": str(args.data)}).test_client()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sprites-") as tmp:
        disk = sprites.SheetDisk(Path(tmp), args.metric, built.stamp, model)
        for z in (int(v) for v in args.zooms.split(",")):
            cold, read, http, items, sizes = [], [], [], [], []
            for x, y in busiest_tiles(built, z, args.sheets):
                t0 = time.perf_counter()
                sheet = sprites.make_sheet(ds, built, model, z, x, y, ids)
                cold.append(time.perf_counter() - t0)
                disk.write(sheet)
                t0 = time.perf_counter()
                assert disk.read(z, x, y) is not None
                read.append(time.perf_counter() - t0)
                url = f"/api/maps/{args.dataset}/{args.metric}/sprites/{z}/{x}/{y}"
                assert client.get(url).status_code == 200          # fills the server's caches
                t0 = time.perf_counter()
                assert client.get(f"{url}/image?model={model}").status_code == 200
                http.append(time.perf_counter() - t0)
                items.append(len(sheet.index["rows"]))
                sizes.append(len(sheet.image))
            ms = lambda v, d=0: f"{1000 * np.median(v):.{d}f} / {1000 * max(v):.{d}f}"  # noqa: E731
            rows.append(f"| {z} | {len(cold)} | {np.median(items):.0f} | {np.median(sizes) / 1024:.1f} | {ms(cold)} | "
                        f"{1000 * np.median(cold) / max(1, np.median(items)):.1f} | {ms(read, 1)} | {1000 * np.median(http):.1f} |")
    command = ".venv/bin/python scripts/bench_sprites.py " + shlex.join(
        ["DIR" if prev == "--data" else a for prev, a in zip([""] + sys.argv[1:], sys.argv[1:])])
    body = "\n".join([
        f"Command: `{command}` ({args.dataset}: {ds.n:,} items, map {args.metric}, generator {model}; the "
        f"busiest {args.sheets} tiles of each zoom level; {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.1f} at the end). Cold: `make_sheet` (each image opened, thumbnailed to "
        f"{sprites.CELL} px, pasted, the sheet encoded as WebP); disk: reading the cached sheet and its index "
        "back; HTTP: the image route with the server's caches warm (Flask test client).",
        "",
        "| z | sheets | items per sheet | WebP kB | cold ms, median / max | cold ms per thumbnail | disk read ms, median / max | HTTP warm ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ])
    print(body)
    if not args.no_write:
        write_subsection(SECTION, SUBSECTION, body)


if __name__ == "__main__":
    main()
