"""Clicking an item opens the instance view: image(s), prompt, metrics, similar images that pan the map."""

from __future__ import annotations

import pytest

from ui_helpers import api, app_url, drawn, open_app, pick_metric, state, to_page, wait_still  # noqa: F401

pytestmark = pytest.mark.browser


def isolated_point(app_url, dataset, metric):
    """An overlay point at level 0 far from its neighbours, so a click cannot hit another one."""
    pts = api(app_url, f"api/maps/{dataset}/{metric}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]
    xy = list(zip(pts["x"], pts["y"]))

    def gap(i):
        return min(((xy[i][0] - x) ** 2 + (xy[i][1] - y) ** 2 for j, (x, y) in enumerate(xy) if j != i), default=1)

    i = max(range(min(len(xy), 400)), key=gap)
    return pts["id"][i], xy[i]


def test_click_opens_instance_view_and_similar_image_pans_the_map(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    item_id, (x, y) = isolated_point(app_url, dataset, name)
    page.mouse.move(*to_page(page, x, y))
    page.wait_for_selector("#overview .tooltip .tt-value")
    page.mouse.click(*to_page(page, x, y))
    page.wait_for_selector(".instance[data-state=ready]", timeout=60_000)
    assert page.get_attribute(".instance", "data-item") == item_id
    item = api(app_url, f"api/datasets/{dataset}/items/{item_id}")
    assert page.inner_text(".inst-prompt") == item["prompt"]
    assert page.locator("#overview .tooltip .tt-prompt").inner_text() == item["prompt"]
    imgs = page.locator(".inst-images img")
    assert imgs.count() == len(item["images"])
    page.wait_for_function("() => [...document.querySelectorAll('.inst-images img')].every(i => i.complete && i.naturalWidth > 0)")
    for name_, value in item["metrics"].items():
        assert name_ in page.inner_text(".inst-metrics")
    similar = page.locator(".similar")
    assert similar.count() == 8
    page.wait_for_function("() => [...document.querySelectorAll('.similar img')].every(i => i.complete && i.naturalWidth > 0)")
    model = page.get_attribute(".similar-row", "data-model")
    assert model in item["images"]
    expected = api(app_url, f"api/datasets/{dataset}/items/{item_id}/similar?k=8&model={model}")
    assert [similar.nth(i).get_attribute("data-id") for i in range(8)] == [n["id"] for n in expected["neighbours"]]
    screenshot("instance")

    target = expected["neighbours"][0]
    similar.nth(0).click()
    page.wait_for_function(f"() => document.querySelector('.instance').dataset.item === {target['id']!r}")
    page.wait_for_selector(".instance[data-state=ready]", timeout=60_000)
    wait_still(page)
    tx, ty = api(app_url, f"api/datasets/{dataset}/items/{target['id']}")["positions"][name]
    sx, sy = to_page(page, tx, ty)
    box = page.locator("#overview .ov-stage").bounding_box()
    assert abs(sx - (box["x"] + box["width"] / 2)) < 2 and abs(sy - (box["y"] + box["height"] / 2)) < 2
    assert drawn(page)["k"] >= 4
    screenshot("panned")
