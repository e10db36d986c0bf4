"""Frontend benchmark: first paint, all-points time and move frame cost of the overview in headless Chromium.

Starts `dkmap serve` over --data on a free loopback port (or uses --url), opens the page in Debian's
Chromium for each mode, and reads the app's performance marks:
  dkmap:start → dkmap:first-paint (first tile or points drawn) and → dkmap:complete (all in view drawn),
then drags the map for --pan-frames frames and pans it with arrow keys, and reports the draw cost per
frame (dkmap:draw measures), full redraws (dkmap:blit), the JS heap and which points renderer drew.
Scatter mode runs again on each renderer path (?renderer=canvas|webgl) and, with --baseline-repo, on the
code before (a checkout with its frontend built, served over the same data) as the same-run baseline;
then the page fetches the whole map's points as JSON and as Arrow (bytes, fetch and decode time).
Baseline in the same run: fetching the same map info, level-0 tile and points with a plain HTTP client
(the server's share of the first paint).
Writes a block "### <label>" into the BENCHMARKS.md section "## Frontend (issue 7)".

    PYTHONPATH=backend .venv/bin/python scripts/bench_frontend.py --data data/datasets --dataset demo --metric clipscore_a --label "demo corpus"
    PYTHONPATH=backend .venv/bin/python scripts/bench_frontend.py --data /tmp/big --dataset big1m --metric clip_a --label "1M-item build" --baseline-repo /tmp/before
"""

from __future__ import annotations

import argparse
import os
import platform
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


def start_server(data: Path, repo: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`dkmap serve` of checkout `repo` (its backend and its built frontend) over `data`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(repo / "backend")}
    proc = subprocess.Popen([sys.executable, "-m", "dkmap.cli", "serve", "--data", str(data.resolve()), "--port", str(port)],
                            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    """Seconds a plain client needs for what the first paint needs: map info, tile 0/0/0, level-0 points,
    and for scatter all points of the map as Arrow."""
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
    t0 = time.perf_counter()
    requests.get(f"{url}/api/maps/{dataset}/{metric}/points", params={
        "z": 0, "bbox": "0,0,1,1", "sampling": "all", "limit": 5_000_000},
        headers={"Accept": "application/vnd.apache.arrow.stream"}, timeout=300).raise_for_status()
    out["all points as Arrow (scatter)"] = time.perf_counter() - t0
    return out


def pct(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))] if values else float("nan")


MARKS = """() => {
  const t = (n) => performance.getEntriesByName(n)[0].startTime;
  const pts = performance.getEntriesByType('resource').filter((e) => e.name.includes('/points'));
  const decode = performance.getEntriesByName('dkmap:arrow-decode');
  const stage = document.querySelector('#overview .ov-stage');
  return { paint: t('dkmap:first-paint'), complete: t('dkmap:complete'),
    pointsStart: pts.length ? Math.min(...pts.map((e) => e.startTime)) : null, requests: pts.length,
    bytes: pts.reduce((s, e) => s + e.encodedBodySize, 0), decode: decode.reduce((s, e) => s + e.duration, 0),
    renderer: stage.dataset.renderer ?? null, reason: stage.dataset.rendererReason ?? null };
}"""
# Reading the points canvas back waits for its pixels (a WebGL canvas is drawn asynchronously).
READBACK = """() => { const c = document.querySelector('#overview canvas.points-layer'); const copy = document.createElement('canvas');
  copy.width = 1; copy.height = 1; const ctx = copy.getContext('2d'); ctx.drawImage(c, 0, 0); ctx.getImageData(0, 0, 1, 1);
  return performance.now(); }"""


