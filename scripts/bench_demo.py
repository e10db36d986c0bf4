"""Benchmark of the demo build (issue 3): first build, reuse, small build, render baseline, report.

Writes the section "## Demo corpus (issue 3)" of BENCHMARKS.md. Usage:
    .venv/bin/python scripts/bench_demo.py [--data DIR] [--skip-full] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from dkmap.data.demo.build import build_demo  # noqa: E402
from dkmap.data.demo.corpus import render_many  # noqa: E402
from dkmap.data.demo.grammar import sample_prompts  # noqa: E402
from dkmap.data.demo.report import demo_report, format_report  # noqa: E402

from benchmarks_md import write_section  # noqa: E402  (scripts/ is on sys.path)

SECTION = "## Demo corpus (issue 3)"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def render_baseline(n: int = 3000) -> str:
    """Rendering n images in one process against two worker processes (same jobs)."""
    scenes, _ = sample_prompts(n, np.random.default_rng(0))
    jobs = [(s, i, True) for i, s in enumerate(scenes)]
    times = {}
    for procs in (1, 2):
        t0 = time.perf_counter()
        render_many(jobs, processes=procs, progress=False)
        times[procs] = time.perf_counter() - t0
    return (f"Render + PNG-encode {n} images (128×128): 1 process {times[1]:.1f} s, 2 processes {times[2]:.1f} s "
            f"({times[1] / times[2]:.2f}× faster).")


def bench_build(data: Path, size: str) -> tuple[str, dict]:
    t0 = time.perf_counter()
    load0 = _load()
    root = build_demo(data, size=size, force=True, progress=False)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_demo(data, size=size, progress=False)
    again = time.perf_counter() - t0
    report = demo_report(root)
    stages = report["build"]["timings"]
    mem = report["build"]["peak_memory"]
    images_mb = sum(p.stat().st_size for p in (root / "images").rglob("*.png")) / 2**20
    text = (f"- `{size}`: first build **{first:.1f} s** (load {load0} → {_load()}), stages: "
            + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in stages.items() if k not in ("total_s", "cpu_total_s"))
            + f"; CPU time of the build {stages.get('cpu_total_s', float('nan')):.1f} s"
            + f"; second call (reuse) **{again:.2f} s**; peak memory {mem['process_mb']:.0f} MB "
              f"(render workers ≤ {mem['largest_child_mb']:.0f} MB); images on disk {images_mb:.1f} MB "
              f"for {2 * report['n_items']} PNGs.")
    return text, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="folder to build in (default: a temporary one)")
    ap.add_argument("--skip-full", action="store_true", help="only the small build and the render baseline")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="dkmap-bench-demo-"))
    lines = [f"Command: `.venv/bin/python scripts/bench_demo.py{' --skip-full' if args.skip_full else ''}`",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other engineers' jobs; load "
             f"averages 1/5/15 min given per run), torch threads {torch.get_num_threads()}, "
             f"{'GPU' if torch.cuda.is_available() else 'CPU only'}. Each build runs with `force=True` in a "
             "fresh process state; the second call must find the stamp and reuse the folder.", ""]
    lines.append(render_baseline())
    lines.append("")
    sizes = ["small"] + ([] if args.skip_full else ["full"])
    for size in sizes:
        text, report = bench_build(data, size)
        print(text, flush=True)
        lines.append(text)
        if size == sizes[-1]:
            lines += ["", f"Report of the `{size}` build (`dkmap demo --size {size} --report`):", "```",
                      format_report(report), "```"]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
