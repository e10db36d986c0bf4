"""dkmap.widget in the kernel (no browser): its server, the selection it computes from the app's
reported state, select() and view. The round trip through JupyterLab: tests/browser/test_widget_jupyterlab.py."""

from __future__ import annotations

import numpy as np
import pytest
import requests

import dkmap
from dkmap.notebook import DKMapWidget

SQUARE = [[0.1, 0.1], [0.6, 0.1], [0.6, 0.7], [0.1, 0.7]]


@pytest.fixture(scope="module")
def w(tiny_data_dir) -> DKMapWidget:
    return dkmap.widget(dkmap.open_map(tiny_data_dir / "tiny" / "maps" / "clip_a"))


def test_widget_serves_the_app_framable_by_local_jupyter(w, tiny_data_dir):
    assert w._url.startswith("http://127.0.0.1:") and f"embed={w._token}" in w._url
    assert "dataset=tiny" in w._url and "metric=clip_a" in w._url
    page = requests.get(w._url.split("#")[0], timeout=10)
    assert page.status_code == 200 and "<script" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors http://localhost:* http://127.0.0.1:*" in csp and "X-Frame-Options" not in page.headers
    assert dkmap.widget(tiny_data_dir / "tiny")._server is w._server   # one server per data folder


def test_selection_follows_the_reported_lasso_and_filter(w, client):
    assert list(w.selection.columns) == ["id", "prompt", "clip_a", "clip_b", "diff_ab", "x", "y"]
    assert w.selection.empty
    w._ui = {"dataset": "tiny", "metric": "clip_a", "mode": "overlay", "zoom": {"k": 1, "x": 0, "y": 0},
             "polygon": SQUARE, "filteredRows": None}
    expected = client.post("/api/maps/tiny/clip_a/selection/ids", json={"polygon": SQUARE}).get_json()
    assert expected["count"] > 10
    assert list(w.selection["id"]) == expected["ids"]
    ds, m = dkmap.open_dataset(w._dataset.root), dkmap.open_map(w._dataset.root / "maps" / "clip_a")
    np.testing.assert_allclose(w.selection[["x", "y"]].to_numpy(), m.positions[expected["rows"]])
    np.testing.assert_allclose(w.selection["clip_b"], ds.metric("clip_b")[expected["rows"]])
    kept = expected["rows"][::3]
    w._ui = {**w._ui, "filteredRows": kept}
    assert list(w.selection["id"]) == [expected["ids"][i] for i in range(0, len(kept) * 3, 3)]
    assert w.view == {"dataset": "tiny", "metric": "clip_a", "mode": "overlay", "zoom": {"k": 1, "x": 0, "y": 0}}
    w._ui = {**w._ui, "polygon": None}
    assert w.selection.empty


def test_select_and_view_requests_are_checked(w):
    w.select(["item-0003", "item-0010"])
    assert w._highlight_rows == [3, 10]
    with pytest.raises(KeyError, match="unknown item id 'nope'"):
        w.select(["nope"])
    with pytest.raises(TypeError, match="one string"):
        w.select("item-0003")
    w.view = {"mode": "contour"}
    assert w._view_request["mode"] == "contour"
    with pytest.raises(ValueError, match="mode must be one of"):
        w.view = {"mode": "3d"}
    with pytest.raises(ValueError, match="unknown metric 'zzz'"):
        w.view = {"metric": "zzz"}
    with pytest.raises(ValueError, match="only metric and mode"):
        w.view = {"zoom": 2}
    with pytest.raises(ValueError, match="not a dataset folder"):
        dkmap.widget("/")