def heap(page) -> tuple[float, float]:
    """MB of JS heap used and of ArrayBuffer backing stores (the point columns live there), after a GC."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    usage = cdp.send("Runtime.getHeapUsage")
    cdp.detach()
    return usage["usedSize"] / 2**20, usage.get("backingStorageSize", float("nan")) / 2**20


def measure_mode(browser, url: str, dataset: str, metric: str, mode: str, pan_frames: int, renderer: str | None = None) -> dict:
    """First paint, complete paint, per-frame draw cost while dragging and while arrow keys pan, full
    redraws, heap, and which renderer drew, for one mode (`renderer` forces one with ?renderer=)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        query = f"?renderer={renderer}" if renderer else ""
        page.goto(f"{url}/{query}#dataset={dataset}&metric={metric}&mode={mode}")
        page.wait_for_function("() => performance.getEntriesByName('dkmap:complete').length > 0", timeout=600_000)
        pixels_ms = page.evaluate(READBACK)
        marks = page.evaluate(MARKS)
        drawn = page.evaluate("() => window.__dkmap.state().drawn")
        first_blits = page.evaluate("() => performance.getEntriesByName('dkmap:blit').map((e) => e.duration)")
        heap_mb, buffers_mb = heap(page)
        page.evaluate("() => { performance.clearMeasures('dkmap:draw'); performance.clearMeasures('dkmap:blit'); }")
        box = page.locator("#overview .ov-stage").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        for i in range(pan_frames):
            page.mouse.move(cx + 150 * ((i % 20) / 20 - 0.5), cy + 3 * (i % 7), steps=1)
            page.evaluate("() => new Promise(requestAnimationFrame)")
        page.mouse.up()
        page.wait_for_timeout(400)  # the full redraw after the gesture
        drags = page.evaluate("() => performance.getEntriesByName('dkmap:draw').map((e) => e.duration)")
        page.evaluate("() => performance.clearMeasures('dkmap:draw')")
        page.locator("#overview .ov-stage").focus()
        for key in ["ArrowLeft", "ArrowRight"] * 3:
            page.keyboard.press(key)
            page.wait_for_timeout(250)
        page.wait_for_timeout(300)
        keys = page.evaluate("() => performance.getEntriesByName('dkmap:draw').map((e) => e.duration)")
        blits = page.evaluate("() => performance.getEntriesByName('dkmap:blit').map((e) => e.duration)")
        return {
            "first_paint_ms": marks["paint"], "complete_ms": marks["complete"], "pixels_ms": pixels_ms,
            "from_request_ms": marks["complete"] - marks["pointsStart"] if marks["pointsStart"] is not None else float("nan"),
            "requests": marks["requests"], "bytes": marks["bytes"], "decode_ms": marks["decode"],
            "renderer": marks["renderer"] or "canvas (no choice)", "reason": marks["reason"],
            "points": drawn["points"], "tiles": len(drawn["tilesDrawn"]),
            "draw_median_ms": statistics.median(drags) if drags else float("nan"), "draw_p95_ms": pct(drags, 0.95),
            "key_median_ms": statistics.median(keys) if keys else float("nan"), "key_p95_ms": pct(keys, 0.95),
            "frames": len(drags), "first_blit_ms": max(first_blits, default=float("nan")),
            "blit_median_ms": statistics.median(blits) if blits else float("nan"), "blit_max_ms": max(blits, default=float("nan")),
            "heap_mb": heap_mb, "buffers_mb": buffers_mb,
        }
    finally:
        page.close()


JSON_VS_ARROW = """async ([u, arrow]) => {
  const t0 = performance.now(); const r = await fetch(u, { headers: { accept: 'application/json' } }); const text = await r.text();
  const t1 = performance.now(); const body = JSON.parse(text); const p = body.points;
  const cols = { x: Float32Array.from(p.x), y: Float32Array.from(p.y), row: Int32Array.from(p.row), value: Float32Array.from(p.value, (v) => v ?? NaN) };
  const t2 = performance.now();
  const r2 = await fetch(u, { headers: { accept: arrow } }); const buf = await r2.arrayBuffer(); const t3 = performance.now();
  return { n: cols.x.length, jsonBytes: text.length, jsonFetch: t1 - t0, jsonDecode: t2 - t1, arrowBytes: buf.byteLength, arrowFetch: t3 - t2 };
}"""


