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
