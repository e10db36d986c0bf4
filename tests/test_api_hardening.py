"""API hardening (issue 17, findings 5 and 11): degenerate lassos and absurdly nested JSON are 400s,
errors never reveal server paths, every answer carries the security headers, and an image's
Content-Type comes from its bytes. Against a real waitress server over real files."""

from __future__ import annotations

import io
import shutil

import pytest
import requests
from PIL import Image

from helpers.api_server import error_of, start_server
from helpers.tiny import DATASET

LASSO_ENDPOINTS = [f"/api/maps/{DATASET}/clip_a/selection", f"/api/maps/{DATASET}/clip_a/selection/ids"]


@pytest.mark.parametrize("url", LASSO_ENDPOINTS)
@pytest.mark.parametrize("polygon, needle", [
    ([[0.2, 0.2], [0.6, 0.7], [0.2, 0.2]], "at least 3 distinct vertices"),      # two of three coincide
    ([[0.2, 0.2], [0.2, 0.2], [0.6, 0.7]], "at least 3 distinct vertices"),      # ... next to each other
    ([[0.3, 0.3]] * 3, "at least 3 distinct vertices"),                         # all equal
    ([[0.3, 0.3]] * 12, "at least 3 distinct vertices"),
    ([[0.5, 0.5], [0.5 + 1e-300, 0.5], [0.5, 0.5 + 1e-300]], "at least 3 distinct vertices"),  # equal in float
    ([[0.0, 0.0], [1e-300, 0.0], [0.0, 1e-300]], "encloses no area"),          # distinct, area underflows
    ([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]], "encloses no area"),                # collinear
])
def test_degenerate_lassos_are_400_with_a_message(api, url, polygon, needle):
    r = api.post(url, json={"polygon": polygon})
    assert r.status_code == 400, r.text
    message = error_of(r)["message"]
    assert needle in message and "field 'polygon'" in message


@pytest.mark.parametrize("url", LASSO_ENDPOINTS)
def test_a_thin_but_real_lasso_still_answers(api, url):
    r = api.post(url, json={"polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.1 + 1e-9]]})
    assert r.status_code == 200 and r.json()["count"] >= 0


@pytest.mark.parametrize("url", LASSO_ENDPOINTS + [f"/api/maps/{DATASET}/clip_a/points/rows"])
@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_is_400_not_a_recursion_error(api, url, depth):
    body = '{"polygon": ' + "[" * depth + "]" * depth + "}"
    r = api.post(url, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested too deeply" in error_of(r)["message"]
    # and the server still answers
    assert api.get("/api/datasets").status_code == 200


def test_errors_never_reveal_server_paths(api):
    data_dir = str(api.data_dir)
    responses = [
        api.get(f"/api/maps/{DATASET}/clip_b"),                     # known metric, map not built
        api.get(f"/api/maps/{DATASET}/clip_b/contour/0/0/0"),
        api.get("/api/datasets/nope/items/x"),
        api.get(f"/api/datasets/{DATASET}/items/nope"),
        api.get("/no/such/page.html"),
        api.get("/api/nothing"),
    ]
    for r in responses:
        assert r.status_code == 404, r.text
        message = error_of(r)["message"]
        assert data_dir not in message and "/tmp" not in message and "/work" not in message, message
    assert "dkmap build" in error_of(responses[0])["message"]


SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


@pytest.mark.parametrize("path", ["/api/datasets", f"/api/maps/{DATASET}/clip_a", "/api/nothing",
                                  f"/api/datasets/{DATASET}/items/item-0001/image?model=a", "/"])
def test_every_answer_carries_the_security_headers(api, path):
    r = api.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    csp = r.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in csp


def test_security_headers_on_errors_too(api):
    r = api.post(LASSO_ENDPOINTS[0], json={"polygon": [[0, 0]] * 3})
    assert r.status_code == 400
    assert all(h in r.headers for h in SECURITY_HEADERS)


def _bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def tampered(tmp_path_factory, tiny_data_dir):
    """A copy of the tiny dataset where some image files' bytes disagree with their extension."""
    data_dir = tmp_path_factory.mktemp("tampered")
    shutil.copytree(tiny_data_dir / DATASET, data_dir / DATASET)
    images = data_dir / DATASET / "images"
    (images / "a" / "0000.png").write_bytes(_bytes("JPEG"))        # a JPEG named .png
    (images / "a" / "0001.png").write_bytes(_bytes("GIF"))         # a GIF named .png
    (images / "a" / "0002.png").write_bytes(b"<html><script>alert(1)</script></html>")   # not an image
    (images / "a" / "0003.png").write_bytes(_bytes("WEBP"))
    running, handle = start_server(data_dir)
    yield running
    handle.close()


@pytest.mark.parametrize("item, expected", [("item-0000", "image/jpeg"), ("item-0001", "image/gif"),
                                            ("item-0003", "image/webp"), ("item-0004", "image/png")])
def test_image_content_type_comes_from_the_bytes(tampered, item, expected):
    r = tampered.get(f"/api/datasets/{DATASET}/items/{item}/image?model=a")
    assert r.status_code == 200 and r.headers["Content-Type"] == expected
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_that_is_not_an_image_is_never_served_as_one(tampered):
    r = tampered.get(f"/api/datasets/{DATASET}/items/item-0002/image?model=a")
    assert r.status_code == 404
    assert "not a PNG, JPEG, WebP or GIF image" in error_of(r)["message"]
    assert b"<script>" not in r.content
