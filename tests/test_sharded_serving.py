"""The server on a sharded dataset built on Dask answers as on the plain dataset with the same content.

One real waitress server over a DATA_DIR holding the tiny API dataset (with metadata columns of
every kind) twice: `tiny` (plain layout,
single-machine build) and `tiny-sharded` (the same rows in 4 shards, built with `--engine dask`).
The Dask build equals the plain one to float tolerance (tests/test_distributed.py), so positions,
tiles and scores are compared to that tolerance and everything else exactly.
"""

from __future__ import annotations

import distributed  # set-up installs dask: a missing one must fail, not skip
import numpy as np
import pytest

from helpers.api_server import start_server
from helpers.tiny import DATASET, tiny_build_settings, write_tiny_dataset
from helpers.typed import typed_table
from dkmap.data.store import open_dataset
from dkmap.data.sharded import shard_dataset
from dkmap.builder import build_map


METRIC = "clip_a"
SHARDED = f"{DATASET}-sharded"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sharded-serving")
    write_tiny_dataset(data_dir / DATASET, columns=typed_table())
    shard_dataset(data_dir / DATASET, data_dir / SHARDED, shard_rows=70)
    build_map(data_dir / DATASET, METRIC, settings=tiny_build_settings(), progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        build_map(data_dir / SHARDED, METRIC, settings=tiny_build_settings(), engine="dask", scheduler=client,
                  progress=False)
    api, handle = start_server(data_dir)
    yield api
    handle.close()


def both(api, path: str, **kw) -> tuple[dict, dict]:
    """The JSON answers for the plain and the sharded dataset (`{d}` in path is the dataset)."""
    answers = []
    for name in (DATASET, SHARDED):
        r = (api.post if "json" in kw else api.get)(path.format(d=name), **kw)
        assert r.status_code == 200, r.text
        answers.append(r.json())
    return answers[0], answers[1]


def test_sharded_dataset_is_listed_and_really_sharded(servers):
    ds = open_dataset(servers.data_dir / SHARDED)
    assert ds.sharded and ds.meta["shards"] == [70, 70, 70, 30]
    listed = {d.pop("name"): d for d in servers.get("/api/datasets").json()["datasets"]}
    assert listed[SHARDED] == listed[DATASET] and listed[DATASET]["n_items"] == 240
    assert (servers.data_dir / SHARDED / "maps" / METRIC / "manifest.json").is_file()


@pytest.mark.parametrize("item", ["item-0000", "item-0069", "item-0070", "item-0239"])
def test_item_similar_and_image_are_equal(servers, item):
    plain, sharded = both(servers, f"/api/datasets/{{d}}/items/{item}")
    np.testing.assert_allclose(sharded.pop("positions")[METRIC], plain.pop("positions")[METRIC], atol=1e-6)
    assert sharded.pop("images") == {g: u.replace(f"/{DATASET}/", f"/{SHARDED}/")
                                     for g, u in plain.pop("images").items()}
    assert sharded == plain
    for model in ("a", "b"):
        plain, sharded = both(servers, f"/api/datasets/{{d}}/items/{item}/similar?k=6&model={model}")
        assert [n["id"] for n in sharded["neighbours"]] == [n["id"] for n in plain["neighbours"]]
        assert [n["prompt"] for n in sharded["neighbours"]] == [n["prompt"] for n in plain["neighbours"]]
        np.testing.assert_allclose([n["score"] for n in sharded["neighbours"]],
                                   [n["score"] for n in plain["neighbours"]], atol=1e-6)
        images = [servers.get(f"/api/datasets/{d}/items/{item}/image?model={model}") for d in (DATASET, SHARDED)]
        assert images[0].status_code == images[1].status_code == 200
        assert images[0].content == images[1].content and images[0].content.startswith(b"\x89PNG")


def test_tiles_are_equal_stored_and_deep(servers):
    info, _ = both(servers, f"/api/maps/{{d}}/{METRIC}")
    assert info["max_level"] >= info["precomputed_levels"]   # one level at least computed on request
    centre = np.median(np.load(servers.data_dir / DATASET / "maps" / METRIC / "positions.npy"), axis=0)
    for z in range(info["max_level"] + 1):
        x, y = (centre * 2**z).astype(int)   # the tile holding the median item: never all masked
        plain, sharded = both(servers, f"/api/maps/{{d}}/{METRIC}/contour/{z}/{x}/{y}")
        a, b = (np.array([[np.nan if v is None else v for v in row] for row in t["values"]]) for t in (plain, sharded))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert not np.isnan(a).all()
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.nanmax(np.abs(a)))


