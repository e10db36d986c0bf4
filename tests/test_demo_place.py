"""Placing through the demo's saved encoder (the small demo, built by the real pipeline): an item's
own prompt and image land where the item is; bad images are named."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def demo_client(built_data_dir):
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(built_data_dir)}).test_client()


@pytest.fixture(scope="module")
def demo(built_data_dir):
    from dkmap.data.store import open_dataset

    return open_dataset(built_data_dir / "demo-small")


def test_the_demo_folder_holds_its_encoder_and_it_reproduces_the_stored_embeddings(demo):
    from dkmap.data.demo.encoder import ENCODER_FILE
    from dkmap.search.encoders import dataset_encoder

    assert (demo.root / ENCODER_FILE).is_file()
    enc = dataset_encoder(demo)
    text, minilm = enc.encode_prompt(demo.prompts[4])
    assert not minilm.truncated
    np.testing.assert_allclose(text, demo.embedding("text")[4], atol=2e-3)
    with Image.open(demo.image_path(4, "a")) as img:
        image = enc.encode_image(img.convert("RGB"))
    np.testing.assert_allclose(image, demo.embedding("image_a")[4], atol=2e-3)


@pytest.mark.parametrize("metric, field", [("clipscore_a", "image"), ("clipscore_b", "image"),
                                           ("clipscore_diff", "image_a")])
def test_an_items_prompt_and_image_land_on_it(demo_client, demo, built_data_dir, metric, field):
    import dkmap

    m = dkmap.open_map(built_data_dir / "demo-small" / "maps" / metric)
    row = 11
    gen = "a" if field in ("image", "image_a") and metric != "clipscore_b" else "b"
    png = demo.image_path(row, gen).read_bytes()
    r = demo_client.post(f"/api/maps/demo-small/{metric}/place", content_type="multipart/form-data",
                         data={"prompt": demo.prompts[row], field: (io.BytesIO(png), "x.png")})
    assert r.status_code == 200, r.json
    body = r.json
    offset = np.hypot(*(np.asarray(body["position"]) - m.positions[row]))
    if metric == "clipscore_diff":
        # generator b's image is estimated from the prompt, so the item is near, not on, its place
        others = np.hypot(*(m.positions - np.asarray(body["position"])).T)
        assert offset < 0.06 and (others < offset).mean() < 0.02, (offset, (others < offset).mean())
    else:
        assert offset < 0.02
    if metric == "clipscore_diff":
        assert list(body["imputed"]) == ["image_b"] and body["actual"] is None
    else:
        assert body["imputed"] == {} and body["actual"] == pytest.approx(demo.metric(metric)[row], abs=0.5)
    assert body["predicted"] == pytest.approx(float(m.predict(np.asarray([body["position"]]))[0]))


def test_a_prompt_alone_is_placed_with_an_estimated_image(demo_client, demo):
    body = demo_client.post("/api/maps/demo-small/clipscore_a/place", json={"prompt": "three red stars"}).json
    assert list(body["imputed"]) == ["image_a"] and body["actual"] is None and body["warnings"] == []


def test_an_over_long_prompt_is_truncated_and_said_so(demo_client):
    body = demo_client.post("/api/maps/demo-small/clipscore_a/place", json={"prompt": "a red star " * 120}).json
    assert any("the model reads the first 256" in w for w in body["warnings"])


def _encoded(fmt, size=(128, 128)):
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("data, fragment", [
    (b"", "'image' is empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "could not be decoded"),
    (b"hello, not an image", "not a PNG, JPEG or WebP image"),
    (_encoded("GIF"), "not a PNG, JPEG or WebP image"),
    (_encoded("PNG", (5000, 4000)), "at most 16777216 pixels"),
])
def test_bad_images_are_named(demo_client, data, fragment):
    r = demo_client.post("/api/maps/demo-small/clipscore_a/place", content_type="multipart/form-data",
                         data={"image": (io.BytesIO(data), "x.png")})
    assert r.status_code == 400, r.json
    assert fragment in r.json["error"]["message"]


def test_an_oversized_image_is_refused(demo_client):
    from dkmap.search.images import MAX_IMAGE_BYTES

    noise = np.random.default_rng(0).integers(0, 255, size=(560, 560, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    assert MAX_IMAGE_BYTES < len(buf.getvalue()) < 1 << 20
    # The body is encoded here: for a form this large the test client would spool its own encoding to
    # a temporary file that it never closes.
    boundary = "dkmap-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    r = demo_client.post("/api/maps/demo-small/clipscore_a/place", data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 400 and f"at most {MAX_IMAGE_BYTES} are accepted" in r.json["error"]["message"]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_are_accepted(demo_client, fmt):
    r = demo_client.post("/api/maps/demo-small/clipscore_a/place", content_type="multipart/form-data",
                         data={"image": (io.BytesIO(_encoded(fmt)), "x")})
    assert r.status_code == 200, r.json
