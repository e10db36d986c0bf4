"""Frontend benchmark: first paint and pan frame cost of the overview in headless Chromium.

Starts `dkmap serve` over --data on a free loopback port (or uses --url), opens the page in Debian's
Chromium for each mode, and reads the app's performance marks:
  dkmap:start → dkmap:first-paint (first tile or points drawn) and → dkmap:complete (all in view drawn),
then drags the map for --pan-frames frames and reports the draw cost per frame (dkmap:draw measures).
Baseline in the same run: fetching the same map info, level-0 tile and points with a plain HTTP client
(the server's share of the first paint).
Writes a block "### <label>" into the BENCHMARKS.md section "## Frontend (issue 7)".

    .venv/bin/python scripts/bench_frontend.py --data data/datasets --dataset demo --metric clipscore_a --label "demo corpus"
    .venv/bin/python scripts/bench_frontend.py --data /tmp/big --dataset big1m --metric clipscore --label "1M-item build"
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECTION = "## Frontend (issue 7)"
MODES = ("overlay", "contour", "scatter")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "dkmap.cli", "serve", "--data", str(data), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"dkmap serve exited with status {proc.returncode}")
            try:
                if requests.get(url + "/api/datasets", timeout=10).ok:
                    return proc, url
            except requests.RequestException:
                time.sleep(0.3)
        raise SystemExit("dkmap serve did not answer within 180 s")
    except BaseException:
        proc.terminate()
        raise


def http_baseline(url: str, dataset: str, metric: str) -> dict:
    """Seconds a plain client needs for what the first paint needs: map info, tile 0/0/0, level-0 points."""
    out = {}
    t0 = time.perf_counter()
    requests.get(f"{url}/api/maps/{dataset}/{metric}", timeout=300).raise_for_status()
    out["map info"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    requests.get(f"{url}/api/maps/{dataset}/{metric}/contour/0/0/0", timeout=300).raise_for_status()
    out["tile 0/0/0"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    requests.get(f"{url}/api/maps/{dataset}/{metric}/points", params={
        "z": 0, "bbox": "0,0,1,1", "sampling": "bluenoise", "limit": 200000}, timeout=300).raise_for_status()
    out["level-0 points"] = time.perf_counter() - t0
    return out


def measure_mode(browser, url: str, dataset: str, metric: str, mode: str, pan_frames: int) -> dict:
    """First paint, complete paint and per-frame draw cost while panning, for one mode."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{url}/#dataset={dataset}&metric={metric}&mode={mode}")
        page.wait_for_function("performance.getEntriesByName('dkmap:complete').length > 0", timeout=600_000)
        marks = page.evaluate("""() => {
          const t = (n) => performance.getEntriesByName(n)[0].startTime;
          return { paint: t('dkmap:first-paint'), complete: t('dkmap:complete') };
        }""")
        drawn = page.evaluate("window.__dkmap.state().drawn")
        page.evaluate("performance.clearMeasures('dkmap:draw'); performance.clearMeasures('dkmap:blit')")
        box = page.locator("#overview .ov-stage").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        for i in range(pan_frames):
            page.mouse.move(cx + 150 * ((i % 20) / 20 - 0.5), cy + 3 * (i % 7), steps=1)
            page.evaluate("new Promise(requestAnimationFrame)")
        page.mouse.up()
        page.wait_for_timeout(400)  # the full redraw after the gesture
        draws = page.evaluate("performance.getEntriesByName('dkmap:draw').map(e => e.duration)")
        blits = page.evaluate("performance.getEntriesByName('dkmap:blit').map(e => e.duration)")
        return {
            "first_paint_ms": marks["paint"],
            "complete_ms": marks["complete"],
            "points": drawn["points"], "tiles": len(drawn["tilesDrawn"]),
            "draw_median_ms": statistics.median(draws) if draws else float("nan"),
            "draw_p95_ms": sorted(draws)[int(0.95 * (len(draws) - 1))] if draws else float("nan"),
            "frames": len(draws),
            "blit_max_ms": max(blits) if blits else float("nan"),
        }
    finally:
        page.close()


def write_section(label: str, block: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
    start = text.index(SECTION) + len(SECTION)
    nxt = re.search(r"^## ", text[start:], flags=re.M)
    end = start + nxt.start() if nxt else len(text)
    body = text[start:end]
    heading = f"### {label}"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^### |\Z)", flags=re.M | re.S)
    if pattern.search(body):  # replace the block in place, keeping the others' order
        body = pattern.sub(lambda _: f"{block.rstrip()}\n\n", body, count=1).rstrip("\n") + "\n\n"
    else:
        body = f"{body.rstrip()}\n\n{block.rstrip()}\n\n"
    path.write_text(text[:start] + body + text[end:].lstrip("\n") if nxt else text[:start] + body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="DATA_DIR to serve with dkmap serve")
    src.add_argument("--url", help="an already running server on loopback")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--label", required=True, help='block title, e.g. "demo corpus"')
    ap.add_argument("--pan-frames", type=int, default=60)
    ap.add_argument("--note", default="", help="a sentence added to the block (e.g. how the build was made)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    if args.pan_frames < 1:
        raise SystemExit("--pan-frames must be ≥ 1")

    from playwright.sync_api import sync_playwright

    proc = None
    url = args.url
    if args.data:
        proc, url = start_server(args.data)
    try:
        info = requests.get(f"{url}/api/maps/{args.dataset}/{args.metric}", timeout=300)
        info.raise_for_status()
        n_items = info.json()["n_items"]
        cold = http_baseline(url, args.dataset, args.metric)  # first requests build the server's indexes
        warm = http_baseline(url, args.dataset, args.metric)
        results = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for mode in MODES:
                results[mode] = measure_mode(browser, url, args.dataset, args.metric, mode, args.pan_frames)
                print(mode, results[mode], flush=True)
            browser.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)

    cmd = "python scripts/bench_frontend.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [f"### {args.label}",
             f"Command: `.venv/bin/{cmd}`",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Debian Chromium headless with "
             f"--disable-gpu (software canvas), viewport 1400×900. Map: {args.dataset}/{args.metric}, "
             f"{n_items:,} items. {args.note + ' ' if args.note else ''}Times from navigation start (page load included). Pan: {args.pan_frames} "
             "drag steps, one animation frame each; the draw cost is the app's own redraw per frame (`dkmap:draw` "
             "measure: contour bitmaps and points; above 100,000 points in view a gesture moves the last drawing "
             "and the points are redrawn in full when it pauses, `dkmap:blit`), so 1000 / p95 bounds the frame rate.",
             "",
             "| mode | first paint (ms) | all in view drawn (ms) | items drawn | tiles | draw per pan frame, median / p95 (ms) | frame rate bound (1000 / p95) | full point redraw (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {r['first_paint_ms']:.0f} | {r['complete_ms']:.0f} | {r['points']:,} | {r['tiles']} | "
                     f"{r['draw_median_ms']:.1f} / {r['draw_p95_ms']:.1f} | {1000 / max(r['draw_p95_ms'], 1e-3):.0f} | {r['blit_max_ms']:.0f} |")
    base = ", ".join(f"{k} {cold[k] * 1000:.0f} / {warm[k] * 1000:.0f} ms" for k in cold)
    lines += ["", "Baseline (same run, plain HTTP client, what the first overlay paint needs; first request / "
              f"repeated): {base}. The browser runs after these, so its numbers are against a warm server."]
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        write_section(args.label, block)


if __name__ == "__main__":
    main()