@pytest.mark.parametrize("sampling", ["bluenoise", "random", "all"])
def test_points_are_equal(servers, sampling):
    for z, bbox in [(0, "0,0,1,1"), (2, "0.2,0.1,0.7,0.9")]:
        plain, sharded = both(servers, f"/api/maps/{{d}}/{METRIC}/points?z={z}&bbox={bbox}&sampling={sampling}")
        assert plain["returned"] > 0
        for key in ("total_in_view", "returned", "capped"):
            assert sharded[key] == plain[key]
        a, b = (_by_row(answer["points"]) for answer in (plain, sharded))
        for col in ("row", "id", "value"):
            assert b[col].tolist() == a[col].tolist()
        for col in ("x", "y"):
            np.testing.assert_allclose(b[col], a[col], atol=1e-6)


def _by_row(points: dict) -> dict[str, np.ndarray]:
    """The columnar points answer with its columns in row order."""
    order = np.argsort(points["row"])
    return {col: np.asarray(values)[order] for col, values in points.items()}


def test_lasso_selection_and_keywords_are_equal(servers):
    polygon = [[0.1, 0.1], [0.9, 0.15], [0.55, 0.9], [0.3, 0.6]]
    plain, sharded = both(servers, f"/api/maps/{{d}}/{METRIC}/selection", json={"polygon": polygon})
    assert plain["count"] > 20
    assert sharded["sample"] == plain["sample"] and plain["sample"]["size"] == plain["count"]
    assert sharded["stats"] == pytest.approx(plain["stats"])
    assert sharded["keywords"] == plain["keywords"] and plain["keywords"]["keywords"]


FILTERS = [{"column": "guidance", "range": [2, 9]}, {"column": "model", "in": ["model-00", "model-03", None]},
           {"column": "nsfw", "in": [False]}, {"column": "made", "range": ["2024-01-05", "2024-02-20"]}]


def test_metadata_filters_histograms_and_export_are_equal(servers):
    """The sharded dataset keeps the metadata columns shard by shard: filtering, the histograms of a
    view and the export answer as on the plain dataset."""
    import csv
    import io

    import pandas as pd

    plain, sharded = both(servers, f"/api/maps/{{d}}/{METRIC}/selection/ids", json={"filters": FILTERS})
    ref = typed_table()
    made = ref["made"].between(pd.Timestamp("2024-01-05", tz="UTC"), pd.Timestamp("2024-02-20", tz="UTC"))
    mask = (ref["guidance"].between(2, 9) & (ref["model"].isin(["model-00", "model-03"]) | ref["model"].isna())
            & (ref["nsfw"] == False) & made)  # noqa: E712 (missing is not False)
    assert 0 < plain["count"] == int(mask.sum()) < 240
    assert sharded == plain
    body = {"view": [0, 0, 1, 1], "filters": FILTERS[:2], "bins": 8}
    plain, sharded = both(servers, f"/api/maps/{{d}}/{METRIC}/histograms", json=body)
    assert {c["name"] for c in plain["columns"]} >= {"guidance", "model", "made", "nsfw"}
    assert sharded == plain
    answers = [servers.post(f"/api/maps/{name}/{METRIC}/export", params={"format": "csv"},
                            json={"filters": FILTERS}) for name in (DATASET, SHARDED)]
    assert [a.status_code for a in answers] == [200, 200]
    plain_rows, sharded_rows = (list(csv.DictReader(io.StringIO(a.text))) for a in answers)
    assert len(plain_rows) == len(sharded_rows) == int(mask.sum())
    assert {"guidance", "model", "nsfw", "made", "note"} <= set(plain_rows[0])
    for a, b in zip(plain_rows, sharded_rows):
        for key in a:
            if key in ("x", "y"):   # the two builds agree to float tolerance
                assert float(b[key]) == pytest.approx(float(a[key]), abs=1e-5)
            else:
                assert b[key] == a[key], key
