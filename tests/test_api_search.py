"""GET /api/datasets/<d>/search: text matches and semantic nearest equal a brute-force scan."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.search import text


@pytest.fixture(scope="module")
def tiny(tiny_data_dir):
    from dkmap.data.store import open_dataset

    return open_dataset(tiny_data_dir / "tiny")


def _brute_text(prompts, query):
    terms = text.query_terms(query)
    return [i for i, p in enumerate(prompts)
            if all(any(w.startswith(t) for w in text.query_terms(p)) for t in terms)]


@pytest.mark.parametrize("query", ["red", "red sta", "BLUE circle tab", "und wat", "ye", "purple"])
def test_text_search_equals_brute_force(client, tiny, query):
    r = client.get("/api/datasets/tiny/search", query_string={"q": query, "limit": 1000})
    assert r.status_code == 200, r.json
    body = r.json
    want = _brute_text(tiny.prompts, query)
    assert body["count"] == len(want)
    assert sorted(body["rows"]) == want
    assert body["ids"] == [str(tiny.ids[i]) for i in body["rows"]]
    assert body["prompts"] == [tiny.prompts[i] for i in body["rows"]]
    assert body["scores"] == sorted(body["scores"], reverse=True)
    assert body["next_offset"] is None


def test_text_search_pages_through_every_match(client, tiny):
    first = client.get("/api/datasets/tiny/search?q=red&limit=7").json
    rows, offset = [], 0
    while offset is not None:
        page = client.get(f"/api/datasets/tiny/search?q=red&limit=7&offset={offset}").json
        assert page["count"] == first["count"]
        rows += page["rows"]
        offset = page["next_offset"]
    assert sorted(rows) == _brute_text(tiny.prompts, "red") and len(set(rows)) == len(rows)
    only = client.get("/api/datasets/tiny/search?q=red&limit=5&fields=rows").json
    assert set(only) - {"rows"} >= {"count"} and "prompts" not in only and only["rows"] == first["rows"][:5]


def test_index_file_is_written_into_the_dataset(client, tiny_data_dir):
    client.get("/api/datasets/tiny/search?q=star")
    assert text.index_path(tiny_data_dir / "tiny").is_file()


def test_semantic_search_is_the_exact_nearest(client, tiny):
    from dkmap.data.encoders import embed_prompts_minilm

    query = "a crimson shape floating in the air"
    r = client.get("/api/datasets/tiny/search", query_string={"q": query, "mode": "semantic", "limit": 50,
                                                               "min_score": -1})
    assert r.status_code == 200, r.json
    body = r.json
    q = embed_prompts_minilm([query])[0]
    sims = np.asarray(tiny.embedding("minilm"), dtype=np.float64) @ q
    order = np.argsort(-sims, kind="stable")
    assert body["count"] == tiny.n and not body["capped"]
    np.testing.assert_allclose(body["scores"], sims[order[:50]], atol=1e-5)
    # the tiny prompts repeat, so equal similarities may come in any order: each row's own similarity
    # is its score, and the rows are distinct
    np.testing.assert_allclose(sims[body["rows"]], body["scores"], atol=1e-5)
    assert len(set(body["rows"])) == 50


def test_semantic_threshold_counts_the_prompts_above_it(client, tiny):
    from dkmap.data.encoders import embed_prompts_minilm

    q = embed_prompts_minilm(["green triangle"])[0]
    sims = np.asarray(tiny.embedding("minilm"), dtype=np.float64) @ q
    threshold = float(np.quantile(sims, 0.9))
    body = client.get("/api/datasets/tiny/search", query_string={
        "q": "green triangle", "mode": "semantic", "min_score": threshold, "limit": 1000, "fields": "rows,scores"}).json
    assert body["count"] == int((sims >= threshold - 1e-6).sum()) or body["count"] == int((sims >= threshold + 1e-6).sum())
    assert min(body["scores"]) >= threshold


def test_semantic_search_reports_a_truncated_query(client):
    body = client.get("/api/datasets/tiny/search", query_string={"q": "red star " * 200, "mode": "semantic"}).json
    assert "256" in body["warning"] and "query" in body["warning"]


@pytest.mark.parametrize("params, fragment", [
    ({"q": ""}, "no words"),
    ({"q": "!!!"}, "no words"),
    ({"q": "red", "mode": "fuzzy"}, "'mode' must be one of text, semantic"),
    ({"q": "red", "limit": 0}, "'limit' must be in 1..100000"),
    ({"q": "red", "offset": -1}, "'offset' must be in"),
    ({"q": "red", "fields": "rows,colour"}, "'fields' lists 'colour'"),
    ({"q": "red", "mode": "semantic", "min_score": 2}, "'min_score' must be in -1..1"),
    ({"q": "red", "mode": "semantic", "min_score": "nan?"}, "'min_score' must be a number"),
    ({"q": "   ", "mode": "semantic"}, "the query is empty"),
    ({"q": "x" * 5000, "mode": "semantic"}, "at most 4000"),
])
def test_bad_search_parameters_are_named(client, params, fragment):
    r = client.get("/api/datasets/tiny/search", query_string=params)
    assert r.status_code == 400
    assert fragment in r.json["error"]["message"]


def test_unknown_dataset_is_404(client):
    r = client.get("/api/datasets/nope/search?q=red")
    assert r.status_code == 404 and "unknown dataset 'nope'" in r.json["error"]["message"]


def test_semantic_search_too_large_for_the_server_is_503_and_words_still_work(tiny_data_dir):
    from dkmap.server.app import create_app

    small = create_app({"DATA_DIR": str(tiny_data_dir), "SEMANTIC_INDEX_MAX_BYTES": 1000}).test_client()
    r = small.get("/api/datasets/tiny/search", query_string={"q": "red", "mode": "semantic"})
    assert r.status_code == 503
    message = r.get_json()["error"]["message"]
    assert message == ("search by meaning over 240 prompts needs 360.0 KiB of index in memory, above this "
                       "server's SEMANTIC_INDEX_MAX_BYTES (1.0 KiB); search by words works")
    assert small.get("/api/datasets/tiny/search", query_string={"q": "red", "mode": "text"}).status_code == 200
