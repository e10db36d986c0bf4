"""The overview in a real browser against the real server: contour, overlay and scatter modes."""

from __future__ import annotations

from collections import Counter

import pytest

from ui_helpers import (api, app_url, canvas_colours, dense_point, drawn, is_hatch, legend_colours,  # noqa: F401
                        nearest_distance, open_app, pick_metric, wait_settled, wait_still, zoom_at)

pytestmark = pytest.mark.browser


def test_contour_mode_draws_legend_colours_and_masked_cells(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    d = open_app(page, app_url, dataset, metric["name"], mode="contour")
    screenshot("contour")
    assert d["mode"] == "contour" and d["tilesDrawn"] == ["0/0/0"] and d["points"] == 0
    palette = legend_colours(page)
    assert len(palette) >= 5
    colours = canvas_colours(page, "#overview canvas.contour-layer")
    total = sum(colours.values())
    opaque = {c: n for c, n in colours.items() if c[3] == 255}
    assert sum(opaque.values()) / total > 0.98, "the whole map square is painted"
    banded = sum(n for c, n in opaque.items() if nearest_distance(c, palette) <= 6)
    hatched = sum(n for c, n in opaque.items() if is_hatch(c))
    # Everything drawn is a legend band or the masked pattern, bar anti-aliased band edges.
    assert (banded + hatched) / sum(opaque.values()) > 0.95
    # The bands the tile's own values fall in are the ones drawn; masked cells are hatched.
    info = api(app_url, f"api/maps/{dataset}/{metric['name']}")
    cells = [v for row in api(app_url, f"api/maps/{dataset}/{metric['name']}/contour/0/0/0")["values"] for v in row]
    valid = [v for v in cells if v is not None]
    lo, hi = info["colour_domain"]
    if info["diverging"]:
        lo, hi = -max(abs(lo), abs(hi)), max(abs(lo), abs(hi))
    n = len(palette)
    band_of = [min(n - 1, max(0, int((v - lo) / (hi - lo) * n))) for v in valid]
    on_canvas = Counter()
    for c, k in opaque.items():
        if nearest_distance(c, palette) <= 6:
            on_canvas[min(range(n), key=lambda i: nearest_distance(c, [palette[i]]))] += k
    for band, k in Counter(band_of).items():
        if k / len(valid) >= 0.05:
            assert on_canvas[band] > 0, f"band {band} holds {k} cells but is not drawn"
    assert abs(hatched / sum(opaque.values()) - (len(cells) - len(valid)) / len(cells)) < 0.12
    if info["mask"]["enabled"]:
        assert page.locator("#overview .ov-legend .swatch.hatch").count() == 1
        assert "masked" in page.inner_text("#overview .ov-legend")
    assert (info["unit"] or "") in page.inner_text("#overview .legend-title")
    assert page.console_errors == []


def test_zooming_loads_deeper_tiles_and_adds_overlay_points(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    d0 = open_app(page, app_url, dataset, name, mode="overlay")
    screenshot("overlay-z0")
    assert d0["z"] == 0 and d0["points"] > 0
    x, y = dense_point(app_url, dataset, name)
    max_level = api(app_url, f"api/maps/{dataset}/{name}")["max_level"]
    target = min(2, max_level)
    frames: list = []
    d1 = zoom_at(page, x, y, target, frames)
    # While finer tiles load, coarser ones stand in: the map is never blank.
    assert frames and all(f["tilesDrawn"] for f in frames)
    screenshot(f"overlay-z{d1['z']}")
    assert d1["z"] >= target
    assert d1["tilesDrawn"] and all(k.startswith(f"{d1['z']}/") for k in d1["tilesDrawn"])
    assert set(d1["tilesDrawn"]) == set(d1["tilesNeeded"])
    # The overlay shows this level's sample in view: at least as many as level 0 had in the same box.
    bbox = ",".join(f"{v:.6f}" for v in d1["bbox"])
    at_z0 = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox={bbox}&sampling=bluenoise")["total_in_view"]
    at_z1 = api(app_url, f"api/maps/{dataset}/{name}/points?z={d1['z']}&bbox={bbox}&sampling=bluenoise")["total_in_view"]
    assert at_z1 >= at_z0
    assert at_z0 <= d1["points"] <= at_z1 + 5  # +5: points on the border drawn within a stamp's radius
    if at_z1 > at_z0:
        assert d1["points"] > at_z0
    colours = canvas_colours(page, "#overview canvas.points-layer")
    assert sum(n for c, n in colours.items() if c[3] == 255) > 0, "points are drawn"
    assert page.console_errors == []


def test_keyboard_zoom_and_random_sampling(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    open_app(page, app_url, dataset, metric["name"], mode="overlay")
    page.click("#overview button[data-sampling=random]")
    wait_settled(page)
    assert drawn(page)["sampling"] == "random"
    page.locator("#overview .ov-stage").focus()
    page.keyboard.press("+")
    page.wait_for_timeout(400)
    wait_settled(page)
    d = drawn(page)
    assert d["z"] == 1 and abs(d["k"] - 2) < 1e-6
    screenshot("random-z1")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(300)
    assert drawn(page)["view"]["x"] > d["view"]["x"], "the left arrow moves the view"


def test_scatter_mode_draws_every_item(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    d = open_app(page, app_url, dataset, metric["name"], mode="scatter")
    wait_settled(page)
    d = drawn(page)
    screenshot("scatter")
    n_items = api(app_url, f"api/maps/{dataset}/{metric['name']}")["n_items"]
    assert d["mode"] == "scatter" and d["points"] == n_items and not d["capped"]
    assert d["tilesDrawn"] == []
    colours = canvas_colours(page, "#overview canvas.points-layer")
    assert sum(n for c, n in colours.items() if c[3] == 255) > 0


def test_difference_metric_has_a_diverging_legend_centred_at_zero(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url, kind="difference")
    open_app(page, app_url, dataset, metric["name"], mode="contour")
    screenshot("difference")
    assert "centred at 0" in page.inner_text("#overview .legend-title")
    palette = legend_colours(page)
    assert len(palette) % 2 == 1
    r, g, b = palette[len(palette) // 2]
    assert min(r, g, b) > 200 and max(r, g, b) - min(r, g, b) < 25, "the middle band is neutral"
    assert palette[0][0] > palette[0][2] and palette[-1][2] > palette[-1][0], "negative red, positive blue"
    ticks = page.eval_on_selector_all("#overview .legend-bar text", "els => els.map(e => e.textContent)")
    lo, hi = float(ticks[0].lstrip("≤").replace("−", "-")), float(ticks[-1].lstrip("≥").replace("−", "-"))
    assert lo == pytest.approx(-hi, rel=0.02)


def test_switching_metric_replaces_the_map(page, app_url):
    dataset, metric = pick_metric(app_url)
    _, diff = pick_metric(app_url, kind="difference")
    open_app(page, app_url, dataset, metric["name"], mode="contour")
    page.select_option("select[name=metric]", diff["name"])
    page.wait_for_function(f"() => window.__dkmap.state().mapInfo && window.__dkmap.state().mapInfo.metric === {diff['name']!r}")
    wait_settled(page)
    assert "centred at 0" in page.inner_text("#overview .legend-title")
    facts = page.inner_text(".facts")
    assert "validation MSE" in facts and "α at z = 0" in facts
    training = page.evaluate("window.__dkmap.state().mapInfo.training")
    lam_row = page.inner_text('.facts [data-fact="λ (metric weight)"] dd')
    assert lam_row.startswith(f"{training['lam']:g} · "), lam_row
    assert lam_row.endswith("given" if len(training["lams_tried"]) == 1 else
                            "chosen of " + ", ".join(f"{v:g}" for v in training["lams_tried"]))


def test_resizing_the_window_keeps_the_map_point_in_the_middle(page, app_url):
    dataset, metric = pick_metric(app_url)
    open_app(page, app_url, dataset, metric["name"], mode="overlay")
    x, y = dense_point(app_url, dataset, metric["name"])
    zoom_at(page, x, y, 2)
    wait_still(page)

    def middle():
        v = drawn(page)["view"]
        return (((v["width"] / 2 - v["x"]) / v["k"] - v["ox"]) / v["size"],
                ((v["height"] / 2 - v["y"]) / v["k"] - v["oy"]) / v["size"], v["k"], v["width"], v["height"])

    before = middle()
    page.set_viewport_size({"width": 1100, "height": 700})
    wait_still(page)
    after = middle()
    assert after[3:] != before[3:], "the stage did not change size"
    assert after[2] == before[2]
    assert abs(after[0] - before[0]) < 1e-6 and abs(after[1] - before[1]) < 1e-6
