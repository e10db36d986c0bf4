"""API: dataset listing, items, images, JSON errors, frontend files and path-traversal attempts."""

from __future__ import annotations

import http.client
import io
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from helpers.api_server import error_of, start_server
from helpers.tiny import DATASET, GENERATORS
from dkmap.data.store import open_dataset


@pytest.fixture(scope="module")
def ds(tiny_data_dir):
    return open_dataset(tiny_data_dir / DATASET)


def test_datasets_lists_the_folder_with_metrics_and_spaces(client, tiny_data_dir, ds):
    body = client.get("/api/datasets").get_json()
    assert [d["name"] for d in body["datasets"]] == [DATASET]
    entry = body["datasets"][0]
    assert entry["n_items"] == ds.n
    assert entry["generators"] == GENERATORS
    assert entry["spaces"] == ds.spaces
    assert [m["name"] for m in entry["metrics"]] == list(ds.metrics)
    diff = next(m for m in entry["metrics"] if m["name"] == "diff_ab")
    assert diff["kind"] == "difference" and diff["generators"] == ["a", "b"]
    for m in entry["metrics"]:
        assert m["built"] == (tiny_data_dir / DATASET / "maps" / m["name"] / "manifest.json").is_file()


def test_item_returns_its_row_values_and_image_urls(client, ds):
    row = 17
    item_id = str(ds.ids[row])
    body = client.get(f"/api/datasets/{DATASET}/items/{item_id}").get_json()
    assert body["id"] == item_id and body["row"] == row
    assert body["prompt"] == ds.prompts[row]
    assert body["split"] == ("train" if ds.is_train[row] else "test")
    for name in ds.metrics:
        assert body["metrics"][name] == pytest.approx(ds.metric(name)[row])
    assert set(body["images"]) == set(GENERATORS)
    for gen, url in body["images"].items():
        image = client.get(url, buffered=True)   # buffered: the image file is closed at once
        assert image.status_code == 200
        assert image.data == ds.image_path(row, gen).read_bytes()


