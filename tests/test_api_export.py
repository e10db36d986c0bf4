"""POST /export (dkmap.server.export): the file holds exactly the selection's items (ids, values,
positions as /points/rows gives them) in CSV and Parquet, typed in Parquet, with the keyword-bar
filter and the keyword_bars column as the selection's keywords give them; streamed in chunks;
every bad request is a 400 before any byte."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dkmap.server import export
from dkmap.server.arrow import ARROW_STREAM, read_stream
from helpers.api_server import error_of
from helpers.tiny import DATASET
from helpers.typed import reference

BASE = f"/api/maps/{DATASET}/clip_a"
POLYGON = [[0.05, 0.05], [0.95, 0.1], [0.9, 0.95], [0.1, 0.9]]
FILTERS = [{"column": "guidance", "range": [2, 10]}, {"column": "model", "in": ["model-05"], "other": True}]
COLUMNS = ["id", "prompt", "clip_a", "clip_b", "diff_ab", "guidance", "steps", "model", "nsfw", "made", "note",
           "split", "x", "y", "keyword_bars"]


@pytest.fixture(scope="module")
def ref(typed_data_dir) -> pd.DataFrame:
    return reference(typed_data_dir)


def _export(client, body, fmt):
    res = client.post(f"{BASE}/export", query_string={"format": fmt}, json=body)
    assert res.status_code == 200, res.get_data(as_text=True)
    return res


def _read(res, fmt) -> pd.DataFrame:
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(res.data)).to_pandas()
    return pd.read_csv(io.BytesIO(res.data), keep_default_na=False, na_values=[""], dtype={"keyword_bars": str})


def _selection(client, body):
    return client.post(f"{BASE}/selection", json=body).get_json()


def _positions(client, rows):
    res = client.post(f"{BASE}/points/rows", json={"rows": rows}, headers={"Accept": ARROW_STREAM})
    return read_stream(res.data)[1]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_file_is_the_selection_with_every_column(typed_client, ref, fmt):
    body = {"polygon": POLYGON, "filters": FILTERS}
    res = _export(typed_client, body, fmt)
    assert res.headers["Content-Disposition"] == f'attachment; filename="tiny-clip_a-selection.{fmt}"'
    table = _read(res, fmt)
    rows = typed_client.post(f"{BASE}/selection/ids", json=body).get_json()["rows"]
    assert list(table.columns) == COLUMNS
    assert len(rows) > 20 and table["id"].tolist() == ref["id"].to_numpy()[rows].tolist()
    expect = ref.iloc[rows].reset_index(drop=True)
    for name in ("prompt", "split", "model", "note"):
        assert table[name].where(table[name].notna(), None).tolist() == expect[name].where(expect[name].notna(), None).tolist(), name
    for name in ("clip_a", "clip_b", "diff_ab", "guidance", "steps"):
        np.testing.assert_allclose(table[name].to_numpy(float), expect[name].to_numpy(float), rtol=1e-12)
    nsfw = table["nsfw"].map(lambda v: None if pd.isna(v) else bool(v if not isinstance(v, str) else v == "true"))
    assert nsfw.tolist() == expect["nsfw"].tolist()
    made = pd.to_datetime(table["made"], utc=True)
    ms = made.map(lambda t: np.nan if pd.isna(t) else float(t.value // 1_000_000))
    np.testing.assert_array_equal(ms.to_numpy(float), expect["made_ms"].to_numpy(float))
    points = _positions(typed_client, rows)
    np.testing.assert_array_equal(table["x"].to_numpy(np.float32), points["x"])
    np.testing.assert_array_equal(table["y"].to_numpy(np.float32), points["y"])


def test_parquet_columns_have_their_own_types(typed_client):
    schema = pq.read_table(io.BytesIO(_export(typed_client, {}, "parquet").data)).schema
    assert schema.field("made").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("nsfw").type == pa.bool_()
    assert schema.field("model").type == pa.string() and schema.field("split").type == pa.string()
    assert schema.field("steps").type == pa.int64() and schema.field("guidance").type == pa.float64()
    assert schema.field("x").type == pa.float32()


def _expected_bars(selection, rows, prompts):
    """keyword_bars as the selection's keywords and bin_of give them (all items are in the sample)."""
    sample = selection["sample"]["row"]
    where = {r: i for i, r in enumerate(sample)}
    out = []
    for r in rows:
        parts = [f"{k['keyword']}:{k['bin_of'][where[r]]}" for k in selection["keywords"]["keywords"]
                 if k["keyword"].lower() in prompts[r].lower()]
        out.append("; ".join(parts))
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_keyword_bars_and_the_bar_filter_follow_the_selection(typed_client, ref, fmt):
    body = {"polygon": POLYGON, "filters": FILTERS}
    selection = _selection(typed_client, body)
    keywords = selection["keywords"]["keywords"]
    assert len(keywords) >= 2 and not selection["sample"]["sampled"]
    sample = selection["sample"]["row"]
    table = _read(_export(typed_client, body, fmt), fmt)
    prompts = ref["prompt"].tolist()
    assert table["keyword_bars"].fillna("").tolist() == _expected_bars(selection, sorted(sample), prompts)
    # Two bars of the first keyword (union) and one of the second (intersection), as filter.js does.
    k0, k1 = keywords[0], keywords[1]
    b0 = sorted(set(k0["bin_of"]), key=lambda b: -k0["bin_of"].count(b))[:2]
    among = [k1["bin_of"][i] for i in range(len(sample)) if k0["bin_of"][i] in b0]
    b1 = max(set(among), key=among.count)
    bars = [{"keyword": k0["keyword"], "bin": b} for b in b0] + [{"keyword": k1["keyword"], "bin": b1}]
    kept = sorted(r for i, r in enumerate(sample) if k0["bin_of"][i] in b0 and k1["bin_of"][i] == b1)
    assert 0 < len(kept) < len(sample)
    table = _read(_export(typed_client, {**body, "bars": bars}, fmt), fmt)
    assert table["id"].tolist() == ref["id"].to_numpy()[kept].tolist()


