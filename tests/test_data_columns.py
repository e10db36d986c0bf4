"""Metadata columns: every kind survives ingest (csv, parquet, jsonl), is typed in dataset.yaml and
listed by GET /api/datasets; --drop-columns leaves columns out; per-generator values split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from dkmap.data.columns import Columns, infer_kind, item_metadata, write_columns
from dkmap.data.ingest import IngestOptions, ingest
from dkmap.data.store import open_dataset
from helpers.rawdata import make_raw

META = {
    "guidance": [7.5, 3.0, None, 12.25, 5.0, 7.5],
    "seed": [11, 22, 33, 44, 55, 2**40],
    "nsfw": [True, False, None, True, False, False],
    "created": ["2024-01-02T03:04:05Z", "2024-02-01T00:00:00Z", None, "2023-12-31T23:59:59Z",
                "2024-06-30T12:00:00Z", "2024-01-02T03:04:05Z"],
    "sampler": ["ddim", "euler", "ddim", None, "euler", "ddim"],
    "note": ["first try", "blurry face", None, "looks fine", "retry with more steps", "ok"],
}
KINDS = {"guidance": "number", "seed": "number", "nsfw": "boolean", "created": "time",
         "sampler": "category", "note": "text"}


def _with_meta(raw: dict, fmt: str) -> None:
    frame = raw["frame"].assign(**META)
    path = raw["table"]
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)


def _ingest(tmp_path, fmt: str, **kw):
    raw = make_raw(tmp_path, fmt=fmt)
    _with_meta(raw, fmt)
    return ingest(IngestOptions(table=raw["table"], images=raw["images"], out=tmp_path / "ds",
                                text_emb=raw["text_path"], image_emb=raw["image_path"], progress=False, **kw))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_every_kind_round_trips_through_ingest(tmp_path, fmt):
    _ingest(tmp_path, fmt)
    ds = open_dataset(tmp_path / "ds", verify_checksums=True)
    meta = yaml.safe_load((tmp_path / "ds" / "dataset.yaml").read_text())
    assert {k: v["kind"] for k, v in meta["columns"].items()} == KINDS
    rows = np.arange(6)
    cols = ds.columns
    got = cols["guidance"].decoded(rows)
    assert got.iloc[[0, 1, 3, 4, 5]].tolist() == [7.5, 3.0, 12.25, 5.0, 7.5] and np.isnan(got.iloc[2])
    assert cols["seed"].decoded(rows).tolist() == META["seed"]
    assert cols["seed"].info["dtype"] == "int64"
    nsfw = cols["nsfw"].decoded(rows)
    assert nsfw.iloc[[0, 1, 3, 4, 5]].tolist() == [True, False, True, False, False] and pd.isna(nsfw.iloc[2])
    created = cols["created"].decoded(rows)
    expected = pd.to_datetime(pd.Series(META["created"]), utc=True)
    assert created.iloc[[0, 1, 3, 4, 5]].tolist() == expected.iloc[[0, 1, 3, 4, 5]].tolist()
    assert pd.isna(created.iloc[2])
    assert cols["sampler"].decoded(rows).tolist() == META["sampler"]
    assert cols["sampler"].values == ["ddim", "euler"]   # most frequent first
    assert cols["note"].decoded(rows).tolist() == META["note"]
    assert meta["columns"]["guidance"]["missing"] == 1 and meta["columns"]["sampler"]["n_values"] == 2


def test_drop_columns_leaves_them_out(tmp_path):
    ds = _ingest(tmp_path, "parquet", drop_columns=["note", "seed"])
    assert ds.columns.names == ["guidance", "nsfw", "created", "sampler"]


def test_api_lists_columns(tmp_path):
    from dkmap.server.app import create_app

    (tmp_path / "data").mkdir()
    raw = make_raw(tmp_path, fmt="parquet")
    _with_meta(raw, "parquet")
    ingest(IngestOptions(table=raw["table"], images=raw["images"], out=tmp_path / "data" / "mine",
                         text_emb=raw["text_path"], image_emb=raw["image_path"], progress=False))
    client = create_app({"DATA_DIR": str(tmp_path / "data")}).test_client()
    listed = client.get("/api/datasets").get_json()["datasets"][0]["columns"]
    assert [(c["name"], c["kind"]) for c in listed] == list(KINDS.items())
    assert next(c for c in listed if c["name"] == "sampler")["values"] == ["ddim", "euler"]


def test_per_generator_values_split_and_shared_ones_stay_one(tmp_path):
    table = pd.DataFrame({"id": ["x", "x", "y", "y"], "generator": ["a", "b", "a", "b"],
                          "seed": [1, 2, 3, 4], "date": ["2024-01-01"] * 4})
    out = item_metadata(table, ["seed", "date"], ["x", "y"], ["a", "b"])
    assert list(out.columns) == ["seed_a", "seed_b", "date"]
    assert out["seed_b"].tolist() == [2, 4]


def test_inference_rules():
    assert infer_kind(pd.Series([1, 2, 3])) == "number"
    assert infer_kind(pd.Series(["a", "b", "a", "b"])) == "category"
    assert infer_kind(pd.Series([f"unique {i}" for i in 10 * [0]])) == "category"
    assert infer_kind(pd.Series([f"unique {i}" for i in range(10)])) == "text"
    assert infer_kind(pd.Series(["2024-01-01", "2024-01-02"])) == "time"
    assert infer_kind(pd.Series([True, None, False], dtype=object)) == "boolean"


def test_write_refuses_a_non_number_in_a_declared_number_column(tmp_path):
    with pytest.raises(ValueError, match="column 'g': value 'high' at row 1 is not a number"):
        write_columns(tmp_path, pd.DataFrame({"g": [1.0, "high"]}), kinds={"g": "number"})
    assert Columns(tmp_path, None).names == []


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    guidance = np.round(rng.uniform(1, 12, n), 2)
    guidance[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "steps": rng.integers(10, 60, n),
        "guidance": guidance,
        "nsfw": pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5).tolist(), dtype="boolean"),
        "made": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "model": pd.Series(rng.choice(["a", "b", "c", "d", "e"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
                           dtype=object).where(rng.random(n) > 0.05, None),
        "note": [None if i % 7 == 0 else f"note {i}" for i in range(n)],
    })


def _stored(folder, meta) -> dict:
    cols = Columns(folder, meta)
    rows = np.arange(len(cols[next(iter(meta))].data))
    return {c.name: c.decoded(rows) for c in cols}


def test_chunked_writer_stores_what_one_whole_write_stores(tmp_path):
    """A sharded dataset's columns arrive shard by shard: the files (codes, category order, dtypes)
    and the decoded values equal those of writing the whole table at once."""
    from dkmap.data.columns import ColumnsWriter

    table = _table(1000, 4)
    (tmp_path / "whole").mkdir()
    (tmp_path / "chunks").mkdir()
    whole_meta, whole_sums = write_columns(tmp_path / "whole", table)
    writer = ColumnsWriter(tmp_path / "chunks")
    for start, stop in ((0, 300), (300, 301), (301, 650), (650, 1000)):   # kinds from the first; one of a row
        writer.append(table.iloc[start:stop])
    meta, sums = writer.finish()
    assert meta == whole_meta
    assert {k: m["kind"] for k, m in meta.items()} == {"steps": "number", "guidance": "number", "nsfw": "boolean",
                                                       "made": "time", "model": "category", "note": "text"}
    assert meta["steps"]["dtype"] == "int64" and meta["guidance"]["dtype"] == "float64"
    assert {k: v for k, v in sums.items() if not k.endswith(".arrow")} == \
           {k: v for k, v in whole_sums.items() if not k.endswith(".arrow")}
    whole, chunked = _stored(tmp_path / "whole", whole_meta), _stored(tmp_path / "chunks", meta)
    for name in table.columns:
        pd.testing.assert_series_equal(chunked[name], whole[name], check_names=False)
    assert Columns(tmp_path / "chunks", meta)["model"].values == ["a", "b", "c", "d", "e"]
    assert not list((tmp_path / "chunks" / "columns").glob(".*"))   # no raw rows left behind


def test_chunked_number_column_turns_float_when_a_later_chunk_has_gaps(tmp_path):
    from dkmap.data.columns import ColumnsWriter

    writer = ColumnsWriter(tmp_path)
    writer.append(pd.DataFrame({"n": [1, 2, 3]}))
    writer.append(pd.DataFrame({"n": [4.5, None]}))
    meta, _ = writer.finish()
    assert meta["n"] == {"kind": "number", "file": "c0", "missing": 1, "dtype": "float64"}
    np.testing.assert_array_equal(np.load(tmp_path / "columns" / "c0.npy"), [1, 2, 3, 4.5, np.nan])


def test_a_nullable_integer_column_with_gaps_is_stored_as_floats(tmp_path):
    """pandas' Int64 with a missing cell: float64 with NaN there, whole or chunk by chunk."""
    from dkmap.data.columns import ColumnsWriter

    column = pd.DataFrame({"n": pd.array([1, None, 3, 4], dtype="Int64")})
    meta, _ = write_columns(tmp_path, column)
    assert meta["n"] == {"kind": "number", "file": "c0", "missing": 1, "dtype": "float64"}
    np.testing.assert_array_equal(np.load(tmp_path / "columns" / "c0.npy"), [1, np.nan, 3, 4])
    writer = ColumnsWriter(tmp_path / "chunks")
    writer.append(column.iloc[:1])
    writer.append(column.iloc[1:])
    assert writer.finish()[0] == meta
    np.testing.assert_array_equal(np.load(tmp_path / "chunks" / "columns" / "c0.npy"), [1, np.nan, 3, 4])


def test_chunked_writer_names_what_is_wrong(tmp_path):
    from dkmap.data.columns import ColumnError, ColumnsWriter

    writer = ColumnsWriter(tmp_path)
    writer.append(pd.DataFrame({"n": [1, 2], "m": ["x", "x"]}))
    with pytest.raises(ColumnError, match=r"must be \['n', 'm'\] in every chunk, got \['m', 'n'\]"):
        writer.append(pd.DataFrame({"m": ["x"], "n": [3]}))
    writer = ColumnsWriter(tmp_path / "b")
    writer.append(pd.DataFrame({"n": [1, 2]}))
    with pytest.raises(ColumnError, match="column 'n': value 'x' at row 3 is not a number"):
        writer.append(pd.DataFrame({"n": [3, "x"]}))
    assert not list((tmp_path / "b" / "columns").glob(".*"))
    writer = ColumnsWriter(tmp_path / "c")
    writer.append(pd.DataFrame({"m": ["x", "y", "x", "y"]}))
    with pytest.raises(ColumnError, match="column 'm': over 1000 distinct values .* declare it as text"):
        writer.append(pd.DataFrame({"m": [f"v{i}" for i in range(1001)]}))
