"""Boolean, time and missing-value filters in a real browser, on the tiny dataset with a metadata
column of every kind (helpers.typed): ticking and brushing in the distributions panel sends the
filters the API takes, and the count the page shows is pandas' count of the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from helpers.live_server import LiveServer
from helpers.tiny import DATASET, N_ITEMS
from helpers.typed import reference
from ui_helpers import open_app, state, wait_settled

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def typed_url(typed_data_dir):
    server = LiveServer(typed_data_dir)
    yield server.url
    server.stop()


def shown_count(page, filters, expected: int) -> int:
    """The page's count of the items passing `filters` once it has answered them: waits (up to 20 s)
    for `expected`, since the panel shows the previous answer until the new one comes; returns what
    is shown then, right or wrong."""
    page.wait_for_function("(n) => window.__dkmap.state().columnFilters.length === n", arg=len(filters))
    got = state(page, "s.columnFilters")
    assert [{k: v for k, v in f.items() if k != "other" or v} for f in got] == filters
    try:
        page.wait_for_function("""(want) => { const s = window.__dkmap.state(); const el = document.querySelector('.distributions');
          return s.filteredCount !== null && s.filteredCount.n === want && el.dataset.n === String(want); }""",
                               arg=int(expected), timeout=20_000)
    except PlaywrightTimeout:
        pass
    count = state(page, "s.filteredCount")
    assert count["of"] == N_ITEMS                    # the whole map is in view: counts are global
    return count["n"]


def tick(page, column: str, label: str) -> None:
    page.locator(f".distributions .dist[data-column='{column}'] label[data-value='{label}'] input").check()


def test_boolean_missing_other_and_time_filters_count_what_pandas_counts(page, typed_url, typed_data_dir, screenshot):
    table = reference(typed_data_dir)
    open_app(page, typed_url, DATASET, "clip_a", mode="overlay")
    page.wait_for_selector(".distributions .dist[data-column='made'] svg")
    kinds = {c: page.locator(f".distributions .dist[data-column='{c}']").get_attribute("data-kind")
             for c in ("nsfw", "made", "model")}
    assert kinds == {"nsfw": "boolean", "made": "time", "model": "category"}

    tick(page, "nsfw", "true")
    nsfw = table["nsfw"].map(lambda v: v is True).to_numpy(bool)
    assert shown_count(page, [{"column": "nsfw", "in": [True]}], nsfw.sum()) == nsfw.sum()

    # Missing and the "other" bar (model has more values than the checklist lists).
    tick(page, "model", "missing")
    tick(page, "model", "other")
    listed = page.locator(".distributions .dist[data-column='model'] label[data-value]").evaluate_all(
        "(ls) => ls.map((l) => l.dataset.value).filter((v) => v !== 'missing' && v !== 'other')")
    model = table["model"].map(lambda v: v is None or v not in listed).to_numpy(bool)
    assert 0 < (nsfw & model).sum() < nsfw.sum()
    both = [{"column": "nsfw", "in": [True]}, {"column": "model", "in": [None], "other": True}]
    assert shown_count(page, both, (nsfw & model).sum()) == (nsfw & model).sum()

    # Brush the middle of the time histogram: a range in ms since the epoch.
    box = page.locator(".distributions .dist[data-column='made'] svg").bounding_box()
    page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 18)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 18, steps=5)
    page.mouse.up()
    page.wait_for_function("() => window.__dkmap.state().columnFilters.length === 3")
    lo, hi = next(f["range"] for f in state(page, "s.columnFilters") if f["column"] == "made")
    made = table["made_ms"].to_numpy(float)
    assert np.nanmin(made) < lo < hi < np.nanmax(made)
    in_range = (made >= lo) & (made <= hi)              # NaN (missing) fails a range
    expected = (nsfw & model & in_range).sum()
    assert shown_count(page, [*both, {"column": "made", "range": [lo, hi]}], expected) == expected
    wait_settled(page)
    screenshot("typed-filters")
    assert page.console_errors == []
