"""Arrow IPC answers of the point endpoints: the same arrays as JSON, compact types, JSON the default."""

from __future__ import annotations

import numpy as np
import pytest
import pyarrow as pa

from helpers.tiny import DATASET
from dkmap.server import encode
from dkmap.server.arrow import ARROW_STREAM, read_stream

METRIC = "clip_a"
BASE = f"/api/maps/{DATASET}/{METRIC}"
ARROW = {"Accept": ARROW_STREAM}


def view_arrays(points: dict) -> dict[str, np.ndarray]:
    """JSON point columns as the view holds them (pointStore.toChunk): float32 x, y, value (null → NaN)."""
    return {"row": np.asarray(points["row"], dtype=np.int32), "id": np.asarray(points["id"], dtype=object),
            "x": np.asarray(points["x"], dtype=np.float32), "y": np.asarray(points["y"], dtype=np.float32),
            "value": np.asarray([np.nan if v is None else v for v in points["value"]], dtype=np.float32)}


def assert_same(json_body: dict, arrow_bytes: bytes, plain_fields: dict) -> dict:
    fields, cols = read_stream(arrow_bytes)
    assert fields == plain_fields
    want = view_arrays(json_body)
    assert [str(cols["id"].dtype), str(cols["row"].dtype), str(cols["x"].dtype), str(cols["value"].dtype)] == \
        ["object", "int32", "float32", "float32"]
    for name, arr in want.items():
        np.testing.assert_array_equal(cols[name], arr, err_msg=name)
    return cols


@pytest.mark.parametrize("query", [
    {"z": 0, "sampling": "bluenoise"}, {"z": 2, "sampling": "random", "bbox": "0.2,0.1,0.7,0.9"},
    {"sampling": "all"}, {"sampling": "all", "limit": 17}, {"z": 1, "bbox": "2,2,3,3"},
])
def test_points_as_arrow_decode_to_the_json_arrays(client, query):
    js = client.get(f"{BASE}/points", query_string=query)
    ar = client.get(f"{BASE}/points", query_string=query, headers=ARROW)
    assert js.mimetype == "application/json" and ar.mimetype == ARROW_STREAM
    body = js.get_json()
    plain = {k: v for k, v in body.items() if k != "points"}
    assert_same(body["points"], ar.data, plain)
    assert "Accept" in ar.headers["Vary"]


def test_json_stays_the_default_and_unchanged(client):
    for headers in ({}, {"Accept": "*/*"}, {"Accept": f"application/json, {ARROW_STREAM};q=0.5"}):
        res = client.get(f"{BASE}/points?sampling=all", headers=headers)
        assert res.mimetype == "application/json"
    text = client.get(f"{BASE}/points?sampling=all&limit=3").get_data(as_text=True)
    assert text.startswith('{"z":0,"sampling":"all","total_in_view":240,"returned":3,"capped":true,"points":{"id":[')


def test_rows_and_selection_sample_as_arrow(client):
    rows = [5, 0, 239, 17, 17]
    js = client.post(f"{BASE}/points/rows", json={"rows": rows}).get_json()
    ar = client.post(f"{BASE}/points/rows", json={"rows": rows}, headers=ARROW)
    assert_same(js["points"], ar.data, {"returned": 5})
    poly = {"polygon": [[0, 0], [0.8, 0], [0.8, 0.7], [0, 0.9]]}
    js = client.post(f"{BASE}/selection", json=poly).get_json()
    ar = client.post(f"{BASE}/selection", json=poly, headers=ARROW)
    sample = js["sample"]
    plain = {"count": js["count"], "stats": js["stats"], "keywords": js["keywords"],
             "sample": {"size": sample["size"], "sampled": sample["sampled"]}}
    cols = assert_same(sample, ar.data, plain)
    assert len(cols["row"]) == js["count"] > 10


def test_arrow_is_smaller_than_json(client):
    js = client.get(f"{BASE}/points?sampling=all").data
    ar = client.get(f"{BASE}/points?sampling=all", headers=ARROW).data
    assert len(ar) < 0.75 * len(js)


def test_as_printed_matches_printf_on_every_magnitude():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(size=200_000) * 10.0 ** rng.integers(-30, 30, 200_000),
                        [0.0, -0.0, 1.0, 0.5, 1e-300, 9.9999999995, 9999999999.5, 1234567890.5, 1e22, 1e23,
                         np.nan, np.inf, -np.inf, 2.5e-8, 0.1 + 0.2]])
    got = encode.as_printed(a)
    want = np.array([float("%.10g" % v) for v in a])
    np.testing.assert_array_equal(got, want)


def test_ids_of_millions_of_items_make_one_array_a_batch_can_hold():
    from dkmap.server import arrow

    ids = np.arange(3_000_000).astype("U8")  # pyarrow converts this many in two chunks
    assert isinstance(pa.array(ids), pa.ChunkedArray)
    array = arrow.id_array(ids)
    assert isinstance(array, pa.Array) and len(array) == len(ids)
    rows = np.array([0, 2_999_999])
    batch = arrow.point_batch(array, rows, np.zeros((2, 2), np.float32), np.ones(2, np.float32))
    assert batch.column("id").to_pylist() == ["0", "2999999"]