@pytest.mark.parametrize("gen", GENERATORS)
def test_image_bytes_are_the_items_file(client, ds, gen):
    row = 5
    r = client.get(f"/api/datasets/{DATASET}/items/{ds.ids[row]}/image", query_string={"model": gen},
                   buffered=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert r.data == ds.image_path(row, gen).read_bytes()
    assert Image.open(io.BytesIO(r.data)).size == (8, 8)


def test_image_defaults_to_the_first_generator(client, ds):
    r = client.get(f"/api/datasets/{DATASET}/items/{ds.ids[3]}/image", buffered=True)
    assert r.data == ds.image_path(3, GENERATORS[0]).read_bytes()


@pytest.mark.parametrize("path, status, needle", [
    ("/api/datasets/nope/items/item-0001", 404, "unknown dataset 'nope'"),
    (f"/api/datasets/{DATASET}/items/item-9999", 404, "unknown item id 'item-9999'"),
    (f"/api/datasets/{DATASET}/items/item-0001/image?model=zzz", 404, "unknown model 'zzz'"),
    (f"/api/datasets/{DATASET}/items/item-0001/similar?model=zzz", 404, "unknown model 'zzz'"),
    (f"/api/datasets/{DATASET}/items/item-0001/similar?k=0", 400, "'k' must be in 1..100"),
    (f"/api/datasets/{DATASET}/items/item-0001/similar?k=101", 400, "'k' must be in 1..100"),
    (f"/api/datasets/{DATASET}/items/item-0001/similar?k=abc", 400, "'k' must be an integer"),
    ("/api/nothing-here", 404, "no such endpoint"),
    ("/api/datasets/nope/compare/spec?x=text&y=image", 404, "unknown dataset 'nope'"),
    (f"/api/datasets/{DATASET}/compare/spec?x=text", 400, "parameter 'y' is required"),
    (f"/api/datasets/{DATASET}/compare/spec?x=text&y=bogus", 400, "parameter 'y' must be one of"),
    (f"/api/datasets/{DATASET}/compare/spec?x=text&y=text", 400, "must name different spaces"),
    (f"/api/datasets/{DATASET}/compare/spec?x=text&y=image&k=51", 400, "'k' must be in 1..50"),
])
def test_bad_inputs_get_json_errors(client, path, status, needle):
    r = client.get(path)
    assert r.status_code == status
    assert needle in error_of(r)["message"]


def test_wrong_method_is_a_json_405(client):
    r = client.post("/api/datasets")
    assert r.status_code == 405
    assert "method POST is not allowed" in error_of(r)["message"]
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    r = client.get("/api/maps/tiny/clip_a/selection")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


SECRET = "top-secret-not-for-clients"


def raw_get(base_url: str, path: str) -> tuple[int, str, str]:
    """GET `path` byte for byte (http.client does not normalise dot segments the way requests does)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/api/datasets/..%2F..%2Fetc/items/item-0001",
    "/api/datasets/../items/item-0001",
    "/api/datasets/%2E%2E/items/item-0001",
    "/api/datasets/%2e%2e%2f%2e%2e/items/item-0001/image",
    f"/api/datasets/{DATASET}/items/..%2Fdataset.yaml/image",
    f"/api/datasets/{DATASET}/items/..%2F..%2Fsecret.txt/image",
    f"/api/datasets/{DATASET}/items/../../secret.txt/image",
    f"/api/datasets/{DATASET}/items/item-0001/image?model=..%2F..%2Fsecret.txt",
    f"/api/datasets/{DATASET}/items/item-0001/image?model=/etc/passwd",
    f"/api/datasets/{DATASET}/items/%2Fetc%2Fpasswd/image",
    f"/api/datasets/{DATASET}/items/..%5C..%5Csecret.txt/image",
    "/api/datasets/%2Ftmp/items/item-0001",
    "/api/datasets/tiny%00/items/item-0001",
    "/api/maps/..%2F..%2Fsecret.txt/clip_a",
    f"/api/maps/{DATASET}/..%2F..%2F..%2Fsecret.txt/contour/0/0/0",
    "/..%2Fsecret.txt",
    "/%2E%2E/secret.txt",
    "/../../secret.txt",
    "/..%5Csecret.txt",
    "//etc/passwd",
])
def test_path_traversal_never_reaches_a_file(api, path):
    (api.data_dir.parent / "secret.txt").write_text(SECRET)
    (api.data_dir / "secret.txt").write_text(SECRET)
    status, content_type, text = raw_get(api.url, path)
    assert status in (400, 404)
    assert SECRET not in text and "root:" not in text
    assert content_type.startswith("application/json")


def test_a_dataset_folder_added_later_is_found(tiny_data_dir, tmp_path):
    running, server = start_server(tmp_path)
    try:
        missing = running.get(f"/api/datasets/{DATASET}/items/item-0001")
        assert missing.status_code == 404 and "available: none" in error_of(missing)["message"]
        shutil.copytree(tiny_data_dir / DATASET, tmp_path / DATASET)
        time.sleep(2.1)
        assert running.get(f"/api/datasets/{DATASET}/items/item-0001").json()["id"] == "item-0001"
    finally:
        server.close()


def test_an_unreadable_dataset_is_a_json_503_naming_why_and_listed_as_broken(tiny_data_dir, tmp_path):
    shutil.copytree(tiny_data_dir / DATASET, tmp_path / DATASET)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset.yaml").write_text("name: broken\n")
    running, server = start_server(tmp_path)
    try:
        r = running.get("/api/datasets/broken/items/item-0001")
        assert r.status_code == 503
        message = error_of(r)["message"]
        assert message == "dataset 'broken' cannot be served: dataset.yaml: missing field 'generators'"
        assert "Traceback" not in r.text and str(tmp_path) not in r.text
        listing = running.get("/api/datasets").json()
        assert [d["name"] for d in listing["datasets"]] == [DATASET]
        assert listing["broken"] == [{"name": "broken", "reason": "dataset.yaml: missing field 'generators'"}]
    finally:
        server.close()


def test_root_without_frontend_says_to_run_setup(tmp_path, tiny_data_dir):
    running, server = start_server(tiny_data_dir, {"FRONTEND_DIST": str(tmp_path / "missing")})
    try:
        r = running.get("/")
        assert r.status_code == 503
        assert "scripts/setup.sh" in r.text
        assert running.get("/assets/app.js").status_code == 404
    finally:
        server.close()


def test_root_serves_the_frontend_and_its_assets_only(tmp_path, tiny_data_dir):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>DKMap</title>")
    (dist / "assets" / "app.js").write_text("console.log('dkmap')")
    (tmp_path / "outside.txt").write_text(SECRET)
    running, server = start_server(tiny_data_dir, {"FRONTEND_DIST": str(dist)})
    try:
        assert "<title>DKMap</title>" in running.get("/").text
        assert running.get("/assets/app.js").text == "console.log('dkmap')"
        for path in ("/..%2Foutside.txt", "/assets/..%2F..%2Foutside.txt", "/%2E%2E/outside.txt"):
            status, _, text = raw_get(running.url, path)
            assert status == 404 and SECRET not in text
    finally:
        server.close()


@pytest.mark.parametrize("gen", GENERATORS)
@pytest.mark.parametrize("row, k", [(0, 8), (101, 1), (239, 100)])
def test_similar_images_are_the_true_nearest_neighbours(client, ds, gen, row, k):
    emb = np.asarray(ds.embedding(f"image_{gen}"), dtype=np.float64)
    scores = emb @ emb[row]
    scores[row] = -np.inf
    expected = np.argsort(-scores, kind="stable")[:k]
    body = client.get(f"/api/datasets/{DATASET}/items/{ds.ids[row]}/similar",
                      query_string={"k": k, "model": gen}).get_json()
    assert body["id"] == str(ds.ids[row]) and body["model"] == gen and body["k"] == k
    got = body["neighbours"]
    assert len(got) == k
    assert row not in [n["row"] for n in got]
    np.testing.assert_allclose([n["score"] for n in got], scores[expected], rtol=1e-5, atol=1e-6)
    assert [n["row"] for n in got] == expected.tolist()
    for n in got:
        assert n["id"] == str(ds.ids[n["row"]]) and n["prompt"] == ds.prompts[n["row"]]
        assert client.get(n["image"], buffered=True).data == ds.image_path(n["row"], gen).read_bytes()


def test_similar_defaults_to_eight_neighbours_of_the_first_generator(client, ds):
    body = client.get(f"/api/datasets/{DATASET}/items/{ds.ids[4]}/similar").get_json()
    assert body["model"] == GENERATORS[0] and body["k"] == 8 and len(body["neighbours"]) == 8
