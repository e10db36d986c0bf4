"""Sprite sheets: each cell holds its item's image (compared with the image endpoint), the sheet lists
what the points endpoint lists for its tile, disk and memory caching, and unreadable images."""

from __future__ import annotations

import io
import logging
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from helpers.tiny import DATASET
from dkmap import sprites

METRIC = "clip_a"
BASE = f"/api/maps/{DATASET}/{METRIC}/sprites"


def sheet_pixels(client, url: str) -> np.ndarray:
    res = client.get(url)
    assert res.status_code == 200 and res.mimetype == "image/webp"
    return np.asarray(Image.open(io.BytesIO(res.data)).convert("RGB"), dtype=np.float64)


def block_error(a: np.ndarray, b: np.ndarray, block: int = 8) -> float:
    """Largest difference of the mean colour of block × block squares: robust to lossy coding, yet an
    image that differs in one region (the tiny set's images differ by one white pixel) is far off."""
    h, w = (a.shape[0] // block) * block, (a.shape[1] // block) * block
    mean = lambda img: img[:h, :w].reshape(h // block, block, w // block, block, 3).mean(axis=(1, 3))  # noqa: E731
    return float(np.abs(mean(a) - mean(b)).max())


def expected_thumbnail(client, item_id: str, model: str) -> np.ndarray:
    """The item's image from the image endpoint, fitted to a cell the way a sheet does."""
    res = client.get(f"/api/datasets/{DATASET}/items/{item_id}/image?model={model}")
    data = res.data
    res.close()  # send_file's handle
    assert res.status_code == 200
    return np.asarray(sprites.fit(Image.open(io.BytesIO(data)).convert("RGB")), dtype=np.float64)


def half_open_rows(client, z: int, x: int, y: int, level: int) -> list[int]:
    n = 2**z
    x0, y0, x1, y1 = x / n, y / n, (x + 1) / n, (y + 1) / n
    p = client.get(f"/api/maps/{DATASET}/{METRIC}/points",
                   query_string={"z": level, "bbox": f"{x0},{y0},{x1},{y1}", "sampling": "bluenoise"}).get_json()["points"]
    keep = [r for r, px, py in zip(p["row"], p["x"], p["y"])
            if x0 <= px and (px < x1 or x1 >= 1) and y0 <= py and (py < y1 or y1 >= 1)]
    return keep


@pytest.mark.parametrize("z", [2, 3])
def test_sheets_of_a_level_hold_the_items_the_points_endpoint_lists(client, z):
    listed, in_sheets = [], []
    for x in range(2**z):
        for y in range(2**z):
            index = client.get(f"{BASE}/{z}/{x}/{y}").get_json()
            assert index["level"] == z - sprites.SHEET_DEPTH and not index["capped"]
            assert index["rows"] == half_open_rows(client, z, x, y, z - 2)
            in_sheets += index["rows"]
            listed += half_open_rows(client, z, x, y, z - 2)
    all_level = client.get(f"/api/maps/{DATASET}/{METRIC}/points",
                           query_string={"z": z - 2, "sampling": "bluenoise"}).get_json()["points"]["row"]
    assert sorted(in_sheets) == sorted(all_level) and len(set(in_sheets)) == len(in_sheets)


@pytest.mark.parametrize("model", ["a", "b"])
def test_each_cell_holds_its_items_image(client, model):
    index = client.get(f"{BASE}/4/5/6?model=a").get_json()  # any sheet with several items
    for z, x, y in [(3, 2, 3), (3, 4, 4), (4, 9, 9)]:
        cand = client.get(f"{BASE}/{z}/{x}/{y}?model={model}").get_json()
        if len(cand["rows"]) > len(index["rows"]):
            index = cand
    assert len(index["rows"]) >= 3 and index["model"] == model
    pixels = sheet_pixels(client, index["image"])
    assert pixels.shape == (index["height"], index["width"], 3)
    images = {i: expected_thumbnail(client, i, model) for i in index["ids"]}
    for item_id, (sx, sy, w, h) in zip(index["ids"], index["boxes"]):
        assert (w, h) == images[item_id].shape[1::-1]
        cell = pixels[sy:sy + h, sx:sx + w]
        errors = {other: block_error(cell, img) for other, img in images.items() if img.shape == cell.shape}
        assert errors[item_id] < 25, (item_id, errors[item_id])  # WebP is lossy: a few levels off
        differing = [e for o, e in errors.items() if block_error(images[o], images[item_id]) > 0]
        assert all(e > 80 for e in differing)  # any other item's image is far off somewhere


def test_index_carries_positions_and_values_of_its_items(client, tiny_data_dir):
    index = client.get(f"{BASE}/2/1/1").get_json()
    rows = index["rows"]
    pts = client.post(f"/api/maps/{DATASET}/{METRIC}/points/rows", json={"rows": rows}).get_json()["points"]
    assert index["ids"] == pts["id"]
    np.testing.assert_array_equal(np.float32(index["x_pos"]), np.float32(pts["x"]))
    np.testing.assert_allclose(index["values"], pts["value"], rtol=1e-9)


@pytest.mark.parametrize("url, status, message", [
    (f"{BASE}/1/0/0", 400, "'z' must be in 2..24"),
    (f"{BASE}/2/4/0", 400, "'x' must be in 0..3"),
    (f"{BASE}/2/0/0?model=zzz", 404, "unknown model 'zzz'"),
    (f"/api/maps/{DATASET}/clip_b/sprites/2/0/0", 404, "not built"),
])
def test_bad_sheet_requests_name_what_is_wrong(client, url, status, message):
    res = client.get(url)
    assert res.status_code == status and message in res.get_json()["error"]["message"]


@pytest.fixture
def own_data(tiny_data_dir, tmp_path):
    """A private copy of the tiny DATA_DIR (these tests write sheets and damage an image)."""
    shutil.copytree(tiny_data_dir, tmp_path / "data", ignore=shutil.ignore_patterns(sprites.SPRITES))
    return tmp_path / "data"


def own_client(data_dir, **config):
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(data_dir), **config}).test_client()


