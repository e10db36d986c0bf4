"""Colouring the points by a column in a real browser against the real server: palette and legend."""

from __future__ import annotations

import pytest

from ui_helpers import api, app_url, canvas_colours, drawn, nearest_distance, open_app, pick_metric, wait_settled  # noqa: F401

pytestmark = pytest.mark.browser


def hex_rgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


def test_colouring_by_a_category_column_draws_the_legends_colours(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    columns = next(d for d in api(app_url, "api/datasets")["datasets"] if d["name"] == dataset)["colour_columns"]
    assert "split" in columns
    open_app(page, app_url, dataset, name, mode="scatter")
    metric_colours = canvas_colours(page, "#overview canvas.points-layer")
    page.select_option("select[name=colourBy]", "split")
    page.wait_for_selector("#overview .point-legend[data-column=split]")
    page.wait_for_function("() => window.__dkmap.state().drawn.colourBy === 'split'")
    wait_settled(page)
    screenshot("coloured-by-split")
    info = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox=0,0,1,1&sampling=all&colour=split")
    values = info["colour"]["values"]
    labels = page.eval_on_selector_all("#overview .point-legend .legend-key", "els => els.map(e => e.textContent)")
    assert labels == values
    palette = [hex_rgb(h) for h in page.eval_on_selector_all(
        "#overview .point-legend [data-point-colour]", "els => els.map(e => e.dataset.pointColour)")]
    assert len(set(palette)) == len(values) >= 2
    colours = canvas_colours(page, "#overview canvas.points-layer")
    opaque = {c: n for c, n in colours.items() if c[3] == 255}
    assert sum(opaque.values()) > 0
    # Point discs are the legend's colours (their one-pixel rings and edges aside).
    near = {i: sum(n for c, n in opaque.items() if nearest_distance(c, [p]) <= 3) for i, p in enumerate(palette)}
    assert sum(near.values()) / sum(opaque.values()) > 0.8
    # Every category the server has in view is drawn in its own colour, in proportion.
    counts = [info["points"]["colour"].count(i) for i in range(len(values))]
    common = [i for i, k in enumerate(counts) if k / len(info["points"]["colour"]) >= 0.1]
    assert len(common) >= 2, f"the view should hold at least two common categories, has {counts}"
    for i in common:
        assert near[i] > 0, f"category {values[i]} has {counts[i]} items but its colour is not drawn"
    assert colours != metric_colours
    # Back to the metric: the column's legend goes, and the contour legend stays.
    page.select_option("select[name=colourBy]", "")
    page.wait_for_function("() => window.__dkmap.state().drawn.colourBy === null")
    assert page.locator("#overview .point-legend").count() == 0
    assert page.locator("#overview .ov-legend rect[data-colour]").count() >= 5
    assert page.console_errors == []
