"""Lasso, keyword histograms and bar filters in a real browser against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui_helpers import (api, app_url, circle_polygon, dense_point, draw_lasso, drawn, open_app,  # noqa: F401
                        pick_metric, state, wait_settled, zoom_at)

pytestmark = pytest.mark.browser


def lasso_selection(page, app_url):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    x, y = dense_point(app_url, dataset, name)
    draw_lasso(page, circle_polygon(x, y, 0.12))
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    wait_settled(page)
    polygon = state(page, "s.lassoPolygon")
    expected = api(app_url, f"api/maps/{dataset}/{name}/selection", {"polygon": polygon})
    return dataset, name, polygon, expected


def bar_rows(expected, keyword, bin_index):
    """Rows of the selection's sample in one keyword bar."""
    return {r for r, b in zip(expected["sample"]["row"], keyword["bin_of"]) if b == bin_index}


def test_lasso_selects_the_items_inside_and_shows_their_keywords(page, app_url, screenshot):
    dataset, name, polygon, expected = lasso_selection(page, app_url)
    screenshot("lasso")
    assert 3 <= len(polygon) <= 1000
    assert not state(page, "s.lassoActive"), "lasso mode ends when the polygon closes"
    assert state(page, "s.item") is None, "closing the lasso does not also click an item"
    assert expected["count"] > 0
    assert int(page.get_attribute(".keywords", "data-count")) == expected["count"]
    assert page.inner_text(".sel-count").replace(",", "") == str(expected["count"])
    assert f"mean {expected['stats']['mean']:.3g}".replace("-", "−") in page.inner_text(".sel-summary")
    keywords = expected["keywords"]["keywords"]
    cards = page.locator(".kw")
    assert cards.count() == len(keywords) > 0
    for i, kw in enumerate(keywords):
        card = cards.nth(i)
        assert card.get_attribute("data-keyword") == kw["keyword"]
        bars = card.locator("rect.bar")
        assert bars.count() == len(kw["bins"])
        assert [int(bars.nth(j).get_attribute("data-count")) for j in range(bars.count())] == [b["count"] for b in kw["bins"]]
    # The selection is drawn on the map.
    assert page.locator("#overview path.lasso-selection").get_attribute("d")


def test_bar_clicks_filter_the_overview_and_survive_zooming(page, app_url, screenshot):
    dataset, name, polygon, expected = lasso_selection(page, app_url)
    keywords = expected["keywords"]["keywords"]
    kw = keywords[0]
    j = max(range(len(kw["bins"])), key=lambda b: kw["bins"][b]["count"])
    page.locator(".kw").nth(0).locator(f"rect.bar[data-bin='{j}']").click()
    page.wait_for_function("() => document.querySelector('.keywords').dataset.filtered !== undefined")
    wait_settled(page)
    assert not expected["sample"]["sampled"], "the small demo's lassos are not sampled"
    want = bar_rows(expected, kw, j)
    assert int(page.get_attribute(".keywords", "data-filtered")) == len(want)
    d = drawn(page)
    screenshot("filtered")
    assert d["highlightRows"] == len(want)
    assert d["highlighted"] == len(want), "every filtered item is drawn (all in view at the whole-map zoom)"
    # A second bar of the same keyword adds its items.
    others = [b for b in range(len(kw["bins"])) if b != j and kw["bins"][b]["count"] > 0]
    assert others, "the demo lasso's first keyword spreads over more than one bar"
    page.locator(".kw").nth(0).locator(f"rect.bar[data-bin='{others[0]}']").click()
    wait_settled(page)
    want |= bar_rows(expected, kw, others[0])
    assert drawn(page)["highlightRows"] == len(want)
    # A bar of another keyword narrows to the items in both.
    assert len(keywords) > 1, "the demo lasso has several keywords"
    kw2 = keywords[1]
    j2 = max(range(len(kw2["bins"])), key=lambda b: kw2["bins"][b]["count"])
    page.locator(".kw").nth(1).locator(f"rect.bar[data-bin='{j2}']").click()
    wait_settled(page)
    want &= bar_rows(expected, kw2, j2)
    assert drawn(page)["highlightRows"] == len(want)
    # Filters survive zooming.
    x, y = polygon[0]
    zoom_at(page, sum(p[0] for p in polygon) / len(polygon), sum(p[1] for p in polygon) / len(polygon), 1)
    assert drawn(page)["highlightRows"] == len(want)
    assert len(state(page, "s.filter")) >= 1
    screenshot("filtered-zoomed")
    page.click(".clear-filter")
    wait_settled(page)
    assert drawn(page)["highlightRows"] == 0 and drawn(page)["highlighted"] == 0


