"""API: map description, contour tiles equal to the build's arrays, points in view at their levels.

Flask's test client over the tiny build (conftest `client`); the rebuild test runs a real server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.api_server import error_of
from helpers.tiny import BUILT_METRICS, DATASET
from dkmap.data.store import open_dataset

METRIC = "clip_a"


def map_dir(data_dir, metric=METRIC):
    return data_dir / DATASET / "maps" / metric


@pytest.fixture(scope="module")
def manifest(tiny_data_dir):
    return json.loads((map_dir(tiny_data_dir) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def built(tiny_data_dir):
    folder = map_dir(tiny_data_dir)
    return {"positions": np.load(folder / "positions.npy"),
            "bluenoise": np.load(folder / "sampling_bluenoise.npy"),
            "random": np.load(folder / "sampling_random.npy"),
            "values": open_dataset(tiny_data_dir / DATASET).metric(METRIC),
            "ids": open_dataset(tiny_data_dir / DATASET).ids.astype(str)}


def as_grid(values) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)


@pytest.mark.parametrize("metric", BUILT_METRICS)
def test_map_info_reports_the_manifest(client, tiny_data_dir, metric):
    man = json.loads((map_dir(tiny_data_dir, metric) / "manifest.json").read_text())
    body = client.get(f"/api/maps/{DATASET}/{metric}").get_json()
    assert body["dataset"] == DATASET and body["metric"] == metric
    assert body["n_items"] == man["n_items"]
    assert body["tile_size"] == man["tile_size"] == 32
    assert body["max_level"] == man["max_level"]
    assert body["precomputed_levels"] == len(man["precomputed_levels"])
    assert body["colour_domain"] == pytest.approx(man["colour_domain"])
    assert body["value_range"] == pytest.approx(man["value_range"])
    assert body["levels"] == man["levels"]
    assert body["kernel"] == {k: man["kernel"][k] for k in ("alpha", "beta", "scale", "m_mean")}
    assert body["diverging"] == (metric == "diff_ab")
    assert body["kind"] == ("difference" if metric == "diff_ab" else "score")
    assert body["bounds"] == [0, 0, 1, 1]
    assert body["training"]["lam"] == man["training"]["lam"] and body["training"]["lam"] is not None
    assert body["training"] == {k: man["training"][k] for k in
                                ("steps", "best_step", "lam", "lams_tried", "n_fit", "n_select")}
    blue = np.load(map_dir(tiny_data_dir, metric) / "sampling_bluenoise.npy")
    rand = np.load(map_dir(tiny_data_dir, metric) / "sampling_random.npy")
    assert body["sampling"]["max_level"] == max(int(blue.max()), int(rand.max()))


def test_precomputed_tiles_equal_the_build_arrays(client, tiny_data_dir, manifest):
    T = manifest["tile_size"]
    for z in manifest["precomputed_levels"]:
        grid = np.load(map_dir(tiny_data_dir) / "levels" / f"level_{z}.npy")
        for ty in range(2**z):
            for tx in range(2**z):
                body = client.get(f"/api/maps/{DATASET}/{METRIC}/contour/{z}/{tx}/{ty}").get_json()
                assert (body["z"], body["x"], body["y"], body["size"]) == (z, tx, ty, T)
                want = grid[ty * T:(ty + 1) * T, tx * T:(tx + 1) * T]
                got = as_grid(body["values"])
                assert got.shape == (T, T)
                np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-6)


def test_masked_cells_are_null(client, tiny_data_dir, manifest):
    grid = np.load(map_dir(tiny_data_dir) / "levels" / "level_0.npy")
    # the tiny build masks: 240 items leave most cells of level 0 far from every item
    assert manifest["mask"]["enabled"] and np.isnan(grid).any() and not np.isnan(grid).all()
    values = client.get(f"/api/maps/{DATASET}/{METRIC}/contour/0/0/0").get_json()["values"]
    assert [[v is None for v in row] for row in values] == np.isnan(grid).tolist()


def test_deep_tiles_are_computed_on_request_and_cached(client, tiny_data_dir, manifest):
    from dkmap.maps import open_built

    z = manifest["max_level"]
    assert z not in manifest["precomputed_levels"]
    pos = np.load(map_dir(tiny_data_dir) / "positions.npy")
    x, y = (np.floor(pos[0] * 2**z)).astype(int)
    url = f"/api/maps/{DATASET}/{METRIC}/contour/{z}/{x}/{y}"
    first = client.get(url)
    assert first.status_code == 200
    want = open_built(tiny_data_dir / DATASET, METRIC).tile(z, int(x), int(y))
    got = as_grid(first.get_json()["values"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-6)
    cache = client.application.extensions["dkmap_registry"].tiles
    hits = cache.hits
    assert client.get(url).data == first.data
    assert cache.hits == hits + 1


@pytest.mark.parametrize("sampling", ["bluenoise", "random"])
@pytest.mark.parametrize("z", [0, 1, 3])
def test_sampled_points_are_those_in_the_bbox_at_or_below_z(client, tiny_data_dir, built, sampling, z):
    bbox = (0.1, 0.2, 0.7, 0.9)
    body = client.get(f"/api/maps/{DATASET}/{METRIC}/points",
                      query_string={"z": z, "bbox": ",".join(map(str, bbox)), "sampling": sampling}).get_json()
    pos, levels = built["positions"], built[sampling]
    inside = ((pos[:, 0] >= bbox[0]) & (pos[:, 0] <= bbox[2]) & (pos[:, 1] >= bbox[1]) & (pos[:, 1] <= bbox[3]))
    expected = np.flatnonzero(inside & (levels <= z))
    pts = body["points"]
    assert sorted(pts["row"]) == expected.tolist()
    assert body["total_in_view"] == body["returned"] == len(expected) and body["capped"] is False
    rows = np.array(pts["row"], dtype=int)
    np.testing.assert_array_equal(np.array(pts["x"], dtype=np.float32), pos[rows, 0])
    np.testing.assert_array_equal(np.array(pts["y"], dtype=np.float32), pos[rows, 1])
    np.testing.assert_allclose(pts["value"], built["values"][rows], rtol=1e-9)
    assert pts["id"] == built["ids"][rows].tolist()
    assert body["z"] == z and body["sampling"] == sampling


def test_points_grow_with_zoom_and_nest(client, tiny_data_dir):
    seen = set()
    for z in range(6):
        body = client.get(f"/api/maps/{DATASET}/{METRIC}/points", query_string={"z": z}).get_json()
        rows = set(body["points"]["row"])
        assert seen <= rows
        seen = rows
    assert len(seen) > 1


def test_all_points_capped_at_limit_report_the_total(client, tiny_data_dir, built):
    body = client.get(f"/api/maps/{DATASET}/{METRIC}/points", query_string={"sampling": "all", "limit": 50}).get_json()
    assert body["total_in_view"] == len(built["positions"])
    assert body["returned"] == 50 and body["capped"] is True
    assert len(set(body["points"]["row"])) == 50
    full = client.get(f"/api/maps/{DATASET}/{METRIC}/points", query_string={"sampling": "all"}).get_json()
    assert sorted(full["points"]["row"]) == list(range(len(built["positions"])))
    assert full["capped"] is False


def test_all_points_take_a_limit_of_millions_as_arrow_only(client, tiny_data_dir, built):
    import pyarrow as pa

    url = f"/api/maps/{DATASET}/{METRIC}/points"
    r = client.get(url, query_string={"sampling": "all", "limit": 5_000_000},
                   headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 200
    table = pa.ipc.open_stream(r.data).read_all()
    assert sorted(table.column("row").to_pylist()) == list(range(len(built["positions"])))
    # JSON answers stay within 200 000 points: the error says how to ask for more.
    r = client.get(url, query_string={"sampling": "all", "limit": 5_000_000})
    assert r.status_code == 400
    assert "must be in 1..200000 for a JSON answer, got 5000000 (up to 5000000 with sampling=all as " \
           "application/vnd.apache.arrow.stream)" in error_of(r)["message"]


def test_empty_view_returns_no_points(client, tiny_data_dir):
    body = client.get(f"/api/maps/{DATASET}/{METRIC}/points",
                      query_string={"bbox": "2,2,3,3", "sampling": "all"}).get_json()
    assert body["total_in_view"] == 0 and body["points"]["row"] == [] and body["points"]["x"] == []


BASE = f"/api/maps/{DATASET}/{METRIC}"


@pytest.mark.parametrize("path, status, needle", [
    (f"/api/maps/nope/{METRIC}", 404, "unknown dataset 'nope'"),
    (f"/api/maps/{DATASET}/nope", 404, "unknown metric 'nope'"),
    (f"/api/maps/{DATASET}/clip_b", 404, "is not built"),
    (f"/api/maps/{DATASET}/clip_b/contour/0/0/0", 404, "is not built"),
    (f"/api/maps/{DATASET}/nope/points", 404, "unknown metric 'nope'"),
    (f"{BASE}/contour/5/0/0", 400, "'z' must be in 0..4"),
    (f"{BASE}/contour/-1/0/0", 400, "'z' must be in 0..4"),
    (f"{BASE}/contour/a/0/0", 400, "'z' must be an integer"),
    (f"{BASE}/contour/1/2/0", 400, "'x' must be in 0..1"),
    (f"{BASE}/contour/1/0/2", 400, "'y' must be in 0..1"),
    (f"{BASE}/contour/0/0/-1", 400, "'y' must be in 0..0"),
    (f"{BASE}/contour/2/1.5/0", 400, "'x' must be an integer"),
    (f"{BASE}/contour/0/0", 404, "no such endpoint"),
    (f"{BASE}/points?bbox=0,0,1", 400, "'bbox' must be x0,y0,x1,y1"),
    (f"{BASE}/points?bbox=0,0,1,x", 400, "'bbox' must be x0,y0,x1,y1"),
    (f"{BASE}/points?bbox=0,0,nan,1", 400, "'bbox' must hold finite numbers"),
    (f"{BASE}/points?bbox=0,0,inf,1", 400, "'bbox' must hold finite numbers"),
    (f"{BASE}/points?bbox=1,0,0,1", 400, "x0 <= x1"),
    (f"{BASE}/points?sampling=grid", 400, "'sampling' must be one of bluenoise, random, all"),
    (f"{BASE}/points?z=-1", 400, "'z' must be in 0..30"),
    (f"{BASE}/points?z=99", 400, "'z' must be in 0..30"),
    (f"{BASE}/points?limit=0", 400, "'limit' must be in 1..200000"),
    (f"{BASE}/points?limit=200001", 400, "'limit' must be in 1..200000"),
    (f"{BASE}/points?sampling=all&limit=5000001", 400, "'limit' must be in 1..5000000"),
])
def test_bad_map_requests(client, tiny_data_dir, path, status, needle):
    r = client.get(path)
    assert r.status_code == status
    assert needle in error_of(r)["message"]


def test_a_rebuilt_map_is_served_without_a_restart(client, tiny_data_dir, tmp_path):
    import dataclasses
    import shutil

    from helpers.api_server import start_server
    from helpers.tiny import tiny_build_settings
    from dkmap.builder import build_map

    shutil.copytree(tiny_data_dir / DATASET, tmp_path / DATASET)
    running, server = start_server(tmp_path)
    try:
        before = running.get(f"/api/datasets/{DATASET}/items/item-0007").json()["positions"][METRIC]
        tile_before = running.get(f"/api/maps/{DATASET}/{METRIC}/contour/0/0/0").json()["values"]
        settings = dataclasses.replace(tiny_build_settings(), seed=1)
        build_map(tmp_path / DATASET, METRIC, settings=settings, progress=False, force=True)
        folder = tmp_path / DATASET / "maps" / METRIC
        after = running.get(f"/api/datasets/{DATASET}/items/item-0007").json()["positions"][METRIC]
        np.testing.assert_array_equal(np.float32(after), np.load(folder / "positions.npy")[7])
        assert after != before
        got = as_grid(running.get(f"/api/maps/{DATASET}/{METRIC}/contour/0/0/0").json()["values"])
        want = np.load(folder / "levels" / "level_0.npy")
        np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-6)
        assert not np.array_equal(as_grid(tile_before), got, equal_nan=True)
    finally:
        server.close()


def test_points_of_listed_rows_carry_their_positions_on_each_map(client, tiny_data_dir, built):
    rows = [17, 3, 239, 3, 0]
    body = client.post(f"/api/maps/{DATASET}/{METRIC}/points/rows", json={"rows": rows}).get_json()
    pts = body["points"]
    assert body["returned"] == 5 and pts["row"] == rows  # in the order asked, repeats kept
    np.testing.assert_array_equal(np.array(pts["x"], dtype=np.float32), built["positions"][rows, 0])
    np.testing.assert_array_equal(np.array(pts["y"], dtype=np.float32), built["positions"][rows, 1])
    np.testing.assert_allclose(pts["value"], built["values"][rows], rtol=1e-9)
    assert pts["id"] == built["ids"][rows].tolist()
    other = BUILT_METRICS[1]
    on_other = client.post(f"/api/maps/{DATASET}/{other}/points/rows", json={"rows": rows}).get_json()["points"]
    np.testing.assert_array_equal(np.array(on_other["x"], dtype=np.float32),
                                  np.load(map_dir(tiny_data_dir, other) / "positions.npy")[rows, 0])


@pytest.mark.parametrize("body, needle", [
    ({}, "field 'rows' must be a list of integer item rows"),
    ({"rows": []}, "field 'rows' must hold 1 to 100000 rows, got 0"),
    ({"rows": [1, "2"]}, "field 'rows' must be a list of integer item rows"),
    ({"rows": [1, True]}, "field 'rows' must be a list of integer item rows"),
    ({"rows": [1, 2.0]}, "field 'rows' must be a list of integer item rows"),
    ({"rows": [5, 240]}, "field 'rows' holds row 240, outside 0..239"),
    ({"rows": [-1]}, "field 'rows' holds row -1, outside 0..239"),
    ({"rows": [10 ** 30]}, "outside 0..239"),
])
def test_bad_row_lists_are_400(client, tiny_data_dir, body, needle):
    r = client.post(f"/api/maps/{DATASET}/{METRIC}/points/rows", json=body)
    assert r.status_code == 400 and needle in error_of(r)["message"]


def test_row_lists_beyond_the_body_cap_are_413(client, tiny_data_dir):
    r = client.post(f"/api/maps/{DATASET}/{METRIC}/points/rows", json={"rows": [7] * 100_001})
    assert r.status_code == 413 and "request body too large" in error_of(r)["message"]
