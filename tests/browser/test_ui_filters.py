"""Column filters and distributions in a real browser against the real server: brushing a histogram
greys the failing points, the counts are the server's, filters combine with the lasso and export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from ui_helpers import (api, app_url, canvas_colours, circle_polygon, dense_point, draw_lasso, drawn,  # noqa: F401
                        open_app, pick_metric, state, wait_settled)

pytestmark = pytest.mark.browser

DIMMED = (185, 185, 185, 255)


def wait_for_answer(page, filters) -> None:
    """Until the panel shows the histograms of these filters and the map has redrawn under them."""
    page.wait_for_function("(f) => JSON.stringify(window.__dkmap.state().columnFilters) === f", arg=json.dumps(filters, separators=(",", ":")))
    page.wait_for_function("""(want) => { const s = window.__dkmap.state();
      return (want ? s.filteredCount !== null : s.filteredCount === null) && (want ? s.drawn.passing !== null : s.drawn.passing === null); }""",
                           arg=bool(filters))
    page.wait_for_timeout(400)
    wait_settled(page)


def histograms(app_url, dataset, metric, body):
    return api(app_url, f"api/maps/{dataset}/{metric}/histograms", body)


def test_brushing_a_histogram_greys_failing_points_and_counts_them_on_the_server(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    card = f".distributions .dist[data-column='{name}'] svg"
    page.wait_for_selector(card)
    box = page.locator(card).bounding_box()
    y = box["y"] + 18
    page.mouse.move(box["x"] + 0.45 * 250, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * 250, y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => window.__dkmap.state().columnFilters.length === 1")
    filters = state(page, "s.columnFilters")
    assert filters[0]["column"] == name and filters[0]["range"][0] < filters[0]["range"][1]
    wait_for_answer(page, filters)
    screenshot("brushed")
    d = drawn(page)
    # The points drawn passing are the ones the server says pass, among the same sample.
    bbox = ",".join(str(v) for v in [0, 0, 1, 1])
    pts = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox={bbox}&sampling=bluenoise&filters={quote(json.dumps(filters))}")
    assert d["z"] == 0 and d["passing"] == pts["passing"]
    lo, hi = filters[0]["range"]
    assert pts["passing"] == sum(1 for v in pts["points"]["value"] if v is not None and lo <= v <= hi)
    assert 0 < d["passing"] < d["points"]
    colours = canvas_colours(page, "#overview canvas.points-layer")
    assert colours[DIMMED] > 0, "failing points are drawn grey"
    assert sum(n for c, n in colours.items() if c[3] == 255 and c != DIMMED and max(c[:3]) - min(c[:3]) > 30) > 0
    # The status line and the panel show the server's exact count for what is in view.
    scope = {"bbox": [round(v * 1e6) / 1e6 for v in d["bbox"]], "filters": filters}
    want = histograms(app_url, dataset, name, scope)
    assert int(page.get_attribute(".distributions", "data-n")) == want["n"]
    assert f"{want['n']:,} of {want['n_scope']:,} in view pass the filters" in page.inner_text("#overview .ov-status")
    assert page.locator(".active-filters li").count() == 1
    assert "grey: fails the column filter" in page.inner_text("#overview .ov-legend")

    # A category filter narrows further (ANDed); the split checklist lists the server's values.
    page.locator(".distributions .dist[data-column=split] label.check[data-value=test] input").check()
    page.wait_for_function("() => window.__dkmap.state().columnFilters.length === 2")
    filters = state(page, "s.columnFilters")
    assert filters[1] == {"column": "split", "in": ["test"], "other": False}
    wait_for_answer(page, filters)
    want2 = histograms(app_url, dataset, name, {**scope, "filters": filters})
    assert want2["n"] < want["n"]
    page.wait_for_function("(n) => document.querySelector('.distributions').dataset.n === String(n)", arg=want2["n"])

    # Filters survive a mode change, and greying stays.
    page.click("#overview button[data-mode=scatter]")
    wait_settled(page)
    assert state(page, "s.columnFilters") == filters
    assert drawn(page)["passing"] is not None

    page.click(".distributions .clear-filters")
    wait_for_answer(page, [])
    assert drawn(page)["passing"] is None
    assert "pass the filters" not in page.inner_text("#overview .ov-status")
    assert page.console_errors == []


def test_filters_narrow_the_lasso_and_export_what_is_selected(page, app_url):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    page.wait_for_selector(".distributions .dist[data-column=split]")
    page.locator(".distributions .dist[data-column=split] label.check[data-value=train] input").check()
    filters = [{"column": "split", "in": ["train"], "other": False}]
    wait_for_answer(page, filters)
    x, y = dense_point(app_url, dataset, name)
    draw_lasso(page, circle_polygon(x, y, 0.15))
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    polygon = state(page, "s.lassoPolygon")
    plain = api(app_url, f"api/maps/{dataset}/{name}/selection", {"polygon": polygon})
    want = api(app_url, f"api/maps/{dataset}/{name}/selection", {"polygon": polygon, "filters": filters})
    assert 0 < want["count"] < plain["count"]
    assert int(page.get_attribute(".keywords", "data-count")) == want["count"]
    page.wait_for_function("(n) => document.querySelector('.distributions').dataset.n === String(n)", arg=want["count"])
    with page.expect_download() as info:
        page.click(".distributions .export-csv")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == want["count"]
    assert {r["split"] for r in rows} == {"train"}
    assert sorted(r["id"] for r in rows) == sorted(api(app_url, f"api/maps/{dataset}/{name}/selection/ids",
                                                         {"polygon": polygon, "filters": filters, "limit": 10000})["ids"])
    assert page.console_errors == []


def test_prompt_text_box_filters_by_contained_text(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    page.wait_for_selector(".distributions .dist[data-column=split]")
    word = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]["id"][0]
    prompt = api(app_url, f"api/datasets/{dataset}/items/{word}")["prompt"].split()[-1]
    page.fill("input[name=prompt-contains]", prompt)
    page.press("input[name=prompt-contains]", "Enter")
    filters = [{"column": "prompt", "contains": prompt}]
    wait_for_answer(page, filters)
    screenshot("prompt-contains")
    d = drawn(page)
    want = histograms(app_url, dataset, name, {"bbox": [round(v * 1e6) / 1e6 for v in d["bbox"]], "filters": filters})
    assert 0 < want["n"] < want["n_scope"]
    assert int(page.get_attribute(".distributions", "data-n")) == want["n"]
    assert page.inner_text(".active-filters li .af-text") == f"prompt contains “{prompt}”"
    page.click(".active-filters li .af-remove")
    wait_for_answer(page, [])
    assert page.input_value("input[name=prompt-contains]") == ""
    assert page.console_errors == []