def json_vs_arrow(browser, url: str, dataset: str, metric: str, limit: int) -> dict:
    """In the page: the scatter view's points (z 0, whole map, at most `limit`) fetched as JSON and as
    Arrow: bytes, fetch time, and decode time (JSON.parse and typed arrays; Arrow: the app's own
    decode of that answer, the `dkmap:arrow-decode` measure of a scatter page load at the same limit)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{url}/#dataset={dataset}&metric={metric}&mode=contour")
        page.wait_for_function("() => performance.getEntriesByName('dkmap:complete').length > 0", timeout=600_000)
        path = f"api/maps/{dataset}/{metric}/points?z=0&bbox=0,0,1,1&sampling=all&limit={limit}"
        return page.evaluate(JSON_VS_ARROW, [path, "application/vnd.apache.arrow.stream"])
    finally:
        page.close()


def write_section(label: str, block: str) -> None:
    """`block` (its first line the heading '### label') in place of that block of the section."""
    from benchmarks_md import write_subsection

    heading, _, body = block.partition("\n")
    assert heading == f"### {label}", heading
    write_subsection(SECTION, heading, body)


def git_head(repo: Path) -> str:
    out = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def fmt(v: float, digits: int = 0) -> str:
    return "–" if v != v else f"{v:,.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="DATA_DIR to serve with dkmap serve")
    src.add_argument("--url", help="an already running server on loopback")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--label", required=True, help='block title, e.g. "demo corpus"')
    ap.add_argument("--pan-frames", type=int, default=60)
    ap.add_argument("--baseline-repo", type=Path, default=None,
                    help="a checkout of the code before (its frontend built) served over the same --data: scatter's old path")
    ap.add_argument("--json-limit", type=int, default=200_000,
                    help="points of the JSON vs Arrow comparison, at most (JSON answers hold at most 200,000)")
    ap.add_argument("--modes", default=",".join(MODES), help="modes of the first table")
    ap.add_argument("--note", default="", help="a sentence added to the block (e.g. how the build was made)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    if args.pan_frames < 1:
        raise SystemExit("--pan-frames must be ≥ 1")
    if args.baseline_repo and not args.data:
        raise SystemExit("--baseline-repo needs --data (its server is started over the same data)")

    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    procs = []
    url = args.url
    if args.data:
        proc, url = start_server(args.data)
        procs.append(proc)
    try:
        info = requests.get(f"{url}/api/maps/{args.dataset}/{args.metric}", timeout=300)
        info.raise_for_status()
        n_items = info.json()["n_items"]
        cold = http_baseline(url, args.dataset, args.metric)  # first requests build the server's indexes
        warm = http_baseline(url, args.dataset, args.metric)
        modes, scatter = {}, {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for mode in args.modes.split(","):
                modes[mode] = measure_mode(browser, url, args.dataset, args.metric, mode, args.pan_frames)
                print(mode, modes[mode], flush=True)
            # Scatter on each path: the page's own choice is the first table's row.
            # Software WebGL takes seconds a frame at millions of points: fewer drag steps there.
            for renderer, frames in (("canvas", args.pan_frames), ("webgl", max(1, args.pan_frames // 6))):
                scatter[renderer] = measure_mode(browser, url, args.dataset, args.metric, "scatter", frames, renderer)
                print("scatter", renderer, scatter[renderer], flush=True)
            if args.baseline_repo:
                proc, old_url = start_server(args.data, args.baseline_repo)
                procs.append(proc)
                measure_mode(browser, old_url, args.dataset, args.metric, "scatter", 2)  # warms the old server's indexes
                scatter["before"] = measure_mode(browser, old_url, args.dataset, args.metric, "scatter", args.pan_frames)
                print("scatter before", scatter["before"], flush=True)
            formats = json_vs_arrow(browser, url, args.dataset, args.metric, min(args.json_limit, 200_000))
            print("json vs arrow", formats, flush=True)
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
    load_after = os.getloadavg()

    cmd = "python scripts/bench_frontend.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1-min)"
    lines = [f"### {args.label}",
             f"Command: `PYTHONPATH=backend .venv/bin/{cmd}`",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared ({load}), Debian Chromium headless with "
             f"--disable-gpu, viewport 1400×900. Map: {args.dataset}/{args.metric}, {n_items:,} items. "
             f"{args.note + ' ' if args.note else ''}Times in ms from navigation start (page load included). "
             f"Drag: {args.pan_frames} steps ({max(1, args.pan_frames // 6)} on the forced WebGL row), one animation frame each; keys: six "
             "arrow-key pans (120 ms transitions). "
             "A frame's cost is the app's redraw (`dkmap:draw`); on the canvas path, over 100,000 points in view a move "
             "shows the last drawing moved and redraws in full when it pauses (a full redraw is `dkmap:blit`: its "
             "median and max over the run; the first one also colours every point). Heap: JS heap used / ArrayBuffer "
             "backing stores (the point columns) after a GC, by CDP. On WebGL the draw measures count the calls, "
             "not the rasteriser's work, which \"pixels read back\" (the points canvas read after the complete mark) waits for.",
             "",
             "| mode | renderer | first paint | all in view drawn | items drawn | drag frame p50 / p95 | full redraw p50 / max | heap / buffers (MB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for mode, r in modes.items():
        lines.append(f"| {mode} | {r['renderer']} | {fmt(r['first_paint_ms'])} | {fmt(r['complete_ms'])} | {r['points']:,} | "
                     f"{fmt(r['draw_median_ms'], 1)} / {fmt(r['draw_p95_ms'], 1)} | {fmt(r['blit_median_ms'])} / {fmt(r['blit_max_ms'])} | "
                     f"{fmt(r['heap_mb'], 1)} / {fmt(r['buffers_mb'], 1)} |")
    lines += ["", "Scatter on each path" + (f" and the code before (`{args.baseline_repo}` at {git_head(args.baseline_repo)}, "
              "its own server over the same data, warmed first)" if args.baseline_repo else "") + ":", "",
              "| scatter | first paint | all drawn | all drawn from the first points request | pixels read back | points requests | bytes | Arrow decode | drag p50 / p95 | keys p50 / p95 | full redraw p50 / max | heap / buffers (MB) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in scatter.items():
        label = "before (per-tile requests)" if name == "before" else f"{r['renderer']} (?renderer={name})"
        lines.append(f"| {label} | {fmt(r['first_paint_ms'])} | {fmt(r['complete_ms'])} | {fmt(r['from_request_ms'])} | "
                     f"{fmt(r['pixels_ms'])} | {r['requests']} | {r['bytes']:,} | {fmt(r['decode_ms'], 1)} | "
                     f"{fmt(r['draw_median_ms'], 1)} / {fmt(r['draw_p95_ms'], 1)} | {fmt(r['key_median_ms'], 1)} / {fmt(r['key_p95_ms'], 1)} | "
                     f"{fmt(r['blit_median_ms'])} / {fmt(r['blit_max_ms'])} | {fmt(r['heap_mb'], 1)} / {fmt(r['buffers_mb'], 1)} |")
    chosen = modes.get("scatter")
    if chosen:
        lines += ["", f"The page's own choice here: **{chosen['renderer']}** ({chosen['reason']})."]
    f = formats
    lines += ["", f"JSON vs Arrow in the page (same run; the whole map's points at z 0, {f['n']:,} points): JSON "
              f"{f['jsonBytes']:,} bytes, fetched in {f['jsonFetch']:.0f} ms, decoded (JSON.parse and typed arrays) in "
              f"{f['jsonDecode']:.0f} ms; Arrow {f['arrowBytes']:,} bytes, fetched in {f['arrowFetch']:.0f} ms, decoded by the app "
              f"in {scatter['canvas']['decode_ms']:.1f} ms ({scatter['canvas']['bytes']:,} bytes, the scatter load's answer: "
              "numeric columns are views on the bytes, ids decode on use)."]
    base = ", ".join(f"{k} {cold[k] * 1000:.0f} / {warm[k] * 1000:.0f} ms" for k in cold)
    lines += ["", "Baseline (same run, plain HTTP client, what the first overlay and scatter paints need; first request / "
              f"repeated): {base}. The browser runs after these, so its numbers are against a warm server."]
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        write_section(args.label, block)


if __name__ == "__main__":
    main()
