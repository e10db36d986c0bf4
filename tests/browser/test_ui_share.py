"""Sharing a view in a real browser: the link holds the view, lasso, bars and colouring, and a fresh
page opened on it shows the same tiles and the same selection."""

from __future__ import annotations

import pytest

from ui_helpers import (api, app_url, circle_polygon, dense_point, draw_lasso, drawn, open_app,  # noqa: F401
                        pick_metric, state, wait_settled, wait_still, zoom_at)

pytestmark = pytest.mark.browser

RESTORED = ["dataset", "metric", "mode", "sampling", "colourBy", "rank", "theme", "lassoPolygon", "filter", "columnFilters"]


def snapshot(page) -> dict:
    d = drawn(page)
    s = {k: state(page, f"s.{k}") for k in RESTORED}
    return {**s, "z": d["z"], "tiles": sorted(d["tilesNeeded"]), "pointLevel": d["pointLevel"],
            "count": state(page, "s.selection && s.selection.count"),
            "filtered": page.get_attribute(".keywords", "data-filtered"),
            "highlightRows": d["highlightRows"], "theme_attr": page.get_attribute("html", "data-theme")}


def test_a_copied_link_opens_the_same_view_and_selection_in_a_fresh_page(page, app_url, browser):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    page.wait_for_selector(".distributions .dist[data-column=split]")
    page.locator(".distributions .dist[data-column=split] label.check[data-value=train] input").check()
    page.wait_for_function("() => window.__dkmap.state().filteredCount !== null")
    x, y = dense_point(app_url, dataset, name)
    zoom_at(page, x, y, 1)
    wait_still(page)
    draw_lasso(page, circle_polygon(x, y, 0.06))
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    page.click(".keywords .rank button[data-rank=frequency]")
    page.wait_for_selector(".keywords .rank button.active[data-rank=frequency]")
    page.wait_for_selector(".keywords[data-count] .kw rect.bar:not(.empty)")
    page.locator(".keywords .kw rect.bar:not(.empty)").first.click()
    page.wait_for_selector(".keywords[data-filtered]")
    page.select_option("select[name=colourBy]", "split")
    page.click("#theme-toggle")
    page.wait_for_function("() => window.__dkmap.state().drawn.colourBy === 'split'")
    wait_still(page)
    before = snapshot(page)
    assert before["count"] > 0 and before["filter"] and before["theme"] == "dark" and before["z"] >= 1

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#copy-link")
    page.wait_for_function("() => document.getElementById('copy-link').textContent === 'Link copied'")
    url = page.evaluate("navigator.clipboard.readText()")
    assert url == page.url and "lasso=" in url and "bars=" in url and "view=" in url
    # Without a clipboard the link is shown selected in a field, to copy by hand.
    page.evaluate("() => { navigator.clipboard.writeText = () => Promise.reject(new Error('denied')); }")
    page.click("#copy-link")
    assert page.is_visible("#share-url")
    assert page.input_value("#share-url") == url
    assert page.evaluate("document.activeElement.id") == "share-url"

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        fresh = context.new_page()
        fresh.console_errors = []
        fresh.on("console", lambda msg: fresh.console_errors.append(msg.text) if msg.type == "error" else None)
        fresh.goto(url)
        fresh.wait_for_selector(".keywords[data-filtered]", timeout=120_000)
        fresh.wait_for_function("() => window.__dkmap.state().drawn.colourBy === 'split'")
        wait_still(fresh)
        after = snapshot(fresh)
        # The link keeps 6 decimals of each vertex (a tenth of a pixel at the deepest zoom).
        assert after.pop("lassoPolygon") == [[pytest.approx(v, abs=1e-6) for v in p] for p in before.pop("lassoPolygon")]
        assert after == before
        assert after["columnFilters"] == [{"column": "split", "in": ["train"], "other": False}]
        assert after["count"] == api(app_url, f"api/maps/{dataset}/{name}/selection",
                                     {"polygon": state(page, "s.lassoPolygon"), "filters": after["columnFilters"]})["count"]
        assert fresh.get_attribute(".distributions", "data-n") == page.get_attribute(".distributions", "data-n")
        centre_a, centre_b = state(page, "s.centre"), state(fresh, "s.centre")
        assert centre_b == {"x": pytest.approx(centre_a["x"], abs=1e-5), "y": pytest.approx(centre_a["y"], abs=1e-5),
                            "k": pytest.approx(centre_a["k"], rel=1e-4)}
        assert fresh.console_errors == []
    finally:
        context.close()
    assert page.console_errors == []


def test_a_garbled_link_falls_back_to_defaults_for_what_it_cannot_read(page, app_url):
    dataset, metric = pick_metric(app_url)
    page.goto(f"{app_url}/#dataset={dataset}&metric={metric['name']}&mode=spiral&view=0.5,x,2"
              "&lasso=0,0;1&bars=%7B&colour=nope&theme=neon&rank=best")
    wait_settled(page)
    s = state(page, "({mode: s.mode, colourBy: s.colourBy, rank: s.rank, lasso: s.lassoPolygon, dataset: s.dataset, metric: s.metric})")
    assert s == {"mode": "overlay", "colourBy": None, "rank": "lift", "lasso": None, "dataset": dataset, "metric": metric["name"]}
    assert drawn(page)["view"]["k"] == 1
    assert page.get_attribute("html", "data-theme") == "light"
    assert page.console_errors == []


def test_a_link_opened_in_the_same_tab_shows_its_map(page, app_url):
    """Pasting another link into the address bar changes only the hash; the page shows that link's
    map and mode, not the one it was on."""
    dataset, metric = pick_metric(app_url)
    others = [m["name"] for ds in api(app_url, "api/datasets")["datasets"] if ds["name"] == dataset
              for m in ds["metrics"] if m["built"] and m["name"] != metric["name"]]
    assert others, "the test server's dataset has more than one built map"
    open_app(page, app_url, dataset, metric["name"], mode="overlay")
    page.evaluate("(h) => { window.location.hash = h; }", f"dataset={dataset}&metric={others[0]}&mode=contour")
    page.wait_for_function("(m) => { const s = window.__dkmap.state(); return s.metric === m && s.mapInfo !== null; }",
                           arg=others[0], timeout=60_000)
    wait_settled(page)
    s = state(page, "({metric: s.metric, mode: s.mode, map: s.mapInfo.metric})")
    assert s == {"metric": others[0], "mode": "contour", "map": others[0]}
    assert drawn(page)["mode"] == "contour"
    assert page.console_errors == []
