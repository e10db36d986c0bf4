"""Side-by-side mode: two maps of the same items, linked by lasso selection and by hover."""

from __future__ import annotations

import pytest

from ui_helpers import (api, app_url, circle_polygon, dense_point, draw_lasso, drawn, open_app,  # noqa: F401
                        pick_metric, state, to_page, wait_settled)

pytestmark = pytest.mark.browser


def test_lasso_and_hover_on_one_map_mark_the_same_items_on_the_other(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    _, other = pick_metric(app_url, kind="difference")
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    page.select_option("select[name=metricB]", other["name"])
    page.wait_for_function("() => window.__dkmap.state().drawnB.tilesDrawn && window.__dkmap.state().drawnB.tilesDrawn.length > 0"
                           " && window.__dkmap.state().drawnB.pending === 0", timeout=60_000)
    wait_settled(page)
    assert page.locator("#overview-b .ov-stage").is_visible()
    assert "centred at 0" in page.inner_text("#overview-b .legend-title")
    x, y = dense_point(app_url, dataset, name)
    draw_lasso(page, circle_polygon(x, y, 0.12))
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    count = int(page.get_attribute(".keywords", "data-count"))
    assert count > 0
    page.wait_for_function(f"() => window.__dkmap.state().drawnB.highlighted === {count}", timeout=60_000)
    b = state(page, "s.drawnB")
    assert b["highlightRows"] == count, "the other map marks exactly the selected items"
    assert drawn(page)["highlightRows"] == 0, "the lasso's own map shows the lasso, not a highlight"
    screenshot("linked-selection")
    # Hover a point on map A: map B rings the same item at its own position.
    pts = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]
    page.mouse.move(*to_page(page, pts["x"][0], pts["y"][0]))
    page.wait_for_function("() => window.__dkmap.state().hover !== null")
    hovered = state(page, "s.hover")
    assert hovered["slot"] == "a"
    page.wait_for_selector("#overview-b .linked-ring:not([style*='none'])", timeout=30_000)
    item = api(app_url, f"api/datasets/{dataset}/items/{hovered['id']}")
    bx, by = item["positions"][other["name"]]
    v = state(page, "s.drawnB.view")
    cx = float(page.get_attribute("#overview-b .linked-ring", "cx"))
    cy = float(page.get_attribute("#overview-b .linked-ring", "cy"))
    assert abs(cx - (v["x"] + v["k"] * (v["ox"] + bx * v["size"]))) < 1
    assert abs(cy - (v["y"] + v["k"] * (v["oy"] + by * v["size"]))) < 1
    screenshot("linked-hover")
