"""API: a lasso returns exactly the items inside, their stats, and keywords from their prompts."""

from __future__ import annotations

import re

import numpy as np
import pytest

from api_fixtures import DATASET, api, error_of  # noqa: F401
from dkmap.data.encoders import embed_prompts_minilm
from dkmap.data.store import open_dataset

METRIC = "clip_a"
URL = f"/api/maps/{DATASET}/{METRIC}/selection"


@pytest.fixture(scope="module")
def data(api):
    ds = open_dataset(api.data_dir / DATASET)
    return {"ds": ds, "pos": np.load(api.data_dir / DATASET / "maps" / METRIC / "positions.npy").astype(np.float64)}


def box_around(pos: np.ndarray, lo_q: float, hi_q: float) -> tuple[float, float, float, float]:
    """A box between two quantiles of the positions (so it holds a known share of the items)."""
    (x0, y0), (x1, y1) = np.quantile(pos, lo_q, axis=0), np.quantile(pos, hi_q, axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def in_box(pos, box):
    x0, y0, x1, y1 = box
    return (pos[:, 0] > x0) & (pos[:, 0] < x1) & (pos[:, 1] > y0) & (pos[:, 1] < y1)


def test_convex_lasso_returns_exactly_the_items_inside(api, data):
    pos, ds = data["pos"], data["ds"]
    box = box_around(pos, 0.2, 0.8)
    x0, y0, x1, y1 = box
    # A triangle: the lower-left half of the box, x/(x1-x0) + y/(y1-y0) < 1 relative to (x0, y0).
    polygon = [[x0, y0], [x1, y0], [x0, y1]]
    u, v = (pos[:, 0] - x0) / (x1 - x0), (pos[:, 1] - y0) / (y1 - y0)
    expected = np.flatnonzero((u > 0) & (v > 0) & (u + v < 1))
    body = api.post(URL, json={"polygon": polygon}).json()
    assert body["rows"] == expected.tolist()
    assert body["count"] == len(expected) > 0
    assert body["ids"] == ds.ids.astype(str)[expected].tolist()
    values = ds.metric(METRIC)[expected]
    assert body["stats"]["mean"] == pytest.approx(values.mean())
    assert body["stats"]["std"] == pytest.approx(values.std())
    assert body["stats"]["min"] == pytest.approx(values.min())
    assert body["stats"]["max"] == pytest.approx(values.max())
    assert body["stats"]["median"] == pytest.approx(np.median(values))


def test_concave_lasso_excludes_the_notch(api, data):
    pos = data["pos"]
    x0, y0, x1, y1 = box_around(pos, 0.1, 0.9)
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    # An L shape: the box minus its upper-right quarter (x > xm and y < ym).
    polygon = [[x0, y0], [xm, y0], [xm, ym], [x1, ym], [x1, y1], [x0, y1]]
    left = in_box(pos, (x0, y0, xm, y1))
    bottom = in_box(pos, (x0, ym, x1, y1))
    expected = np.flatnonzero(left | bottom)
    body = api.post(URL, json={"polygon": polygon}).json()
    assert body["rows"] == expected.tolist()
    assert not (in_box(pos, (xm, y0, x1, ym))[body["rows"]]).any()


def test_keywords_come_from_the_selected_prompts_with_histograms_over_every_item(api, data):
    pos, ds = data["pos"], data["ds"]
    box = box_around(pos, 0.15, 0.85)
    x0, y0, x1, y1 = box
    body = api.post(URL, json={"polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}).json()
    rows = body["rows"]
    assert rows == np.flatnonzero(in_box(pos, box)).tolist()
    kw = body["keywords"]
    assert kw["n_selected"] == len(rows) and kw["n_used"] <= len(rows)
    assert kw["sampled"] == (kw["n_used"] < len(rows))
    assert 0 < len(kw["keywords"]) <= 15
    # KeyBERT drops stop words ("near a tree" -> "near tree"): every word must come from one prompt.
    prompt_words = [set(re.findall(r"\w+", ds.prompts[r].lower())) for r in rows]
    minilm = np.asarray(ds.embedding("minilm"), dtype=np.float64)
    counts = [k["count"] for k in kw["keywords"]]
    assert counts == sorted(counts, reverse=True)
    for entry in kw["keywords"]:
        phrase = entry["keyword"]
        words = set(phrase.lower().split())
        assert any(words <= w for w in prompt_words), f"keyword {phrase!r} is not in any selected prompt"
        bins = entry["bins"]
        assert sum(b["count"] for b in bins) == len(rows)
        assert sorted(r for b in bins for r in b["rows"]) == rows
        vec = embed_prompts_minilm([phrase])[0].astype(np.float64)
        for b in bins:
            assert b["count"] == len(b["rows"])
            sims = minilm[b["rows"]] @ vec
            assert np.all(sims >= b["lo"] - 1e-4) and np.all(sims <= b["hi"] + 1e-4)


def test_empty_selection(api):
    body = api.post(URL, json={"polygon": [[2, 2], [3, 2], [3, 3]]}).json()
    assert body["count"] == 0 and body["rows"] == [] and body["ids"] == []
    assert body["stats"]["mean"] is None
    assert body["keywords"]["keywords"] == [] and body["keywords"]["n_selected"] == 0


@pytest.mark.parametrize("body, needle", [
    ({}, "exactly one of 'polygon' (a lasso) or 'ids'"),
    ({"polygon": "0,0,1,1"}, "field 'polygon' must be a list"),
    ({"polygon": [[0, 0], [1, 1]]}, "must have 3 to 1000 vertices, got 2"),
    ({"polygon": [[0, 0]] * 1001}, "must have 3 to 1000 vertices, got 1001"),
    ({"polygon": [[0, 0], [1, 0], [1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], ["a", 1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], [True, 1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], [None, 1]]}, "vertex 2 must be a pair of numbers"),
    ([[0, 0], [1, 0], [1, 1]], "must be a JSON object"),
])
def test_bad_polygons_are_400(api, body, needle):
    r = api.post(URL, json=body)
    assert r.status_code == 400
    assert needle in error_of(r)["message"]


@pytest.mark.parametrize("text", [
    '{"polygon": [[0, 0], [1, 0], [NaN, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [Infinity, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [1e400, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [-Infinity, 1]]}',
])
def test_non_finite_vertices_are_400(api, text):
    r = api.post(URL, data=text, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "vertex 2 must hold finite numbers" in error_of(r)["message"]


def test_malformed_json_and_wrong_content_type_are_400(api):
    r = api.post(URL, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "must be a JSON object" in error_of(r)["message"]
    r = api.post(URL, data='{"polygon": [[0,0],[1,0],[1,1]]}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "must be JSON" in error_of(r)["message"]


def test_oversized_body_is_413(api):
    big = '{"polygon": [' + ",".join(["[0.5, 0.5]"] * 40000) + "]}"
    r = api.post(URL, data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "request body too large" in error_of(r)["message"]


@pytest.mark.parametrize("url, needle", [
    (f"/api/maps/nope/{METRIC}/selection", "unknown dataset 'nope'"),
    (f"/api/maps/{DATASET}/nope/selection", "unknown metric 'nope'"),
])
def test_selection_on_unknown_map_is_404(api, url, needle):
    r = api.post(url, json={"polygon": [[0, 0], [1, 0], [1, 1]]})
    assert r.status_code == 404 and needle in error_of(r)["message"]


def test_selection_by_ids_gives_the_view_of_those_items(api, data):
    ds = data["ds"]
    rows = [40, 3, 17, 3, 200]
    body = api.post(URL, json={"ids": [str(ds.ids[r]) for r in rows]}).json()
    assert body["rows"] == sorted(set(rows)) and body["count"] == 4
    assert body["stats"]["mean"] == pytest.approx(ds.metric(METRIC)[sorted(set(rows))].mean())
    assert body["keywords"]["n_selected"] == 4


@pytest.mark.parametrize("body, status, needle", [
    ({"ids": ["item-0001", "nope"]}, 404, "unknown item id 'nope'"),
    ({"ids": []}, 400, "field 'ids' must hold 1 to 100000 ids, got 0"),
    ({"ids": [1, 2]}, 400, "field 'ids' must be a list of item id strings"),
    ({"ids": ["item-0001"], "polygon": [[0, 0], [1, 0], [1, 1]]}, 400, "exactly one of 'polygon'"),
])
def test_bad_id_selections(api, body, status, needle):
    r = api.post(URL, json=body)
    assert r.status_code == status and needle in error_of(r)["message"]


def test_large_selections_sample_prompts_for_keywords_but_histogram_every_item(api, data):
    from api_fixtures import start_server

    running, server = start_server(api.data_dir, {"KEYWORD_MAX_DOCS": 50})
    try:
        body = running.post(URL, json={"polygon": [[-1, -1], [2, -1], [2, 2], [-1, 2]]}).json()
    finally:
        server.close()
    n = len(data["pos"])
    assert body["count"] == n
    kw = body["keywords"]
    assert kw["sampled"] is True and kw["n_used"] == 50 and kw["n_selected"] == n
    for entry in kw["keywords"]:
        assert sorted(r for b in entry["bins"] for r in b["rows"]) == list(range(n))
