"""Thumbnails on the map in a real browser: zoomed in with images on (key I), the thumbnails drawn are
the items the points endpoint lists for the view at the level shown; hovering one enlarges it, and
clicking it opens the instance view of that item, as clicking a dot does."""

from __future__ import annotations

import math

import pytest

from ui_helpers import api, app_url, dense_point, drawn, open_app, pick_metric, wait_settled, zoom_at  # noqa: F401

pytestmark = pytest.mark.browser

STAGE = "#overview .ov-stage"
THUMB_PX, HOVER_PX = 48, 160   # layers/spriteLayer.js: drawn size of a thumbnail, and of the hovered one


def thumbnails(page) -> list[dict]:
    return page.evaluate(f"document.querySelector('{STAGE}').__thumbnails")


def images_on_zoomed_in(page, app_url) -> tuple[str, str, int]:
    """Open a map, zoom in on its densest part until thumbnails fit, turn images on with I and wait
    until every sheet in view is drawn; (dataset, metric, thumbnail level)."""
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    x, y = dense_point(app_url, dataset, name)
    page.locator(STAGE).focus()
    page.keyboard.press("i")
    for z in range(1, 6):
        zoom_at(page, x, y, z)
        if int(page.get_attribute(STAGE, "data-thumbnail-level")) >= 0:
            break
    page.wait_for_function(f"() => {{ const s = document.querySelector('{STAGE}');"
                           " return +s.dataset.thumbnails > 0 && +s.dataset.thumbnailsPending === 0; }",
                           timeout=60_000)
    wait_settled(page)
    level = int(page.get_attribute(STAGE, "data-thumbnail-level"))
    assert level >= 0
    return dataset, name, level


def test_thumbnails_drawn_are_the_items_the_points_endpoint_lists_for_the_view(page, app_url, screenshot):
    dataset, name, level = images_on_zoomed_in(page, app_url)
    screenshot("thumbnails")
    d = drawn(page)
    x0, y0, x1, y1 = d["bbox"]
    bbox = ",".join(f"{v:.9f}" for v in (x0, y0, x1, y1))
    listed = api(app_url, f"api/maps/{dataset}/{name}/points?z={level}&bbox={bbox}&sampling=bluenoise&limit=100000")
    assert not listed["capped"] and listed["total_in_view"] > 0
    drawn_thumbs = thumbnails(page)
    in_view = {t["id"] for t in drawn_thumbs if x0 <= t["x"] <= x1 and y0 <= t["y"] <= y1}
    assert in_view == set(listed["points"]["id"])
    assert len({t["id"] for t in drawn_thumbs}) == len(drawn_thumbs)   # each item drawn once
    # at its own position, THUMB_PX on its longer side
    box = page.locator(STAGE).bounding_box()
    pos = dict(zip(listed["points"]["id"], zip(listed["points"]["x"], listed["points"]["y"])))
    v = d["view"]
    for t in drawn_thumbs:
        if t["id"] in pos:
            bx, by, w, h = t["box"]
            sx = v["x"] + v["k"] * (v["ox"] + pos[t["id"]][0] * v["size"])
            sy = v["y"] + v["k"] * (v["oy"] + pos[t["id"]][1] * v["size"])
            assert abs(bx + w / 2 - sx) < 0.01 and abs(by + h / 2 - sy) < 0.01
            assert max(w, h) == pytest.approx(THUMB_PX)
    # the stage's box and the page agree (the hook is in CSS px of the stage)
    assert box["width"] == pytest.approx(v["width"], abs=1)


def _loneliest(thumbs: list[dict], width: float, height: float) -> dict:
    """The thumbnail farthest from any other, with room around it on the stage for its enlargement."""
    def centre(t):
        x, y, w, h = t["box"]
        return x + w / 2, y + h / 2

    def gap(t):
        return min((math.dist(centre(t), centre(o)) for o in thumbs if o is not t), default=1e9)

    room = [t for t in thumbs if HOVER_PX < centre(t)[0] < width - HOVER_PX and HOVER_PX < centre(t)[1] < height - HOVER_PX]
    assert room, "no thumbnail away from the stage's edges"
    return max(room, key=gap)


def test_hovering_a_thumbnail_enlarges_it_and_clicking_opens_its_instance_view(page, app_url, screenshot):
    dataset, name, _ = images_on_zoomed_in(page, app_url)
    stage = page.locator(STAGE).bounding_box()
    target = _loneliest(thumbnails(page), stage["width"], stage["height"])
    x, y, w, h = target["box"]
    at = (stage["x"] + x + w / 2, stage["y"] + y + h / 2)
    page.mouse.move(*at)
    page.wait_for_function(f"() => (document.querySelector('{STAGE}').__thumbnails || [])"
                           f".some((t) => t.enlarged && t.id === {target['id']!r})", timeout=30_000)
    enlarged = [t for t in thumbnails(page) if t["enlarged"]]
    assert [t["id"] for t in enlarged] == [target["id"]]
    ex, ey, ew, eh = enlarged[0]["box"]
    assert max(ew, eh) == pytest.approx(HOVER_PX)
    assert ex + ew / 2 == pytest.approx(x + w / 2) and ey + eh / 2 == pytest.approx(y + h / 2)   # same centre
    item = api(app_url, f"api/datasets/{dataset}/items/{target['id']}")
    page.wait_for_function(f"() => document.querySelector('#overview .tooltip .tt-prompt')?.textContent === {item['prompt']!r}",
                           timeout=30_000)
    screenshot("thumbnail-hover")

    page.mouse.click(*at)
    page.wait_for_selector(f".instance[data-state=ready][data-item={target['id']!r}]", timeout=60_000)
    assert page.inner_text(".inst-prompt") == item["prompt"]
    # moving off every thumbnail shrinks it back
    page.mouse.move(1, 1)
    page.wait_for_function(f"() => !document.querySelector('{STAGE}').__thumbnails.some((t) => t.enlarged)",
                           timeout=30_000)
    assert page.console_errors == []
