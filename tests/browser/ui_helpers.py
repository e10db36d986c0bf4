"""Helpers for the browser tests: open the app, wait until the map has settled, read what it drew."""

from __future__ import annotations

import math
import os
from collections import Counter

import pytest
import requests

SETTLED = """() => {
  const h = window.__dkmap; if (!h) return false;
  const d = h.state().drawn; if (!d || d.pending !== 0 || h.state().selectionLoading) return false;
  if (d.mode === 'scatter') return true;
  return d.tilesNeeded.length > 0 && d.fallbackOps === 0 && d.tilesNeeded.every((k) => d.tilesDrawn.includes(k));
}"""


@pytest.fixture
def app_url(request) -> str:
    """Base URL of the real server: the session's live server, or DKMAP_UI_URL when a developer set it."""
    url = os.environ.get("DKMAP_UI_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("live_server").url


def api(app_url: str, path: str, body: dict | None = None) -> dict:
    """GET (or POST `body`) one API path and return its JSON, failing on an error status."""
    url = f"{app_url}/{path.lstrip('/')}"
    res = requests.post(url, json=body, timeout=120) if body is not None else requests.get(url, timeout=120)
    assert res.ok, f"{path}: {res.status_code} {res.text[:200]}"
    return res.json()


def pick_metric(app_url: str, kind: str = "score") -> tuple[str, dict]:
    """The first dataset with a built metric of `kind`, and that metric."""
    for ds in api(app_url, "api/datasets")["datasets"]:
        for m in ds["metrics"]:
            if m["built"] and m["kind"] == kind:
                return ds["name"], m
    pytest.fail(f"the test server has no built metric of kind {kind!r}")


def open_app(page, app_url: str, dataset: str, metric: str, mode: str = "overlay") -> dict:
    """Load the page on a map and mode; wait until every tile in view is drawn. Returns `drawn`."""
    page.goto(f"{app_url}/#dataset={dataset}&metric={metric}&mode={mode}")
    wait_settled(page)
    return drawn(page)


def wait_settled(page, timeout: float = 60_000) -> None:
    page.wait_for_function(SETTLED, timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_function(SETTLED, timeout=timeout)


def wait_still(page, timeout_s: float = 30) -> None:
    """Wait until the view has stopped moving (transitions finished) and the map has settled."""
    import time

    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        wait_settled(page)
        view = drawn(page)["view"]
        if view == last:
            return
        last = view
        page.wait_for_timeout(250)
    raise AssertionError("the map kept moving")


def drawn(page) -> dict:
    return page.evaluate("window.__dkmap.state().drawn")


def state(page, expr: str):
    """Evaluate `expr` with `s` bound to the app's state snapshot."""
    return page.evaluate(f"(() => {{ const s = window.__dkmap.state(); return {expr}; }})()")


def to_page(page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of map point (x, y) under the current zoom."""
    v = drawn(page)["view"]
    box = page.locator("#overview .ov-stage").bounding_box()
    return (box["x"] + v["x"] + v["k"] * (v["ox"] + x * v["size"]),
            box["y"] + v["y"] + v["k"] * (v["oy"] + y * v["size"]))


def zoom_at(page, x: float, y: float, target_z: int, frames: list | None = None) -> dict:
    """Wheel-zoom around map point (x, y) until the tile level reaches target_z; wait for the tiles.
    `frames`, when given, collects what was drawn after every wheel step (while tiles load)."""
    for _ in range(20):
        if drawn(page)["z"] >= target_z:
            break
        page.mouse.move(*to_page(page, x, y))
        page.mouse.wheel(0, -500)
        page.wait_for_timeout(60)
        if frames is not None:
            frames.append(drawn(page))
    wait_settled(page)
    return drawn(page)


# A 2-D context showing canvas `c` whatever its own context (the points canvas may be WebGL's).
READABLE = """(c) => { const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height;
  const ctx = copy.getContext('2d'); ctx.drawImage(c, 0, 0); return ctx; }"""


def canvas_colours(page, selector: str) -> Counter:
    """Counts of RGBA colours on a canvas (every 3rd pixel of every 3rd row, inside the map frame)."""
    pairs = page.evaluate("""(sel) => {
      const c = document.querySelector(sel); const ctx = (""" + READABLE + """)(c);
      const d = window.__dkmap.state().drawn.view; const dpr = c.width / d.width;
      const x0 = Math.max(0, Math.round((d.x + d.k * d.ox) * dpr)), y0 = Math.max(0, Math.round((d.y + d.k * d.oy) * dpr));
      const x1 = Math.min(c.width, Math.round((d.x + d.k * (d.ox + d.size)) * dpr)), y1 = Math.min(c.height, Math.round((d.y + d.k * (d.oy + d.size)) * dpr));
      const img = ctx.getImageData(x0, y0, x1 - x0, y1 - y0).data; const counts = new Map();
      for (let r = 0; r < y1 - y0; r += 3) for (let q = 0; q < x1 - x0; q += 3) {
        const i = 4 * (r * (x1 - x0) + q); const key = `${img[i]},${img[i+1]},${img[i+2]},${img[i+3]}`;
        counts.set(key, (counts.get(key) || 0) + 1);
      }
      return [...counts.entries()];
    }""", selector)
    return Counter({tuple(int(v) for v in k.split(",")): n for k, n in pairs})


def canvas_rgba(page, selector: str):
    """Every pixel of a canvas as an H×W×4 uint8 array (read through a 2-D copy, so WebGL canvases too)."""
    import base64

    import numpy as np

    width, height, data = page.evaluate("""(sel) => {
      const c = document.querySelector(sel); const ctx = (""" + READABLE + """)(c);
      const bytes = ctx.getImageData(0, 0, c.width, c.height).data; let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      return [c.width, c.height, btoa(text)];
    }""", selector)
    return np.frombuffer(base64.b64decode(data), dtype=np.uint8).reshape(height, width, 4)


def legend_colours(page) -> list[tuple[int, int, int]]:
    hexes = page.eval_on_selector_all("#overview .ov-legend rect[data-colour]", "els => els.map(e => e.dataset.colour)")
    return [tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in hexes]


def nearest_distance(colour, palette) -> float:
    return min(math.dist(colour[:3], p) for p in palette)


def is_hatch(colour) -> bool:
    """The masked-cell pattern: light and dark grey lines and their blends."""
    r, g, b = colour[:3]
    return max(r, g, b) - min(r, g, b) <= 3 and 160 <= r <= 232


def circle_polygon(cx: float, cy: float, r: float, n: int = 40) -> list[list[float]]:
    return [[cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n)] for i in range(n)]


def draw_lasso(page, polygon: list[list[float]]) -> None:
    """Press L and drag the mouse along a map-coordinate polygon."""
    page.locator("#overview .ov-stage").focus()
    page.keyboard.press("l")
    page.mouse.move(*to_page(page, *polygon[0]))
    page.mouse.down()
    for x, y in polygon[1:] + polygon[:1]:
        page.mouse.move(*to_page(page, x, y), steps=2)
    page.mouse.up()


def dense_point(app_url: str, dataset: str, metric: str) -> tuple[float, float]:
    """Mean position of the items in the most crowded cell of an 8×8 grid: a place with data around it."""
    pts = api(app_url, f"api/maps/{dataset}/{metric}/points?z=0&bbox=0,0,1,1&sampling=all&limit=200000")["points"]
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in zip(pts["x"], pts["y"]):
        cells.setdefault((min(7, int(x * 8)), min(7, int(y * 8))), []).append((x, y))
    best = max(cells.values(), key=len)
    return sum(p[0] for p in best) / len(best), sum(p[1] for p in best) / len(best)
