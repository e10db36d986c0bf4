"""POST /api/maps/<d>/<metric>/place on the tiny dataset (embeddings supplied at ingest: no encoder)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def tiny(tiny_data_dir):
    from dkmap.data.store import open_dataset

    return open_dataset(tiny_data_dir / "tiny")


@pytest.fixture(scope="module")
def built(tiny_data_dir):
    import dkmap

    return {m: dkmap.open_map(tiny_data_dir / "tiny" / "maps" / m) for m in ("clip_a", "diff_ab")}


def _features(ds, row, spaces):
    return {s: np.asarray(ds.embedding(s)[row], dtype=np.float64).tolist() for s in spaces}


@pytest.mark.parametrize("metric", ["clip_a", "diff_ab"])
@pytest.mark.parametrize("row", [0, 17, 239])
def test_own_features_land_on_the_stored_position(client, tiny, built, metric, row):
    m = built[metric]
    r = client.post(f"/api/maps/tiny/{metric}/place", json={"features": _features(tiny, row, m.feature_spaces)})
    assert r.status_code == 200, r.json
    body = r.json
    np.testing.assert_allclose(body["position"], m.positions[row], atol=1e-5)
    expected = m.predict(np.asarray(m.positions[row:row + 1], dtype=np.float64))[0]
    assert body["predicted"] == pytest.approx(expected, abs=1e-6 * max(1.0, abs(expected)))
    assert body["actual"] == pytest.approx(float(tiny.metric(metric)[row]), abs=1e-3)
    assert body["difference"] == pytest.approx(body["actual"] - body["predicted"])
    assert body["imputed"] == {}
    assert body["neighbours"][0]["row"] == row and body["neighbours"][0]["distance"] < 1e-5
    d = [n["distance"] for n in body["neighbours"]]
    assert d == sorted(d) and len(d) == 8


def test_a_side_not_given_is_estimated_and_no_actual_is_claimed(client, tiny, built):
    r = client.post("/api/maps/tiny/diff_ab/place", json={"features": _features(tiny, 5, ["text", "image_a"]), "k": 3})
    body = r.json
    assert r.status_code == 200, body
    assert list(body["imputed"]) == ["image_b"] and "nearest in 'text'" in body["imputed"]["image_b"]
    assert body["actual"] is None and body["difference"] is None and len(body["neighbours"]) == 3
    assert all(0.0 <= v <= 1.0 for v in body["position"])


def test_extra_known_spaces_are_ignored_and_listed(client, tiny):
    body = client.post("/api/maps/tiny/clip_a/place",
                       json={"features": _features(tiny, 3, ["text", "image_a", "image_b", "minilm"])}).json
    assert body["extra_spaces"] == ["image_b", "minilm"] and body["spaces"] == ["text", "image_a"]


def _bad(n=16):
    return [0.1] * n


@pytest.mark.parametrize("body, fragment", [
    ({}, "give 'prompt', an image, or 'features'"),
    ({"features": {}}, "at least one space"),
    ({"features": {"colour": _bad()}}, "unknown space 'colour'"),
    ({"features": {"text": _bad(15)}}, "has 15 numbers; space 'text' is 16-dimensional"),
    ({"features": {"text": [0.0] * 16}}, "zero vector"),
    ({"features": {"text": ["a"] * 16}}, "must be a list of numbers"),
    ({"features": _bad()}, "must be an object"),
    ({"features": {"text": _bad()}, "k": 0}, "'k' must be in 1..50"),
    ({"features": {"text": _bad()}, "colour": 1}, "unknown field 'colour'"),
])
def test_bad_features_are_named(client, body, fragment):
    r = client.post("/api/maps/tiny/clip_a/place", json=body)
    assert r.status_code == 400, r.json
    assert fragment in r.json["error"]["message"]


def test_nan_in_features_is_named(client):
    r = client.post("/api/maps/tiny/clip_a/place", data='{"features": {"text": [NaN' + ", 0.1" * 15 + "]}}",
                    content_type="application/json")
    assert r.status_code == 400
    assert "NaN or infinite" in r.json["error"]["message"]


def test_huge_finite_features_are_a_direction(client, tiny):
    r = client.post("/api/maps/tiny/clip_a/place", json={"features": {"text": [1e308] * 16}})
    assert r.status_code == 200, r.json


def _png_bytes(size=(32, 32)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_prompt_without_an_encoder_says_only_features_can_be_given(client):
    r = client.post("/api/maps/tiny/clip_a/place", json={"prompt": "a red star"})
    assert r.status_code == 409
    assert "only 'features'" in r.json["error"]["message"] and "tiny" in r.json["error"]["message"]
    r = client.post("/api/maps/tiny/clip_a/place", data={"image": (io.BytesIO(_png_bytes()), "x.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 409 and "only 'features'" in r.json["error"]["message"]


def test_features_come_in_a_multipart_form_too(client, tiny, built):
    import json

    m = built["clip_a"]
    r = client.post("/api/maps/tiny/clip_a/place", content_type="multipart/form-data",
                    data={"features": json.dumps(_features(tiny, 9, m.feature_spaces)), "k": "2"})
    assert r.status_code == 200, r.json
    np.testing.assert_allclose(r.json["position"], m.positions[9], atol=1e-5)
    assert len(r.json["neighbours"]) == 2


def test_unknown_map_and_file_fields(client):
    assert client.post("/api/maps/tiny/clip_b/place", json={"features": {"text": _bad()}}).status_code == 404
    r = client.post("/api/maps/tiny/clip_a/place", content_type="multipart/form-data",
                    data={"picture": (io.BytesIO(_png_bytes()), "x.png")})
    assert r.status_code == 400 and "unknown file field 'picture'" in r.json["error"]["message"]
