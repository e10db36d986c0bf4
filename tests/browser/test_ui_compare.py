"""Comparing generators in a real browser: the difference map's instance view and the SPEC panel."""

from __future__ import annotations

import pytest
import requests

from ui_helpers import api, app_url, drawn, open_app, pick_metric, state, to_page, wait_settled  # noqa: F401

pytestmark = pytest.mark.browser


def test_difference_map_instance_shows_both_images_with_both_scores(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url, kind="difference")
    name = metric["name"]
    open_app(page, app_url, dataset, name, mode="overlay")
    pts = api(app_url, f"api/maps/{dataset}/{name}/points?z=0&bbox=0,0,1,1&sampling=bluenoise")["points"]
    page.mouse.click(*to_page(page, pts["x"][0], pts["y"][0]))
    page.wait_for_selector(".instance[data-state=ready]", timeout=60_000)
    item_id = page.get_attribute(".instance", "data-item")
    item = api(app_url, f"api/datasets/{dataset}/items/{item_id}")
    gens = metric["generators"]
    shown = page.eval_on_selector_all(".inst-images img", "els => els.map(e => e.dataset.generator)")
    assert shown == list(item["images"]) and set(gens) <= set(shown)
    captions = page.locator(".inst-images figcaption").all_inner_texts()
    for gen, caption in zip(shown, captions):
        scores = [m for m in item["metrics"] if m.endswith(f"_{gen}")]
        assert caption.startswith(gen) and all(m in caption for m in scores)
    assert name in page.inner_text(".inst-metrics tr.current")
    page.wait_for_function("() => [...document.querySelectorAll('.inst-images img')].every(i => i.complete && i.naturalWidth > 0)")
    screenshot("difference-instance")


def test_spec_panel_lists_clusters_and_highlights_one(page, app_url, screenshot):
    dataset, metric = pick_metric(app_url)
    spaces = next(d for d in api(app_url, "api/datasets")["datasets"] if d["name"] == dataset)["spaces"]
    images = [s for s in spaces if s.startswith("image_")]
    assert len(images) >= 2, f"the demo fixture has two generators, so two image spaces; got {spaces}"
    open_app(page, app_url, dataset, metric["name"], mode="overlay")
    page.select_option("select[name=spec-x]", images[0])
    page.select_option("select[name=spec-y]", images[1])
    page.fill("input[name=spec-k]", "4")
    page.click(".compare button")
    page.wait_for_selector(".compare[data-state=ready]", timeout=120_000)
    expected = api(app_url, f"api/datasets/{dataset}/compare/spec?x={images[0]}&y={images[1]}&k=4")
    cards = page.locator(".cluster")
    assert cards.count() == len(expected["clusters"]) > 0
    first = expected["clusters"][0]
    assert f"{first['size']} items" in cards.nth(0).inner_text()
    cards.nth(0).click()
    page.wait_for_function("() => window.__dkmap.state().drawn.highlighted > 0", timeout=60_000)
    wait_settled(page)
    d = drawn(page)
    assert d["highlightRows"] == len(set(first["rows"]))
    assert d["highlighted"] == len(set(first["rows"])), "every cluster item is drawn at the whole-map zoom"
    screenshot("spec-cluster")
    # The keyword view is fed with the cluster when the server selects by ids.
    probe = requests.post(f"{app_url}/api/maps/{dataset}/{metric['name']}/selection",
                          json={"ids": first["ids"][:3]}, timeout=60)
    assert probe.ok, probe.text
    page.wait_for_selector(".keywords[data-count]", timeout=120_000)
    assert int(page.get_attribute(".keywords", "data-count")) == len(set(first["ids"]))