def test_sheets_are_written_beside_the_build_and_read_back(own_data):
    client = own_client(own_data)
    first = client.get(f"{BASE}/2/1/2").get_json()
    image = client.get(first["image"]).data
    written = list((own_data / DATASET / "sprites" / METRIC).rglob("2-1-2.*"))
    assert sorted(p.suffix for p in written) == [".json", ".webp"]
    assert not list((own_data / DATASET / "sprites").rglob(".*"))  # no temporary files left
    again = own_client(own_data)  # a new process state: the sheet comes from disk, byte for byte
    assert again.get(f"{BASE}/2/1/2").get_json() == first
    assert again.get(first["image"]).data == image


def test_a_damaged_cached_sheet_is_made_again(own_data):
    own_client(own_data).get(f"{BASE}/2/0/0")
    (webp,) = (own_data / DATASET / "sprites").rglob("2-0-0.webp")
    webp.write_bytes(b"RIFF")
    client = own_client(own_data)
    index = client.get(f"{BASE}/2/0/0").get_json()
    assert len(client.get(index["image"]).data) == index["image_bytes"] > 4


def test_concurrent_requests_for_one_sheet_make_it_once(own_data, monkeypatch):
    from dkmap.server import sprites as server_sprites

    made = []
    real = sprites.make_sheet
    monkeypatch.setattr(server_sprites.sprites, "make_sheet", lambda *a: made.append(1) or real(*a))
    app_client = own_client(own_data)
    results = []
    threads = [threading.Thread(target=lambda: results.append(app_client.get(f"{BASE}/3/3/3").get_json()))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len(results) == 6 and all(r == results[0] for r in results)


def test_an_unreadable_image_gives_a_placeholder_and_a_logged_reason(own_data, caplog):
    client = own_client(own_data)
    index = client.get(f"{BASE}/2/1/1").get_json()
    row, item_id = index["rows"][0], index["ids"][0]
    shutil.rmtree(own_data / DATASET / "sprites")
    (own_data / DATASET / "images" / f"a/{row:04d}.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    client = own_client(own_data)
    with caplog.at_level(logging.WARNING, logger="dkmap.sprites"):
        index = client.get(f"{BASE}/2/1/1").get_json()
    assert index["ids"][0] == item_id
    reason = index["problems"][str(row)]
    assert reason.startswith(("OSError: ", "UnidentifiedImageError: ", "SyntaxError: "))  # the decoder's own words
    assert any(f"row {row}" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    pixels = sheet_pixels(client, index["image"])
    sx, sy, w, h = index["boxes"][0]
    expected = np.asarray(sprites.placeholder(), dtype=np.float64)
    assert (w, h) == (sprites.CELL, sprites.CELL)
    assert np.abs(pixels[sy:sy + h, sx:sx + w] - expected).mean() < 6
    assert set(index["problems"]) == {str(row)}


def test_a_read_only_data_folder_serves_sheets_from_memory(own_data, monkeypatch, caplog):
    def refuse(*_a, **_k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(sprites, "_atomic_write", refuse)
    client = own_client(own_data)
    with caplog.at_level(logging.WARNING, logger="dkmap.sprites"):
        index = client.get(f"{BASE}/2/2/2").get_json()
    assert client.get(index["image"]).status_code == 200
    assert any("in memory only" in r.getMessage() for r in caplog.records)


def test_images_of_any_size_and_aspect_fit_a_cell(tmp_path):
    for size, mode in [((300, 40), "RGB"), ((5, 90), "L"), ((64, 64), "RGBA"), ((1, 1), "P")]:
        path = tmp_path / f"{size[0]}x{size[1]}.png"
        Image.new(mode, size).save(path)
        thumb, reason = sprites.thumbnail(path)
        assert reason is None and thumb.mode == "RGB"
        assert max(thumb.size) == sprites.CELL
        assert abs(thumb.width / thumb.height - size[0] / size[1]) < 0.2 * max(1, size[0] / size[1])
    (tmp_path / "empty.jpg").write_bytes(b"")
    thumb, reason = sprites.thumbnail(tmp_path / "empty.jpg")
    assert reason and thumb.size == (sprites.CELL, sprites.CELL)
    _, reason = sprites.thumbnail(tmp_path / "missing.png")
    assert "FileNotFoundError" in reason
