"""Points coloured by a column (`colour=<column>` on /points and /points/rows, dkmap.server.colouring):
the values are the stored column's at each returned row, in JSON and Arrow alike; numbers carry the
whole dataset's range, categories their values; unknown and free-text columns are a 400."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dkmap.server.arrow import ARROW_STREAM, read_stream
from helpers.tiny import DATASET, N_ITEMS, tiny_build_settings, write_tiny_dataset

BASE = f"/api/maps/{DATASET}/clip_a"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = N_ITEMS
    made = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s")
    return pd.DataFrame({
        "guidance": np.round(rng.uniform(1, 12, n), 2),
        "model": rng.choice(["sdxl", "flux", "dalle"], n),
        "nsfw": rng.random(n) < 0.2,
        "made": made,
        "note": [f"free text note number {i} about item {i * 7}" for i in range(n)],
    })


@pytest.fixture(scope="module")
def colour_client(tmp_path_factory, table):
    from dkmap.builder import build_map
    from dkmap.server.app import create_app

    data_dir = tmp_path_factory.mktemp("colour-data")
    write_tiny_dataset(data_dir / DATASET, columns=table)
    build_map(data_dir / DATASET, "clip_a", settings=tiny_build_settings(), progress=False)
    return create_app({"DATA_DIR": str(data_dir)}).test_client()


def _points(client, colour, **query):
    res = client.get(f"{BASE}/points", query_string={"sampling": "all", "colour": colour, **query})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def test_the_dataset_lists_what_points_can_be_coloured_by(colour_client):
    entry = colour_client.get("/api/datasets").get_json()["datasets"][0]
    assert entry["colour_columns"] == ["clip_a", "clip_b", "diff_ab", "split", "guidance", "model", "nsfw", "made"]


def test_a_number_column_colours_each_point_by_its_value(colour_client, table):
    body = _points(colour_client, "guidance")
    assert body["colour"] == {"name": "guidance", "kind": "number",
                              "domain": [float(table["guidance"].min()), float(table["guidance"].max())]}
    rows = np.asarray(body["points"]["row"])
    assert len(rows) == N_ITEMS
    np.testing.assert_allclose(body["points"]["colour"], table["guidance"].to_numpy()[rows])


def test_another_metric_colours_the_points_while_value_stays_the_maps(colour_client):
    items = pd.read_parquet(colour_client.application.config["DATA_DIR"] + f"/{DATASET}/items.parquet")
    body = _points(colour_client, "diff_ab", z=1, sampling="bluenoise")
    rows = np.asarray(body["points"]["row"])
    np.testing.assert_allclose(body["points"]["colour"], items["diff_ab"].to_numpy()[rows], rtol=1e-9)
    np.testing.assert_allclose(body["points"]["value"], items["clip_a"].to_numpy()[rows], rtol=1e-9)
    assert body["colour"]["domain"] == [float(items["diff_ab"].min()), float(items["diff_ab"].max())]


@pytest.mark.parametrize("name, values", [("model", None), ("nsfw", ["false", "true"]), ("split", ["train", "test"])])
def test_categories_colour_by_their_index_in_the_values(colour_client, table, name, values):
    body = _points(colour_client, name)
    info = body["colour"]
    assert info["kind"] == "category"
    if values is not None:
        assert info["values"] == values
    else:
        assert sorted(info["values"]) == ["dalle", "flux", "sdxl"]
    rows = np.asarray(body["points"]["row"])
    items = pd.read_parquet(colour_client.application.config["DATA_DIR"] + f"/{DATASET}/items.parquet")
    want = {"model": table["model"], "nsfw": table["nsfw"].map({False: "false", True: "true"}),
            "split": items["split"]}[name].to_numpy()[rows]
    got = [info["values"][int(c)] for c in body["points"]["colour"]]
    assert got == want.tolist()


def test_a_time_column_colours_by_milliseconds_since_1970(colour_client, table):
    body = _points(colour_client, "made")
    rows = np.asarray(body["points"]["row"])
    ms = ((table["made"] - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy()
    np.testing.assert_array_equal(np.asarray(body["points"]["colour"], dtype=np.int64), ms[rows])
    assert body["colour"] == {"name": "made", "kind": "time", "domain": [float(ms.min()), float(ms.max())]}


def test_arrow_and_rows_carry_the_same_colour(colour_client, table):
    js = _points(colour_client, "guidance", limit=50)
    ar = colour_client.get(f"{BASE}/points", query_string={"sampling": "all", "colour": "guidance", "limit": 50},
                           headers={"Accept": ARROW_STREAM})
    fields, cols = read_stream(ar.data)
    assert fields["colour"] == js["colour"] and str(cols["colour"].dtype) == "float64"
    np.testing.assert_array_equal(cols["colour"], np.asarray(js["points"]["colour"]))
    rows = [7, 3, 3, 200]
    got = colour_client.post(f"{BASE}/points/rows?colour=guidance", json={"rows": rows}).get_json()
    assert got["colour"]["name"] == "guidance"
    np.testing.assert_allclose(got["points"]["colour"], table["guidance"].to_numpy()[rows])
    plain = colour_client.get(f"{BASE}/points", query_string={"sampling": "all", "limit": 3}).get_json()
    assert "colour" not in plain and "colour" not in plain["points"]


@pytest.mark.parametrize("name, message", [
    ("nope", "parameter 'colour': unknown column 'nope' (dataset 'tiny' has: clip_a, clip_b, diff_ab, split, guidance"),
    ("note", "parameter 'colour': column 'note' is free text, which has no colour scale"),
])
def test_bad_colour_columns_are_a_400_naming_them(colour_client, name, message):
    for res in (colour_client.get(f"{BASE}/points?colour={name}"),
                colour_client.post(f"{BASE}/points/rows?colour={name}", json={"rows": [1]})):
        assert res.status_code == 400
        assert message in res.get_json()["error"]["message"]
