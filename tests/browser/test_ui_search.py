"""Search and place in a real browser: the items a query highlights on the map are the API's
matches, and a pair placed through the form is marked where the API places it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from ui_helpers import (api, app_url, canvas_colours, drawn, open_app, pick_metric, state, to_page,  # noqa: F401
                        wait_settled, wait_still)

pytestmark = pytest.mark.browser

DIMMED = (185, 185, 185)   # layers/points.js DIMMED: the items a highlight leaves out
RING_DARK = (20, 20, 20)   # layers/points.js RING_DARK: the ring of a highlighted item


def a_word_with_some_matches(app_url: str, dataset: str, metric: str) -> tuple[str, dict]:
    """A word of the dataset's own prompts that matches a few dozen items (not one, not most)."""
    pts = api(app_url, f"api/maps/{dataset}/{metric}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]
    for item_id in pts["id"][:40]:
        prompt = api(app_url, f"api/datasets/{dataset}/items/{quote(item_id, safe='')}")["prompt"]
        for word in sorted(set(re.findall(r"[a-z]{5,}", prompt.lower()))):
            answer = api(app_url, f"api/datasets/{dataset}/search?q={word}&mode=text&limit=100000")
            if 5 <= answer["count"] <= 400:
                return word, answer
    pytest.fail("no word of the first 40 prompts matches between 5 and 400 items")


def test_a_text_query_highlights_on_the_map_exactly_the_items_the_api_finds(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    word, expected = a_word_with_some_matches(app_url, dataset, name)
    count = expected["count"]
    assert len(expected["rows"]) == count   # the whole answer in one page

    page.fill("#search input[name=search-q]", word)
    page.press("#search input[name=search-q]", "Enter")
    page.wait_for_selector(f"#search[data-state=ready][data-count='{count}']", timeout=60_000)
    page.wait_for_function(f"() => window.__dkmap.state().drawn.highlighted === {count}", timeout=60_000)
    wait_settled(page)
    screenshot("search-highlight")

    # what the map drew ringed, as rows and through the answer's row → id pairs, is the API's answer
    rows = page.evaluate("[...document.querySelector('#overview .ov-stage').__highlighted]")
    assert sorted(rows) == sorted(expected["rows"])
    id_of = dict(zip(expected["rows"], expected["ids"]))
    assert {id_of[r] for r in rows} == set(expected["ids"])
    d = drawn(page)
    assert d["highlightRows"] == count and d["highlighted"] == count
    # the list shows the first page of the API's ranking
    listed = page.eval_on_selector_all("#search .search-results li", "els => els.map(e => e.dataset.id)")
    assert listed == expected["ids"][:len(listed)] and len(listed) == min(10, count)
    assert f"{count} match" in page.inner_text("#search .search-summary")
    # on the canvas: the rest greyed, the matches ringed dark
    colours = canvas_colours(page, "#overview canvas.points-layer")
    assert sum(n for c, n in colours.items() if c[:3] == DIMMED) > 0
    assert sum(n for c, n in colours.items() if c[:3] == RING_DARK) > 0
    assert page.console_errors == []


def test_an_uploaded_image_and_prompt_are_marked_where_the_api_places_them(page, app_url, screenshot, tmp_path):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    pts = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]
    item = api(app_url, f"api/datasets/{dataset}/items/{quote(pts['id'][0], safe='')}")
    model = metric["generators"][0]
    image = requests.get(f"{app_url}/api/datasets/{dataset}/items/{quote(item['id'], safe='')}/image?model={model}",
                         timeout=60)
    assert image.ok and image.headers["Content-Type"] in ("image/png", "image/jpeg", "image/webp")
    upload = tmp_path / f"upload.{image.headers['Content-Type'].split('/')[1]}"
    upload.write_bytes(image.content)
    prompt = f"{item['prompt']} at dusk"

    page.fill("#place textarea[name=place-prompt]", prompt)
    page.set_input_files("#place input[name=place-image]", str(upload))
    page.click("#place button[name=place-submit]")
    page.wait_for_selector("#place[data-state=ready]", timeout=120_000)
    marker = page.locator("#overview .placed-marker.active")
    marker.wait_for(timeout=30_000)
    wait_still(page)
    screenshot("placed")

    # the same pair through the API directly: same encoder, same network, so the same position
    answer = requests.post(f"{app_url}/api/maps/{dataset}/{name}/place", timeout=120,
                           data={"prompt": prompt}, files={"image": (upload.name, image.content)})
    assert answer.ok, answer.text[:300]
    x, y = answer.json()["position"]
    assert float(marker.get_attribute("data-x")) == pytest.approx(x, abs=1e-6)
    assert float(marker.get_attribute("data-y")) == pytest.approx(y, abs=1e-6)
    # drawn there: the marker's centre on the page is the API's position under the page's view
    box = marker.bounding_box()
    sx, sy = to_page(page, x, y)
    assert abs(box["x"] + box["width"] / 2 - sx) < 1.5 and abs(box["y"] + box["height"] / 2 - sy) < 1.5
    # and the map panned to it
    stage = page.locator("#overview .ov-stage").bounding_box()
    assert abs(sx - (stage["x"] + stage["width"] / 2)) < 2 and abs(sy - (stage["y"] + stage["height"] / 2)) < 2
    assert page.locator("#place .placed-list li").count() == 1
    assert page.console_errors == []


def test_selected_search_results_export_exactly_their_items(page, app_url):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    word, expected = a_word_with_some_matches(app_url, dataset, name)
    page.fill("#search input[name=search-q]", word)
    page.press("#search input[name=search-q]", "Enter")
    page.wait_for_selector(f"#search[data-state=ready][data-count='{expected['count']}']", timeout=60_000)
    page.get_by_role("button", name="Select these").click()
    page.wait_for_selector(f".keywords[data-count='{expected['count']}']", timeout=120_000)
    with page.expect_download() as info:
        page.click(".distributions .export-csv")
    assert info.value.suggested_filename == f"{dataset}-{name}-selection.csv"
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert sorted(r["id"] for r in rows) == sorted(expected["ids"])
    assert page.console_errors == []


def test_highlighted_search_matches_are_what_the_export_writes(page, app_url):
    """Without "Select these" the export takes the highlighted matches, and its label says so."""
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    assert page.get_attribute(".distributions .export-scope", "data-scope") == "the whole dataset"
    word, expected = a_word_with_some_matches(app_url, dataset, name)
    page.fill("#search input[name=search-q]", word)
    page.press("#search input[name=search-q]", "Enter")
    page.wait_for_selector(f"#search[data-state=ready][data-count='{expected['count']}']", timeout=60_000)
    page.wait_for_selector(".distributions .export-scope[data-scope='the search matches']")
    assert state(page, "s.highlight.ids") is None          # not a selection: the keyword view stays
    with page.expect_download() as info:
        page.click(".distributions .export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert sorted(r["id"] for r in rows) == sorted(expected["ids"])
    assert page.console_errors == []
