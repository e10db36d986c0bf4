"""Benchmark SPEC (dkmap.compare.spec): time and peak memory at three sizes up to 1M items × (128+128).

Each run happens in a fresh subprocess on float32 .npy files opened as memory maps (the stored
format), so peak memory is that of SPEC alone. Baseline in the same run: the direct N×N
eigendecomposition at a small N, against the streamed Cholesky route on the same data.
Writes the section "## SPEC (issue 8)" of BENCHMARKS.md.

    .venv/bin/python scripts/bench_spec.py            # 250k, 500k, 1M; writes BENCHMARKS.md
    .venv/bin/python scripts/bench_spec.py --sizes 20000,40000,80000 --no-write   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from benchmarks_md import write_section  # noqa: E402  (scripts/ is on sys.path)

SECTION = "## SPEC (issue 8)"


def _rss_anon_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_data(folder: Path, n: int, d: int, seed: int) -> tuple[Path, Path]:
    """Two N×d float32 unit-row matrices written in blocks (never whole in memory)."""
    paths = (folder / f"x_{n}_{d}.npy", folder / f"y_{n}_{d}.npy")
    rng = np.random.default_rng(seed)
    for path in paths:
        if path.exists():
            continue
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
        # A few shared directions give the spectrum some structure, as real embeddings have.
        basis = rng.normal(size=(8, d))
        for start in range(0, n, 100_000):
            stop = min(start + 100_000, n)
            block = rng.normal(size=(stop - start, d)) + rng.normal(size=(stop - start, 8)) @ basis
            out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
        out.flush()
        del out
    return paths


def worker(args: argparse.Namespace) -> None:
    """Run SPEC once on memory-mapped files and print timing and peak memory as JSON."""
    import torch

    from dkmap.compare.spec import spec

    peak = {"anon": _rss_anon_mib()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], _rss_anon_mib())
            time.sleep(0.02)

    base_anon = _rss_anon_mib()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    x = np.load(args.x, mmap_mode="r")
    y = np.load(args.y, mmap_mode="r")
    extra = {"n_fourier": args.n_fourier, "bandwidth": 1.0} if args.kernel == "gaussian" else {}
    t0, c0 = time.perf_counter(), os.times()
    result = spec(x, y, k=10, kernel=args.kernel, device="cpu", **extra)
    seconds, c1 = time.perf_counter() - t0, os.times()
    cpu_seconds = (c1.user - c0.user) + (c1.system - c0.system)
    stop.set()
    thread.join()
    print(json.dumps({"n": int(x.shape[0]), "kernel": args.kernel, "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "features": int(result.eigenvalues.size), "spec_diff": result.spec_diff,
                      "peak_anon_mib": peak["anon"], "base_anon_mib": base_anon, "vm_hwm_mib": _hwm_mib(),
                      "torch_threads": torch.get_num_threads()}))


def run_worker(x: Path, y: Path, kernel: str, n_fourier: int) -> dict:
    """One SPEC run in a fresh process; its timing and memory figures."""
    cmd = [sys.executable, __file__, "--worker", "--x", str(x), "--y", str(y), "--kernel", kernel,
           "--n-fourier", str(n_fourier)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(runs: list[dict]) -> dict:
    """The fastest run (the least disturbed by other jobs), with every run's time and the peak memory."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["all_seconds"] = [r["seconds"] for r in runs]
    best["peak_anon_mib"] = max(r["peak_anon_mib"] for r in runs)
    best["vm_hwm_mib"] = max(r["vm_hwm_mib"] for r in runs)
    return best