@pytest.fixture(scope="module")
def sampled_url(built_data_dir):
    """The same data served with a 40-item selection sample, so demo lassos are sampled."""
    from helpers.live_server import LiveServer

    server = LiveServer(built_data_dir, "--selection-sample", "40")
    yield server.url
    server.stop()


def test_a_sampled_lasso_marks_its_sample_and_estimates_what_bars_hold(page, sampled_url, screenshot):
    dataset, name, polygon, expected = lasso_selection(page, sampled_url)
    count, sample = expected["count"], expected["sample"]
    assert sample["sampled"] and sample["size"] == 40 < count
    assert int(page.get_attribute(".keywords", "data-count")) == count
    assert "random 40 of the selected items" in page.inner_text(".sel-summary")
    kw = expected["keywords"]["keywords"][0]
    j = max(range(len(kw["bins"])), key=lambda b: kw["bins"][b]["count"])
    page.locator(".kw").nth(0).locator(f"rect.bar[data-bin='{j}']").click()
    page.wait_for_function("() => document.querySelector('.keywords').dataset.filtered !== undefined")
    wait_settled(page)
    want = bar_rows(expected, kw, j)
    estimate = round(len(want) * count / 40)
    assert kw["bins"][j]["sample_count"] == len(want) and kw["bins"][j]["count"] == estimate
    assert int(page.get_attribute(".keywords", "data-filtered")) == estimate
    assert f"Filter: ≈{estimate:,} items match" in page.inner_text(".filter-note")
    d = drawn(page)
    assert d["highlightRows"] == len(want) and d["highlighted"] == len(want), "the sample's matches are ringed"
    assert f"≈{estimate:,} ({len(want)} of a 40-item sample shown)" in page.inner_text("#overview .ov-status")
    screenshot("sampled-filter")
    # Every id of the selection, not just the sample's, is saved page by page.
    with page.expect_download() as info:
        page.click(".download-ids")
    saved = Path(info.value.path()).read_text().split("\n")
    everything = api(sampled_url, f"api/maps/{dataset}/{name}/selection/ids", {"polygon": polygon, "limit": 100000})
    assert saved[:-1] == everything["ids"] and len(everything["ids"]) == count and saved[-1] == ""
    assert info.value.suggested_filename == f"{dataset}-{name}-selection.txt"


def test_escape_cancels_lasso_mode(page, app_url):
    dataset, metric = pick_metric(app_url)
    open_app(page, app_url, dataset, metric["name"])
    page.locator("#overview .ov-stage").focus()
    page.keyboard.press("l")
    assert state(page, "s.lassoActive")
    assert page.locator("#overview .ov-stage.lasso-mode").count() == 1
    page.keyboard.press("Escape")
    assert not state(page, "s.lassoActive")
    assert state(page, "s.lassoPolygon") is None


def test_keyword_ranking_toggle_asks_for_frequency_and_shows_both_counts(page, app_url):
    dataset, name, polygon, expected = lasso_selection(page, app_url)
    assert expected["keywords"]["rank"] == "lift"
    cards = ".keywords .kw"

    def shown():
        return page.eval_on_selector_all(cards, """els => els.map(e => [e.dataset.keyword,
            Number(e.querySelector('.kw-count').dataset.inSelection), Number(e.querySelector('.kw-count').dataset.inDataset)])""")

    want = [[k["keyword"], k["in_selection"], k["in_dataset"]] for k in expected["keywords"]["keywords"]]
    assert len(want) >= 2
    assert shown() == want
    assert page.get_attribute(".keywords .rank button.active", "data-rank") == "lift"
    page.click(".keywords .rank button[data-rank=frequency]")
    page.wait_for_selector(".keywords .rank button.active[data-rank=frequency]")
    page.wait_for_selector(".keywords[data-count]")
    by_freq = api(app_url, f"api/maps/{dataset}/{name}/selection", {"polygon": polygon, "rank": "frequency"})
    want_freq = [[k["keyword"], k["in_selection"], k["in_dataset"]] for k in by_freq["keywords"]["keywords"]]
    page.wait_for_function("(n) => document.querySelectorAll('.keywords .kw').length === n", arg=len(want_freq))
    assert shown() == want_freq
    assert want_freq != want, "the two rankings order this selection's keywords differently"
    text = page.inner_text(".keywords .kw .kw-count")
    assert "in selection" in text and "in dataset" in text
    assert page.console_errors == []
