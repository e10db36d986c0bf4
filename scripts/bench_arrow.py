"""JSON vs Arrow answers of /points in one run: bytes, server time, and Python decode time per answer.

    .venv/bin/python scripts/bench_arrow.py --data /tmp/images_bench/data --dataset big1m --metric clip_a
"""

from __future__ import annotations

import argparse
import json
import time

from dkmap.server.app import create_app
from dkmap.server.arrow import ARROW_STREAM, read_stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--bbox", default="0,0,0.5,0.5")
    args = ap.parse_args()
    client = create_app({"DATA_DIR": args.data}).test_client()
    url = f"/api/maps/{args.dataset}/{args.metric}/points?sampling=all&limit=200000&bbox={args.bbox}"
    client.get(url)  # builds the indexes
    client.get(url, headers={"Accept": ARROW_STREAM})  # converts the ids to Arrow once
    for name, headers, decode in [("JSON", {}, json.loads), ("Arrow", {"Accept": ARROW_STREAM}, read_stream)]:
        t0 = time.perf_counter()
        data = client.get(url, headers=headers).data
        served = time.perf_counter() - t0
        t0 = time.perf_counter()
        decode(data)
        decoded = time.perf_counter() - t0
        print(f"| {name} | {len(data):,} | {served * 1000:.0f} | {decoded * 1000:.0f} |")


if __name__ == "__main__":
    main()