def direct_baseline(n: int, d: int, seed: int) -> dict:
    """Direct route: form the N×N kernel difference and eigendecompose it; vs SPEC on the same data."""
    from dkmap.compare.spec import spec

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)); x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = rng.normal(size=(n, d)); y /= np.linalg.norm(y, axis=1, keepdims=True)
    t0 = time.perf_counter()
    delta = (x @ x.T - y @ y.T) / n
    evals = np.linalg.eigvalsh(delta)
    direct_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = spec(x, y, k=10, device="cpu")
    spec_s = time.perf_counter() - t0
    top = np.sort(np.abs(evals))[::-1][:2 * d]
    err = float(np.max(np.abs(np.sort(np.abs(result.eigenvalues))[::-1] - top)) / top[0])
    return {"n": n, "direct_s": direct_s, "spec_s": spec_s, "max_rel_err": err,
            "direct_matrix_mib": n * n * 8 / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--dim", type=int, default=128, help="dimension of each embedding")
    parser.add_argument("--gaussian-fourier", type=int, default=64,
                        help="frequencies per side for the Gaussian run at the largest size (0: skip)")
    parser.add_argument("--baseline-n", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the sizes; the fastest run per size is reported")
    parser.add_argument("--data", type=Path, default=None,
                        help="folder for the generated .npy files, kept (default: a temporary folder, removed)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--x"), parser.add_argument("--y")
    parser.add_argument("--kernel", default="cosine")
    parser.add_argument("--n-fourier", type=int, default=64)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    if args.data is None:
        with tempfile.TemporaryDirectory(prefix="bench_spec_") as tmp:
            bench(args, Path(tmp))
    else:
        args.data.mkdir(parents=True, exist_ok=True)
        bench(args, args.data)


def bench(args: argparse.Namespace, data: Path) -> None:
    """Run every measurement on data generated under `data`, print and record them."""
    sizes = [int(s) for s in args.sizes.split(",")]
    load_start = os.getloadavg()[0]
    files = {n: make_data(data, n, args.dim, seed=n) for n in sizes}
    # Rounds over all sizes (not all repeats of one size, then the next): a burst of load from
    # other jobs then hits every size alike instead of bending the curve.
    per_size: dict[int, list[dict]] = {n: [] for n in sizes}
    for round_ in range(args.repeats):
        for n in sizes:
            per_size[n].append(run_worker(*files[n], "cosine", 0))
            print(f"round {round_ + 1}: cosine N={n} {per_size[n][-1]['seconds']:.2f} s", flush=True)
    runs = []
    for n in sizes:
        run = best_of(per_size[n])
        runs.append(run)
        print(f"cosine  N={n:>8}  {run['seconds']:7.2f} s (runs {run['all_seconds']})  cpu {run['cpu_seconds']:.1f} s  "
              f"peak anon {run['peak_anon_mib']:7.0f} MiB  VmHWM {run['vm_hwm_mib']:7.0f} MiB", flush=True)
    gauss = None
    if args.gaussian_fourier:
        gauss = best_of([run_worker(*files[sizes[-1]], "gaussian", args.gaussian_fourier)])
        print(f"gaussian N={sizes[-1]} ({2 * args.gaussian_fourier}+{2 * args.gaussian_fourier} RFF) "
              f"{gauss['seconds']:.2f} s  peak anon {gauss['peak_anon_mib']:.0f} MiB", flush=True)
    base = direct_baseline(args.baseline_n, args.dim, seed=1)
    print(f"baseline N={base['n']}: direct {base['direct_s']:.2f} s vs SPEC {base['spec_s']:.3f} s "
          f"(max rel eigenvalue diff {base['max_rel_err']:.1e})", flush=True)

    load_end = os.getloadavg()[0]
    log_n = np.log([r["n"] for r in runs])
    slope = np.polyfit(log_n, np.log([r["seconds"] for r in runs]), 1)[0]
    cpu_slope = np.polyfit(log_n, np.log([r["cpu_seconds"] for r in runs]), 1)[0]
    print(f"log-log slope of time vs N: {slope:.2f} (CPU time: {cpu_slope:.2f})")
    input_mib = sizes[-1] * args.dim * 2 * 4 / 2**20
    lines = [
        f"Command: `.venv/bin/python scripts/bench_spec.py{'' if args.sizes == '250000,500000,1000000' else ' --sizes ' + args.sizes}`",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
        f"torch threads {runs[0]['torch_threads']}, CPU only. Inputs: two float32 N×{args.dim} "
        f"unit-row .npy files opened as memory maps (the stored format), k = 10 clusters.",
        f"Cosine runs: {args.repeats} rounds over the sizes, each run a fresh process; the fastest wall time "
        "per size is reported (all runs listed); CPU time = user + system seconds of that run. Peak anon = peak anonymous resident memory (heap, torch); "
        "VmHWM also counts the memory-mapped input pages the OS keeps resident (reclaimable).",
        f"1-minute load average {load_start:.1f} at the start and {load_end:.1f} at the end of the run "
        f"on {os.cpu_count()} cores: other jobs shared the CPU, so absolute times are inflated; "
        "ratios within the run are comparable.",
        "",
        "| kernel | N | features | time (s) | all runs (s) | CPU time (s) | µs / item | peak anon (MiB) | VmHWM (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs + ([gauss] if gauss else []):
        every = ", ".join(f"{t:.1f}" for t in r["all_seconds"])
        lines.append(f"| {r['kernel']} | {r['n']:,} | {r['features']} | {r['seconds']:.2f} | {every} | "
                     f"{r['cpu_seconds']:.1f} | {r['seconds'] / r['n'] * 1e6:.2f} | {r['peak_anon_mib']:.0f} | "
                     f"{r['vm_hwm_mib']:.0f} |")
    lines += [
        "",
        f"The Gaussian row uses random Fourier features: {args.gaussian_fourier} frequencies per side "
        "(cos and sin: 2 features each), bandwidth σ = 1.0, seed 0.",
        "",
        f"Cost against N: log-log slope {slope:.2f} for wall time and {cpu_slope:.2f} for CPU time over "
        f"the three cosine sizes (1.0 = linear). The input at N = {sizes[-1]:,} is {input_mib:.0f} MiB as float32; SPEC streams "
        "it in chunks (float64 features, ≤ 128 MiB per chunk), so peak anonymous memory stays far "
        "below holding it in float64.",
        "",
        f"Baseline (same run): direct eigendecomposition of the N×N kernel difference at N = {base['n']:,} "
        f"takes {base['direct_s']:.2f} s and a {base['direct_matrix_mib']:.0f} MiB matrix; the Cholesky "
        f"route takes {base['spec_s']:.3f} s on the same data ({base['direct_s'] / base['spec_s']:.0f}× faster), "
        f"eigenvalues agree to {base['max_rel_err']:.1e} (relative). The direct route is O(N³) time, "
        "O(N²) memory: at N = 1M it would need 7.3 TiB for the matrix alone.",
    ]
    body = "\n".join(lines)
    print()
    print(body)
    if not args.no_write:
        write_section(SECTION, body)
        print(f"\nwrote section '{SECTION}' of {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