def test_the_export_streams_in_chunks(typed_client, monkeypatch):
    whole = _export(typed_client, {}, "csv").data
    monkeypatch.setattr(export, "CHUNK_ROWS", 50)
    for fmt in ("csv", "parquet"):
        res = typed_client.post(f"{BASE}/export", query_string={"format": fmt}, json={})
        pieces = [p for p in res.response if p]
        assert len(pieces) >= 5   # 240 rows in chunks of 50 (and the header or footer)
        if fmt == "csv":
            assert b"".join(pieces) == whole
        else:
            table = pq.read_table(io.BytesIO(b"".join(pieces)))
            assert table.num_rows == 240 and pq.ParquetFile(io.BytesIO(b"".join(pieces))).num_row_groups == 5


def test_an_empty_selection_is_a_header_only(typed_client):
    body = {"filters": [{"column": "guidance", "range": [100, 200]}]}
    assert _read(_export(typed_client, body, "csv"), "csv").columns.tolist() == COLUMNS
    assert pq.read_table(io.BytesIO(_export(typed_client, body, "parquet").data)).num_rows == 0


@pytest.mark.parametrize("query, body, needle", [
    ({"format": "xlsx"}, {}, "parameter 'format' must be one of csv, parquet"),
    ({"format": "csv"}, {"filters": [{"column": "nope", "in": ["a"]}]}, "unknown column 'nope'"),
    ({"format": "csv"}, {"polygon": POLYGON, "ids": ["item-0000"]}, "at most one of 'polygon'"),
    ({"format": "csv"}, {"bars": "x"}, "field 'bars' must be a list"),
    ({"format": "csv"}, {"bars": [{"keyword": "zzz", "bin": 0}]}, "no bar 0 for keyword 'zzz'"),
    ({"format": "csv"}, {"bars": [{"keyword": "red", "bin": True}]}, "field 'bars'[0] must be"),
    ({"format": "parquet"}, {"rank": "best"}, "'rank' must be one of"),
])
def test_bad_exports_are_a_400_before_any_byte(typed_client, query, body, needle):
    res = typed_client.post(f"{BASE}/export", query_string=query, json=body)
    assert res.status_code == 400 and res.mimetype == "application/json"
    assert needle in error_of(res)["message"], error_of(res)["message"]
