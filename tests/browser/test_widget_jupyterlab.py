"""dkmap.widget in a real JupyterLab server, driven through JupyterLab's own UI in headless Chromium:
a notebook cell shows the widget over the tiny map, a lasso is drawn in the widget's iframe, the next
cell prints `w.selection` and it is compared with the API's selection for the same polygon; a third
cell's `w.select(ids)` rings those items in the iframe."""

from __future__ import annotations

import json

import pytest

from helpers.jupyter_lab import JupyterLab
from ui_helpers import api, circle_polygon, dense_point, draw_lasso, drawn, state, wait_settled

pytestmark = pytest.mark.browser

SELECTED_IN_PYTHON = ["item-0003", "item-0010", "item-0042"]
CELLS = [
    "import json, dkmap\nw = dkmap.widget(dkmap.open_map({map!r}), height=700)\nw",
    'print("SELECTION " + json.dumps(list(w.selection["id"])))',
    f'w.select({SELECTED_IN_PYTHON!r})\nprint("SELECTED", len(w._highlight_rows))',
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab"))
    yield server
    server.stop()


class InFrame:
    """The widget's iframe seen as a page by ui_helpers: its DOM and scripts, the page's mouse and keys
    (Playwright gives frame elements' boxes in the page's coordinates)."""

    def __init__(self, page, frame):
        self._frame, self.mouse, self.keyboard = frame, page.mouse, page.keyboard

    def __getattr__(self, name):
        return getattr(self._frame, name)


def run_cell(page, index: int):
    """Put the cursor in code cell `index` and run it with Shift+Enter, as a user would."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    return cell


def printed(cell, marker: str) -> str:
    """The text after `marker` in the cell's output, once the kernel has printed it."""
    out = cell.locator(".jp-OutputArea-output", has_text=marker)
    out.wait_for(timeout=120_000)
    text = out.inner_text()
    return text[text.index(marker) + len(marker):].strip()


def test_lasso_in_jupyterlab_round_trips_to_w_selection_and_w_select_highlights(lab, browser, tiny_data_dir,
                                                                                  client, request):
    map_dir = str(tiny_data_dir / "tiny" / "maps" / "clip_a")
    url = lab.write_notebook("widget.ipynb", [CELLS[0].format(map=map_dir), *CELLS[1:]])
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    try:
        page.goto(url)
        page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.wait_for(timeout=120_000)
        # A cell run before the kernel is up is dropped (seen on a loaded machine): wait for it first.
        page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=120_000)
        run_cell(page, 0)
        element = page.wait_for_selector(".jp-OutputArea-output iframe.dkmap-widget", timeout=120_000)
        element.scroll_into_view_if_needed()
        view = InFrame(page, element.content_frame())
        view.wait_for_function("() => window.__dkmap && window.__dkmap.state().drawn", timeout=120_000)
        wait_settled(view)
        assert state(view, "[s.dataset, s.metric]") == ["tiny", "clip_a"]
        app_url = view.url.split("#")[0].rstrip("/")

        x, y = dense_point(app_url, "tiny", "clip_a")
        draw_lasso(view, circle_polygon(x, y, 0.15))
        view.wait_for_selector(".keywords[data-count]", timeout=120_000)
        wait_settled(view)
        polygon = state(view, "s.lassoPolygon")
        expected = client.post("/api/maps/tiny/clip_a/selection/ids",
                               json={"polygon": polygon, "limit": 100_000}).get_json()
        assert 0 < expected["count"] < 240
        assert state(view, "s.selection.count") == expected["count"]
        assert api(app_url, "api/maps/tiny/clip_a/selection/ids", {"polygon": polygon, "limit": 100_000}) == expected

        ids = json.loads(printed(run_cell(page, 1), "SELECTION "))
        assert ids == expected["ids"]

        assert printed(run_cell(page, 2), "SELECTED ") == str(len(SELECTED_IN_PYTHON))
        rows = [int(i.split("-")[1]) for i in SELECTED_IN_PYTHON]
        view.wait_for_function("(n) => { const h = window.__dkmap.state().highlight; return !!h && h.rows.size === n; }",
                               arg=len(rows), timeout=60_000)
        wait_settled(view)
        assert state(view, "[...s.highlight.rows].sort((a, b) => a - b)") == rows
        assert drawn(view)["highlightRows"] == len(rows)
        assert "selected in Python" in view.inner_text("#overview")
    finally:
        page.screenshot(path=str(lab.log.name).replace(".log", f"-{request.node.name}.png"))
        context.close()
