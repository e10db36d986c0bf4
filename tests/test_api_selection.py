"""API: a lasso returns exactly the items inside, their stats, keywords from their prompts, and (for
large selections) a seeded uniform sample with bar counts scaled to the whole selection."""

from __future__ import annotations

import re

import numpy as np
import pytest

from helpers.api_server import error_of
from helpers.tiny import DATASET
from dkmap.data.encoders import embed_prompts_minilm
from dkmap.data.store import open_dataset
from dkmap.geometry import points_in_polygon

METRIC = "clip_a"
URL = f"/api/maps/{DATASET}/{METRIC}/selection"


@pytest.fixture(scope="module")
def data(tiny_data_dir):
    ds = open_dataset(tiny_data_dir / DATASET)
    folder = tiny_data_dir / DATASET / "maps" / METRIC
    return {"ds": ds, "pos": np.load(folder / "positions.npy").astype(np.float64), "folder": folder}


def box_around(pos: np.ndarray, lo_q: float, hi_q: float) -> tuple[float, float, float, float]:
    """A box between two quantiles of the positions (so it holds a known share of the items)."""
    (x0, y0), (x1, y1) = np.quantile(pos, lo_q, axis=0), np.quantile(pos, hi_q, axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def in_box(pos, box):
    x0, y0, x1, y1 = box
    return (pos[:, 0] > x0) & (pos[:, 0] < x1) & (pos[:, 1] > y0) & (pos[:, 1] < y1)


def test_convex_lasso_returns_exactly_the_items_inside(client, data):
    pos, ds = data["pos"], data["ds"]
    box = box_around(pos, 0.2, 0.8)
    x0, y0, x1, y1 = box
    # A triangle: the lower-left half of the box, x/(x1-x0) + y/(y1-y0) < 1 relative to (x0, y0).
    polygon = [[x0, y0], [x1, y0], [x0, y1]]
    u, v = (pos[:, 0] - x0) / (x1 - x0), (pos[:, 1] - y0) / (y1 - y0)
    expected = np.flatnonzero((u > 0) & (v > 0) & (u + v < 1))
    body = client.post(URL, json={"polygon": polygon}).get_json()
    sample = body["sample"]
    assert sample["row"] == expected.tolist()
    assert body["count"] == sample["size"] == len(expected) > 0 and sample["sampled"] is False
    assert sample["id"] == ds.ids.astype(str)[expected].tolist()
    np.testing.assert_allclose(np.column_stack([sample["x"], sample["y"]]), pos[expected], atol=1e-7)
    values = ds.metric(METRIC)[expected]
    np.testing.assert_allclose(sample["value"], values, rtol=1e-9)
    assert body["stats"]["mean"] == pytest.approx(values.mean())
    assert body["stats"]["std"] == pytest.approx(values.std())
    assert body["stats"]["min"] == pytest.approx(values.min())
    assert body["stats"]["max"] == pytest.approx(values.max())
    assert body["stats"]["median"] == pytest.approx(np.median(values))


def test_concave_lasso_excludes_the_notch(client, data):
    pos = data["pos"]
    x0, y0, x1, y1 = box_around(pos, 0.1, 0.9)
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    # An L shape: the box minus its upper-right quarter (x > xm and y < ym).
    polygon = [[x0, y0], [xm, y0], [xm, ym], [x1, ym], [x1, y1], [x0, y1]]
    left = in_box(pos, (x0, y0, xm, y1))
    bottom = in_box(pos, (x0, ym, x1, y1))
    expected = np.flatnonzero(left | bottom)
    body = client.post(URL, json={"polygon": polygon}).get_json()
    assert body["sample"]["row"] == expected.tolist() and body["count"] == len(expected)
    assert not (in_box(pos, (xm, y0, x1, ym))[body["sample"]["row"]]).any()


def test_keywords_come_from_the_selected_prompts_with_histograms_over_every_item(client, data):
    pos, ds = data["pos"], data["ds"]
    box = box_around(pos, 0.15, 0.85)
    x0, y0, x1, y1 = box
    body = client.post(URL, json={"polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                                  "rank": "frequency"}).get_json()
    rows = body["sample"]["row"]
    assert rows == np.flatnonzero(in_box(pos, box)).tolist()
    kw = body["keywords"]
    assert kw["n_selected"] == kw["n_scored"] == len(rows) and kw["n_used"] <= len(rows)
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
        bin_of = np.asarray(entry["bin_of"])
        assert sum(b["count"] for b in bins) == len(rows) == len(bin_of)
        vec = embed_prompts_minilm([phrase])[0].astype(np.float64)
        for i, b in enumerate(bins):
            members = np.asarray(rows)[bin_of == i]
            assert b["count"] == b["sample_count"] == len(members)
            sims = minilm[members] @ vec
            assert np.all(sims >= b["lo"] - 1e-4) and np.all(sims <= b["hi"] + 1e-4)


def test_empty_selection(client):
    body = client.post(URL, json={"polygon": [[2, 2], [3, 2], [3, 3]]}).get_json()
    assert body["count"] == 0 and body["sample"]["row"] == [] and body["sample"]["id"] == []
    assert body["stats"]["mean"] is None
    assert body["keywords"]["keywords"] == [] and body["keywords"]["n_selected"] == 0


@pytest.mark.parametrize("body, needle", [
    ({}, "one of 'polygon' (a lasso), 'ids' (a list of item ids) or 'filters'"),
    ({"polygon": "0,0,1,1"}, "field 'polygon' must be a list"),
    ({"polygon": [[0, 0], [1, 1]]}, "must have 3 to 1000 vertices, got 2"),
    ({"polygon": [[0, 0]] * 1001}, "must have 3 to 1000 vertices, got 1001"),
    ({"polygon": [[0, 0], [1, 0], [1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], ["a", 1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], [True, 1]]}, "vertex 2 must be a pair of numbers"),
    ({"polygon": [[0, 0], [1, 0], [None, 1]]}, "vertex 2 must be a pair of numbers"),
    ([[0, 0], [1, 0], [1, 1]], "must be a JSON object"),
])
def test_bad_polygons_are_400(client, body, needle):
    r = client.post(URL, json=body)
    assert r.status_code == 400
    assert needle in error_of(r)["message"]


@pytest.mark.parametrize("text", [
    '{"polygon": [[0, 0], [1, 0], [NaN, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [Infinity, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [1e400, 1]]}',
    '{"polygon": [[0, 0], [1, 0], [-Infinity, 1]]}',
])
def test_non_finite_vertices_are_400(client, text):
    r = client.post(URL, data=text, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "vertex 2 must hold finite numbers" in error_of(r)["message"]


def test_malformed_json_and_wrong_content_type_are_400(client):
    r = client.post(URL, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "must be a JSON object" in error_of(r)["message"]
    r = client.post(URL, data='{"polygon": [[0,0],[1,0],[1,1]]}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "must be JSON" in error_of(r)["message"]


def test_oversized_body_is_413(client):
    big = '{"polygon": [' + ",".join(["[0.5, 0.5]"] * 40000) + "]}"
    r = client.post(URL, data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "request body too large" in error_of(r)["message"]


@pytest.mark.parametrize("url, needle", [
    (f"/api/maps/nope/{METRIC}/selection", "unknown dataset 'nope'"),
    (f"/api/maps/{DATASET}/nope/selection", "unknown metric 'nope'"),
])
def test_selection_on_unknown_map_is_404(client, url, needle):
    r = client.post(url, json={"polygon": [[0, 0], [1, 0], [1, 1]]})
    assert r.status_code == 404 and needle in error_of(r)["message"]


def test_selection_by_ids_gives_the_view_of_those_items(client, data):
    ds = data["ds"]
    rows = [40, 3, 17, 3, 200]
    body = client.post(URL, json={"ids": [str(ds.ids[r]) for r in rows]}).get_json()
    assert body["sample"]["row"] == sorted(set(rows)) and body["count"] == 4
    assert body["stats"]["mean"] == pytest.approx(ds.metric(METRIC)[sorted(set(rows))].mean())
    assert body["keywords"]["n_selected"] == 4


@pytest.mark.parametrize("body, status, needle", [
    ({"ids": ["item-0001", "nope"]}, 404, "unknown item id 'nope'"),
    ({"ids": []}, 400, "field 'ids' must hold 1 to 100000 ids, got 0"),
    ({"ids": [1, 2]}, 400, "field 'ids' must be a list of item id strings"),
    ({"ids": ["item-0001"], "polygon": [[0, 0], [1, 0], [1, 1]]}, 400, "at most one of 'polygon'"),
])
def test_bad_id_selections(client, body, status, needle):
    r = client.post(URL, json=body)
    assert r.status_code == status and needle in error_of(r)["message"]


@pytest.fixture(scope="module")
def small_sample_client(tiny_data_dir):
    """A test client of the same data with a 60-item selection sample and 50 prompts for keyphrases."""
    from dkmap.server.app import create_app

    app = create_app({"DATA_DIR": str(tiny_data_dir), "KEYWORD_MAX_DOCS": 50, "SELECTION_SAMPLE": 60})
    return app.test_client()


EVERYTHING = {"polygon": [[-1, -1], [2, -1], [2, 2], [-1, 2]]}


def test_large_selections_send_a_uniform_sample_with_exact_count_and_stats(small_sample_client, data):
    body = small_sample_client.post(URL, json=EVERYTHING).get_json()
    n = len(data["pos"])
    values = data["ds"].metric(METRIC)
    assert body["count"] == n
    assert body["stats"]["mean"] == pytest.approx(values.mean()) and body["stats"]["median"] == pytest.approx(np.median(values))
    sample = body["sample"]
    rows = np.asarray(sample["row"])
    assert sample["sampled"] is True and sample["size"] == len(rows) == 60
    assert np.all(np.diff(rows) > 0) and rows.min() >= 0 and rows.max() < n
    assert sample["id"] == data["ds"].ids.astype(str)[rows].tolist()
    np.testing.assert_allclose(np.column_stack([sample["x"], sample["y"]]), data["pos"][rows], atol=1e-7)
    # The sample is what the 'random' overlay shows first: every item of a lower random level is in it.
    levels = np.load(data["folder"] / "sampling_random.npy")
    cut = levels[rows].max()
    assert set(np.flatnonzero(levels < cut)) <= set(rows.tolist())
    # The same selection gives the same sample.
    assert small_sample_client.post(URL, json=EVERYTHING).get_json()["sample"] == sample


def test_sampled_bars_count_the_sample_and_estimate_the_selection(small_sample_client, data):
    body = small_sample_client.post(URL, json=EVERYTHING).get_json()
    n, kw = len(data["pos"]), body["keywords"]
    assert kw["n_selected"] == n and kw["n_scored"] == 60 and kw["n_used"] == 50 and kw["sampled"] is True
    assert kw["keywords"]
    for entry in kw["keywords"]:
        assert len(entry["bin_of"]) == 60
        sample_counts = np.bincount(entry["bin_of"], minlength=len(entry["bins"]))
        assert [b["sample_count"] for b in entry["bins"]] == sample_counts.tolist()
        assert [b["count"] for b in entry["bins"]] == [round(c * n / 60) for c in sample_counts]


def test_sample_of_a_large_selection_is_uniform(data):
    """Drawn from random levels, the sample favours no region: over many selections of the same
    items, each item is sampled about equally often."""
    from dkmap.server.selection import sample_rows

    rng = np.random.default_rng(0)
    n, size, trials = 2000, 200, 400
    hits = np.zeros(n)
    rows = np.arange(n)
    for _ in range(trials):
        ranks = rng.permutation(n)  # a fresh 'random' overlay: levels of 100 items each
        hits[sample_rows(ranks // 100, rows, size)] += 1
    # Each item is sampled with probability 0.1: 40 of 400 expected, sd ~6.
    assert abs(hits.mean() - 40) < 1e-9
    assert hits.min() > 15 and hits.max() < 70
    first, second = hits[: n // 2].mean(), hits[n // 2:].mean()
    assert abs(first - second) < 2


def test_selected_ids_come_in_pages(small_sample_client, data):
    ids = data["ds"].ids.astype(str)
    n = len(ids)
    got, offset, pages = [], 0, 0
    while offset is not None:
        page = small_sample_client.post(URL + "/ids", json={**EVERYTHING, "offset": offset, "limit": 100}).get_json()
        assert page["count"] == n and page["offset"] == offset
        got += page["ids"]
        assert page["rows"] == list(range(offset, offset + len(page["ids"])))
        offset, pages = page["next_offset"], pages + 1
    assert got == ids.tolist() and pages == -(-n // 100)
    # Pages of a lasso follow row order and hold exactly its items.
    polygon = [[0.2, 0.2], [0.8, 0.25], [0.5, 0.9]]
    full = small_sample_client.post(URL + "/ids", json={"polygon": polygon}).get_json()
    inside = points_in_polygon(data["pos"], np.asarray(polygon))
    assert full["rows"] == inside.tolist() and full["ids"] == ids[inside].tolist() and full["next_offset"] is None
    beyond = small_sample_client.post(URL + "/ids", json={"polygon": polygon, "offset": len(inside) + 5}).get_json()
    assert beyond["ids"] == [] and beyond["next_offset"] is None and beyond["count"] == len(inside)
    by_id = small_sample_client.post(URL + "/ids", json={"ids": [ids[7], ids[3]], "limit": 1}).get_json()
    assert by_id["ids"] == [ids[3]] and by_id["next_offset"] == 1


@pytest.mark.parametrize("extra, needle", [
    ({"limit": 0}, "field 'limit' must be in 1..100000, got 0"),
    ({"limit": 100001}, "field 'limit' must be in 1..100000, got 100001"),
    ({"offset": -1}, "field 'offset' must be in 0.."),
    ({"offset": "3"}, "field 'offset' must be an integer"),
    ({"limit": True}, "field 'limit' must be an integer"),
    ({"limit": 2.5}, "field 'limit' must be an integer"),
])
def test_bad_id_pages_are_400(client, extra, needle):
    r = client.post(URL + "/ids", json={**EVERYTHING, **extra})
    assert r.status_code == 400 and needle in error_of(r)["message"]


def test_the_sample_depends_on_the_items_not_their_order():
    from dkmap.server.selection import sample_rows

    levels = np.random.default_rng(1).permutation(5000) // 500
    rows = np.arange(0, 5000, 2)
    shuffled = np.random.default_rng(2).permutation(rows)
    np.testing.assert_array_equal(sample_rows(levels, rows, 700), sample_rows(levels, shuffled, 700))
    assert len(sample_rows(levels, rows, 700)) == 700
    np.testing.assert_array_equal(sample_rows(levels, shuffled, 5000), rows)
