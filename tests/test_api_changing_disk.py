"""The server while its disk changes (issue 17, findings 2 and 3): re-ingest and rebuild switch every
cached store as a whole, never mixing versions or answering 500; a broken dataset folder or map is
listed as broken with the reason and the rest is served."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.api_server import error_of
from helpers.tiny import DATASET, tiny_build_settings, write_tiny_dataset

ALL = [[-0.1, -0.1], [1.1, -0.1], [1.1, 1.1], [-0.1, 1.1]]


@pytest.fixture
def data_dir(tiny_data_dir, tmp_path) -> Path:
    shutil.copytree(tiny_data_dir / DATASET, tmp_path / DATASET)
    return tmp_path


@pytest.fixture
def client(data_dir):
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(data_dir)}).test_client()


def _reingest(data_dir: Path, n: int, seed: int, marker: int) -> pd.DataFrame:
    write_tiny_dataset(data_dir / DATASET, n=n, seed=seed, marker=marker)
    return pd.read_parquet(data_dir / DATASET / "items.parquet")


def _build(data_dir: Path, metric: str = "clip_a") -> None:
    from dkmap.builder import build_map

    build_map(data_dir / DATASET, metric, settings=tiny_build_settings(), progress=False)


def _warm(client) -> None:
    """Load every store the server caches for the dataset: items, ids, maps, indexes, keywords."""
    assert client.get("/api/datasets").status_code == 200
    assert client.get(f"/api/datasets/{DATASET}/items/item-0001").status_code == 200
    assert client.get(f"/api/datasets/{DATASET}/items/item-0001/image?model=a", buffered=True).status_code == 200
    assert client.get(f"/api/datasets/{DATASET}/items/item-0001/similar?k=3").status_code == 200
    assert client.get(f"/api/maps/{DATASET}/clip_a/points?z=4&sampling=all").status_code == 200
    assert client.post(f"/api/maps/{DATASET}/clip_a/selection", json={"polygon": ALL}).status_code == 200


def test_reingest_while_cached_switches_size_prompts_and_images_together(client, data_dir):
    _warm(client)
    assert client.get("/api/datasets").json["datasets"][0]["n_items"] == 240
    table = _reingest(data_dir, n=180, seed=7, marker=3)

    listing = client.get("/api/datasets").json["datasets"][0]
    assert listing["n_items"] == 180
    assert [m["built"] for m in listing["metrics"]] == [False, False, False]   # the new table's maps are not built
    item = client.get(f"/api/datasets/{DATASET}/items/item-0005").json
    row = table.index[table["id"] == "item-0005"][0]
    assert item["prompt"] == table.at[row, "prompt"] and item["positions"] == {}
    image = client.get(f"/api/datasets/{DATASET}/items/item-0005/image?model=a", buffered=True)
    assert image.data == (data_dir / DATASET / "images" / table.at[row, "image_a"]).read_bytes()
    assert client.get(f"/api/datasets/{DATASET}/items/item-0200").status_code == 404
    similar = client.get(f"/api/datasets/{DATASET}/items/item-0005/similar?k=100")
    assert similar.status_code == 404 and "dkmap build" in similar.json["error"]["message"]   # no stale index
    assert client.get(f"/api/maps/{DATASET}/clip_a/points").status_code == 404


def test_after_reingest_and_rebuild_points_selection_and_rows_answer_the_new_map(client, data_dir):
    _warm(client)
    table = _reingest(data_dir, n=150, seed=3, marker=1)
    _build(data_dir)

    points = client.get(f"/api/maps/{DATASET}/clip_a/points?z=4&sampling=all").json
    assert points["total_in_view"] == 150
    assert sorted(points["points"]["row"]) == list(range(150))
    assert [points["points"]["id"][i] for i in np.argsort(points["points"]["row"])] == table["id"].tolist()
    selection = client.post(f"/api/maps/{DATASET}/clip_a/selection", json={"polygon": ALL}).json
    assert selection["count"] == 150
    assert selection["stats"]["mean"] == pytest.approx(table["clip_a"].mean())
    rows = client.post(f"/api/maps/{DATASET}/clip_a/points/rows", json={"rows": [0, 149]}).json
    assert rows["points"]["id"] == [table["id"][0], table["id"][149]]
    past = client.post(f"/api/maps/{DATASET}/clip_a/points/rows", json={"rows": [239]})
    assert past.status_code == 400
    ids = client.post(f"/api/maps/{DATASET}/clip_a/selection/ids", json={"polygon": ALL}).json
    assert ids["count"] == 150 and ids["ids"] == table["id"].tolist()


def test_requests_during_reingest_and_rebuilds_never_answer_a_server_error(data_dir):
    from dkmap.server.app import create_app

    app = create_app({"DATA_DIR": str(data_dir)})
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()
    requests = [("get", f"/api/datasets/{DATASET}/items/item-0003"), ("get", "/api/datasets"),
                ("get", f"/api/maps/{DATASET}/clip_a/points?z=3"), ("get", f"/api/maps/{DATASET}/clip_a/contour/0/0/0"),
                ("post", f"/api/maps/{DATASET}/clip_a/selection"), ("post", f"/api/maps/{DATASET}/clip_a/points/rows"),
                ("get", f"/api/datasets/{DATASET}/items/item-0003/similar?k=5")]

    def hammer():
        client = app.test_client()
        while not stop.is_set():
            for method, url in requests:
                body = {"rows": [0, 1, 2]} if url.endswith("/rows") else {"polygon": ALL}
                r = client.get(url) if method == "get" else client.post(url, json=body)
                statuses.append((r.status_code, r.get_data(as_text=True)[:300]))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n, seed in ((200, 1), (220, 2)):
            time.sleep(0.3)
            _reingest(data_dir, n=n, seed=seed, marker=seed)
            _build(data_dir)
        _build(data_dir, "diff_ab")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(statuses) > 50
    errors = [(code, text) for code, text in statuses if code >= 500]
    unexpected = [(code, text) for code, text in errors if code != 503 or "retry" not in text]
    assert unexpected == []
    assert {code for code, _ in statuses} <= {200, 404, 503}
    client = app.test_client()
    assert client.get(f"/api/maps/{DATASET}/clip_a/points?z=4&sampling=all").json["total_in_view"] == 220


# ---- finding 3: one broken folder or map breaks nothing else ---------------------------------

@pytest.mark.parametrize("damage, reason", [
    (lambda root: (root / "dataset.yaml").write_text("name: [unclosed\n"), "dataset.yaml: invalid YAML"),
    (lambda root: (root / "items.parquet").unlink(), "items.parquet: missing"),
    (lambda root: (root / "items.parquet").write_bytes(b"not a parquet file"),
     "items.parquet: not a readable Parquet table"),
    (lambda root: (root / "embeddings" / "text.npy").unlink(), "embeddings/text.npy: missing"),
])
def test_a_broken_dataset_folder_is_listed_as_broken_and_the_others_served(client, data_dir, damage, reason):
    shutil.copytree(data_dir / DATASET, data_dir / "other")
    damage(data_dir / "other")
    listing = client.get("/api/datasets")
    assert listing.status_code == 200
    assert [d["name"] for d in listing.json["datasets"]] == [DATASET]
    [broken] = listing.json["broken"]
    assert broken["name"] == "other" and broken["reason"].startswith(reason)
    assert str(data_dir) not in listing.get_data(as_text=True)
    item = client.get("/api/datasets/other/items/item-0001")
    assert item.status_code == 503 and error_of(item)["message"].startswith("dataset 'other' cannot be served: " + reason)
    assert client.get(f"/api/datasets/{DATASET}/items/item-0001").status_code == 200
    assert client.get(f"/api/maps/{DATASET}/clip_a/points").status_code == 200


def test_a_repaired_dataset_folder_is_served_again(client, data_dir):
    shutil.copytree(data_dir / DATASET, data_dir / "other")
    good = (data_dir / "other" / "dataset.yaml").read_text()
    (data_dir / "other" / "dataset.yaml").write_text("name: [unclosed\n")
    assert client.get("/api/datasets").json["broken"][0]["name"] == "other"
    assert client.get("/api/datasets/other/items/item-0001").status_code == 503
    (data_dir / "other" / "dataset.yaml").write_text(good)
    assert client.get("/api/datasets/other/items/item-0001").json["id"] == "item-0001"
    assert client.get("/api/datasets").json["broken"] == []


def _replace_array(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name("replacement.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def test_a_corrupt_map_file_breaks_only_its_map(client, data_dir):
    maps = data_dir / DATASET / "maps"
    _replace_array(maps / "clip_a" / "positions.npy", np.zeros((10, 2), np.float32))
    listing = client.get("/api/datasets").json
    assert listing["broken"] == []
    metrics = {m["name"]: m for m in listing["datasets"][0]["metrics"]}
    assert metrics["clip_a"]["built"] is False
    assert metrics["clip_a"]["broken"].startswith("maps/clip_a/positions.npy: ")
    assert metrics["diff_ab"]["built"] is True and "broken" not in metrics["diff_ab"]

    item = client.get(f"/api/datasets/{DATASET}/items/item-0001")
    assert item.status_code == 200
    assert list(item.json["positions"]) == ["diff_ab"]
    assert item.json["unavailable_maps"]["clip_a"].startswith("the map of metric 'clip_a' in dataset 'tiny' cannot be served")
    answer = client.get(f"/api/maps/{DATASET}/clip_a/points")
    assert answer.status_code == 503
    assert "the map of metric 'clip_a' in dataset 'tiny' cannot be served: maps/clip_a/positions.npy" in error_of(answer)["message"]
    assert client.get(f"/api/maps/{DATASET}/diff_ab/points").status_code == 200


def test_a_map_built_from_another_version_of_the_dataset_is_refused(client, data_dir, tiny_data_dir):
    write_tiny_dataset(data_dir / DATASET, n=100, seed=4)
    shutil.copytree(tiny_data_dir / DATASET / "maps", data_dir / DATASET / "maps")   # copied by hand
    answer = client.get(f"/api/maps/{DATASET}/clip_a/points")
    assert answer.status_code == 503
    assert "built from another version of the dataset (240 items; it has 100)" in error_of(answer)["message"]
    assert client.get(f"/api/datasets/{DATASET}/items/item-0001").status_code == 200


# ---- finding 4: a memory-mapped file overwritten in place ---------------------------------------

def test_a_memory_mapped_map_file_truncated_in_place_is_an_error_not_a_crash(data_dir):
    from dkmap.server.app import create_app

    client = create_app({"DATA_DIR": str(data_dir), "MAP_MEMORY_BYTES": 0}).test_client()   # map every array
    url = f"/api/maps/{DATASET}/clip_a/points?z=4&sampling=all"
    assert client.get(url).json["total_in_view"] == 240
    path = data_dir / DATASET / "maps" / "clip_a" / "positions.npy"
    original = path.read_bytes()
    with open(path, "r+b") as fh:   # in place: the mapping now reaches past the end of the file
        fh.truncate(200)
    answer = client.get(url)
    assert answer.status_code == 503
    assert "maps/clip_a/positions.npy" in error_of(answer)["message"]
    with open(path, "r+b") as fh:
        fh.write(original)
    time.sleep(2.1)   # a broken map is tried again after BROKEN_RETRY_S
    assert client.get(url).json["total_in_view"] == 240
