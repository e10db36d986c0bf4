"""Scatter mode draws every point of the view, on both renderer paths: the points the API lists for
the view are the points drawn (count), each one's stamp is painted where the API puts it and nothing
else is, and the WebGL path paints exactly the canvas path's pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ui_helpers import api, app_url, canvas_rgba, drawn, pick_metric, wait_settled  # noqa: F401

POINTS = "#overview canvas.points-layer"


def open_scatter(page, app_url, dataset, metric, renderer):
    page.goto(f"{app_url}/?renderer={renderer}#dataset={dataset}&metric={metric}&mode=scatter")
    wait_settled(page)
    return drawn(page)


def stamp_mask(points: dict, view: dict, dpr: float, shape: tuple[int, int], radius: float) -> np.ndarray:
    """Pixels the stamps of `points` cover under `view` (the app's rule: the point's pixel is
    floor(b + a·x + 0.5), its disc the pixels within radius + 0.25 of it)."""
    a = view["k"] * view["size"] * dpr
    bx, by = (view["x"] + view["k"] * view["ox"]) * dpr, (view["y"] + view["k"] * view["oy"]) * dpr
    px = np.floor(bx + a * np.asarray(points["x"], dtype=np.float32).astype(np.float64) + 0.5).astype(int)
    py = np.floor(by + a * np.asarray(points["y"], dtype=np.float32).astype(np.float64) + 0.5).astype(int)
    mask = np.zeros(shape, dtype=bool)
    reach = math.floor(radius + 0.25)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if math.hypot(dx, dy) <= radius + 0.25:
                x, y = px + dx, py + dy
                ok = (x >= 0) & (y >= 0) & (x < shape[1]) & (y < shape[0])
                mask[y[ok], x[ok]] = True
    return mask, px, py


@pytest.fixture
def scatter_map(app_url):
    dataset, metric = pick_metric(app_url)
    return dataset, metric["name"]


@pytest.mark.parametrize("renderer", ["canvas", "webgl"])
def test_scatter_draws_the_points_the_api_lists_for_the_view(page, app_url, scatter_map, renderer, record_property):
    dataset, metric = scatter_map
    d = open_scatter(page, app_url, dataset, metric, renderer)
    stage = page.locator("#overview .ov-stage")
    assert stage.get_attribute("data-renderer") == renderer
    record_property("renderer", f"{renderer}: {stage.get_attribute('data-renderer-reason')}")
    bbox = ",".join(str(v) for v in d["bbox"])
    listed = api(app_url, f"api/maps/{dataset}/{metric}/points?z=0&bbox={bbox}&sampling=all&limit=200000")
    assert not listed["capped"] and listed["total_in_view"] > 0
    assert d["points"] == listed["total_in_view"] and not d["capped"]

    pixels = canvas_rgba(page, POINTS)
    dpr = pixels.shape[1] / d["view"]["width"]
    radius = 2.5 * dpr  # points.js pointRadius: under 5,000 points in view
    assert listed["total_in_view"] < 5000
    mask, px, py = stamp_mask(listed["points"], d["view"], dpr, pixels.shape[:2], radius)
    painted = pixels[..., 3] == 255
    inside = (px >= 0) & (py >= 0) & (px < pixels.shape[1]) & (py < pixels.shape[0])
    assert inside.all()
    assert painted[py, px].all(), "every listed point's pixel is painted"
    assert np.array_equal(painted, mask), "the painted pixels are exactly the listed points' stamps"
    assert not (pixels[..., 3] % 255).any(), "stamps are opaque, nothing blended"


def test_webgl_paints_the_canvas_paths_pixels(page, app_url, scatter_map):
    dataset, metric = scatter_map
    open_scatter(page, app_url, dataset, metric, "canvas")
    on_canvas = canvas_rgba(page, POINTS)
    open_scatter(page, app_url, dataset, metric, "webgl")
    assert page.locator("#overview .ov-stage").get_attribute("data-renderer") == "webgl"
    on_gl = canvas_rgba(page, POINTS)
    assert on_gl.shape == on_canvas.shape
    differ = np.any(on_gl != on_canvas, axis=2)
    assert differ.sum() == 0, f"{differ.sum()} pixels differ"


def test_the_browser_chooses_a_renderer_and_says_why(page, app_url, scatter_map, record_property):
    dataset, metric = scatter_map
    page.goto(f"{app_url}/#dataset={dataset}&metric={metric}&mode=scatter")
    wait_settled(page)
    stage = page.locator("#overview .ov-stage")
    name, reason = stage.get_attribute("data-renderer"), stage.get_attribute("data-renderer-reason")
    gpu = page.evaluate("""() => { const gl = document.createElement('canvas').getContext('webgl2'); if (!gl) return null;
      const info = gl.getExtension('WEBGL_debug_renderer_info'); return gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER); }""")
    record_property("renderer", f"{name}: {reason}")
    print(f"renderer chosen: {name} ({reason})")
    software = gpu is not None and any(w in gpu.lower() for w in ("swiftshader", "llvmpipe", "software"))
    assert name == ("canvas" if gpu is None or software else "webgl")
    assert reason == ("no WebGL2" if gpu is None else f"software WebGL ({gpu})" if software else f"GPU ({gpu})")
