"""Benchmark: `dkmap ingest` of a long Parquet table with the images inside it (the Hugging Face
`Image` struct of bytes and path), sharded like a hub dataset, at 100k rows (the baseline) and 1M rows
in the same run. Prints rows/s and the ingest process's peak RSS for each, and their ratios.

The table is one row per prompt × generator (two generators, so N rows are N/2 items), tiny PNGs
(a pool of distinct 8×8 images, cycled), two score columns, 16-d supplied embeddings. Prompts repeat
(--distinct-prompts of them): MiniLM encodes each distinct prompt once at ~170 prompts/s per core, so
a table of 500k distinct prompts is a matter of the encoder's speed, not of ingest's.

    .venv/bin/python scripts/bench_ingest.py                 # 100k baseline, then 1M
    .venv/bin/python scripts/bench_ingest.py --sizes 20000   # a quick look
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARD_ROWS = 250_000
ROW_GROUP = 1_000   # the size hub image datasets use, roughly
DIM = 16
SUBJECTS = ["a cat", "a castle", "a bowl of fruit", "a robot", "a lighthouse", "a dragon", "a forest path"]
STYLES = ["in watercolour", "as a pencil sketch", "at sunset", "in neon light", "in the snow", "as a mosaic"]


def png_pool(size: int = 1024) -> list[bytes]:
    from PIL import Image

    out = []
    for k in range(size):
        img = Image.new("RGB", (8, 8), ((37 * k) % 256, (91 * k) % 256, (53 * k) % 256))
        img.putpixel((k % 8, (k // 8) % 8), (255, 255, 255))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def write_fixture(folder: Path, n_rows: int, distinct_prompts: int, seed: int = 0) -> tuple[Path, Path, int]:
    """Parquet shards train-0000k-of-0000m.parquet, text.npy and image.npy; returns their paths and the
    bytes of images the table holds."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    n_ids = n_rows // 2
    pool = png_pool()
    prompts = [f"{SUBJECTS[k % len(SUBJECTS)]} {STYLES[(k // len(SUBJECTS)) % len(STYLES)]} no. {k}"
               for k in range(distinct_prompts)]
    prompt_of_id = rng.integers(0, distinct_prompts, n_ids)
    prompt_vec = rng.normal(size=(distinct_prompts, DIM)).astype(np.float32)
    text = np.repeat(prompt_vec[prompt_of_id], 2, axis=0)
    image = (text + rng.normal(size=text.shape).astype(np.float32)).astype(np.float32)
    np.save(folder / "text.npy", text)
    np.save(folder / "image.npy", image)
    cos = (text * image).sum(1) / np.linalg.norm(text, axis=1) / np.linalg.norm(image, axis=1)
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    n_shards = max(1, -(-n_rows // SHARD_ROWS))
    image_bytes = 0
    for k in range(n_shards):
        lo, hi = k * SHARD_ROWS, min(n_rows, (k + 1) * SHARD_ROWS)
        rows = np.arange(lo, hi)
        ids = rows // 2
        cells = [pool[r % len(pool)] for r in rows]
        image_bytes += sum(map(len, cells))
        table = pa.table({
            "id": pa.array([f"p{i:07d}" for i in ids]),
            "prompt": pa.array([prompts[prompt_of_id[i]] for i in ids]),
            "generator": pa.array(np.where(rows % 2 == 0, "left", "right")),
            "image": pa.StructArray.from_arrays([pa.array(cells, pa.binary()), pa.nulls(len(rows), pa.string())],
                                                fields=list(struct)),
            "hpsv2": 0.2 + 0.1 * cos[lo:hi],
            "pickscore": 20 + 2 * cos[lo:hi] + rng.normal(scale=0.1, size=len(rows)),
        })
        pq.write_table(table, folder / f"train-{k:05d}-of-{n_shards:05d}.parquet", row_group_size=ROW_GROUP)
    return folder / f"train-*-of-{n_shards:05d}.parquet", folder, image_bytes


def run_ingest(pattern: Path, fixture: Path, out: Path) -> tuple[float, int, str]:
    """Wall seconds and peak RSS (bytes) of one `dkmap ingest` process, and its last output line."""
    cmd = [sys.executable, "-m", "dkmap.cli", "-q", "ingest", "--table", str(pattern),
           "--text-emb", str(fixture / "text.npy"), "--image-emb", str(fixture / "image.npy"),
           "--metric", "hpsv2:HPS v2:higher", "--metric", "pickscore:PickScore:higher", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "backend"), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = out.parent / "ingest.log"
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = log.read_text().strip().splitlines()
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}): {' | '.join(lines[-5:])}")
    return seconds, usage.ru_maxrss * 1024, lines[-1] if lines else ""


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma list of row counts; the first is the baseline")
    ap.add_argument("--distinct-prompts", type=int, default=2000)
    ap.add_argument("--workdir", type=Path, help="where fixtures and datasets go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the fixtures and datasets")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="dkmap-bench-ingest-", dir=args.workdir))
    results = []
    try:
        for n in sizes:
            t0 = time.perf_counter()
            pattern, fixture, image_bytes = write_fixture(work / f"fixture-{n}", n, args.distinct_prompts)
            made = time.perf_counter() - t0
            (work / f"out-{n}").mkdir()
            out = work / f"out-{n}" / "bench"
            seconds, rss, last = run_ingest(pattern, fixture, out)
            results.append((n, seconds, rss, image_bytes, folder_bytes(out / "images")))
            print(f"{n:>9,} rows: fixture {made:.0f} s; {last}", flush=True)
            if not args.keep:
                shutil.rmtree(work / f"fixture-{n}")
                shutil.rmtree(work / f"out-{n}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base_n, base_s, base_rss = results[0][:3]
    print(f"\n{'rows':>9} {'items':>9} {'seconds':>8} {'rows/s':>8} {'peak RSS':>9} {'image bytes':>11} "
          f"{'vs base: rows/s':>15} {'RSS':>6} {'rows':>6}")
    for n, seconds, rss, image_bytes, _ in results:
        rate, base_rate = n / seconds, base_n / base_s
        print(f"{n:>9,} {n // 2:>9,} {seconds:>8.1f} {rate:>8,.0f} {rss / 2**20:>7,.0f} MB {image_bytes / 2**20:>8,.0f} MB "
              f"{rate / base_rate:>14.2f}× {rss / base_rss:>5.2f}× {n / base_n:>5.1f}×")


if __name__ == "__main__":
    main()
