"""POST /histograms (dkmap.server.histograms): counts equal numpy.histogram / value_counts of the
pandas-filtered scope, each column without its own filters; bins fixed per dataset; 400s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.api_server import error_of
from helpers.tiny import DATASET
from helpers.typed import reference

BASE = f"/api/maps/{DATASET}/clip_a"
FILTERS = [{"column": "guidance", "range": [2, 9]}, {"column": "nsfw", "in": [False, None]},
           {"column": "model", "in": ["model-00", "model-01", "model-02"], "other": True}]


@pytest.fixture(scope="module")
def ref(typed_data_dir) -> pd.DataFrame:
    return reference(typed_data_dir)


def _masks(ref):
    return {"guidance": ref["guidance"].between(2, 9).to_numpy(),
            "nsfw": ref["nsfw"].map(lambda v: v is not True).to_numpy(bool)}


def _hist(client, body):
    res = client.post(f"{BASE}/histograms", json=body)
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def _points_rows(client, **query):
    return np.asarray(client.get(f"{BASE}/points", query_string={"sampling": "all", **query}).get_json()["points"]["row"])


def test_default_columns_are_the_metric_first_then_metrics_split_and_metadata(typed_client):
    body = _hist(typed_client, {})
    assert [c["name"] for c in body["columns"]] == ["clip_a", "clip_b", "diff_ab", "split", "guidance", "steps",
                                                     "model", "nsfw", "made"]
    assert body["n_scope"] == body["n"] == 240 and body["bins"] == 24


@pytest.mark.parametrize("scope", ["whole", "bbox", "polygon", "ids"])
def test_counts_equal_numpy_over_the_filtered_scope(typed_client, ref, scope):
    body = {"filters": FILTERS, "bins": 10}
    if scope == "whole":
        rows = np.arange(len(ref))
    elif scope == "bbox":
        body["bbox"] = [0.1, 0.2, 0.8, 0.9]
        rows = _points_rows(typed_client, bbox="0.1,0.2,0.8,0.9")
    elif scope == "polygon":
        body["polygon"] = [[0.1, 0.1], [0.9, 0.2], [0.5, 0.9]]
        rows = np.asarray(typed_client.post(f"{BASE}/selection/ids", json={"polygon": body["polygon"]}).get_json()["rows"])
    else:
        rows = np.arange(0, 240, 2)
        body["ids"] = ref["id"].to_numpy()[rows].tolist()
    answer = _hist(typed_client, body)
    top = answer["columns"][6]["values"]
    assert answer["columns"][6]["name"] == "model" and len(top) == 12
    masks = _masks(ref)
    masks["model"] = (ref["model"].isin(["model-00", "model-01", "model-02"]) | (ref["model"].notna() & ~ref["model"].isin(top))).to_numpy()
    in_scope = np.zeros(len(ref), bool)
    in_scope[rows] = True
    every = in_scope & masks["guidance"] & masks["nsfw"] & masks["model"]
    assert answer["n_scope"] == len(rows) and answer["n"] == int(every.sum())
    assert {"number", "time", "category", "boolean"} <= {col["kind"] for col in answer["columns"]}
    for col in answer["columns"]:
        name = col["name"]
        keep = in_scope.copy()
        for other, m in masks.items():
            if other != name:
                keep &= m
        assert col["own_filters_ignored"] == (name in masks)
        series = ref["made_ms"] if name == "made" else ref[name]
        if col["kind"] in ("number", "time"):
            values = series.to_numpy(float)
            edges = np.asarray(col["edges"])
            finite = np.isfinite(values)
            np.testing.assert_allclose(edges, np.linspace(values[finite].min(), values[finite].max(), 11))
            assert col["counts"] == np.histogram(values[keep & finite], bins=edges)[0].tolist()
            assert col["dataset"] == np.histogram(values[finite], bins=edges)[0].tolist()
            assert col["missing"] == int((keep & ~finite).sum())
        else:
            values = series.map(lambda v: None if v is None or v is pd.NA else str(v).lower()
                                if isinstance(v, bool) else v).astype(object)
            listed = col["values"]
            chosen = values[keep]
            expected = [int((chosen == v).sum()) for v in listed]
            expected.append(int((chosen.notna() & ~chosen.isin(listed)).sum()))
            assert col["counts"] == expected
            assert col["missing"] == int(chosen.isna().sum())
            assert sum(col["dataset"]) + col["missing_dataset"] == len(ref)


def test_bins_stay_put_as_the_view_changes(typed_client):
    a = _hist(typed_client, {"bbox": [0, 0, 0.5, 0.5], "columns": ["guidance", "made"]})
    b = _hist(typed_client, {"bbox": [0.4, 0.3, 1, 1], "columns": ["guidance", "made"]})
    assert [c["edges"] for c in a["columns"]] == [c["edges"] for c in b["columns"]]
    assert [c["dataset"] for c in a["columns"]] == [c["dataset"] for c in b["columns"]]


def test_boolean_and_split_list_their_values(typed_client, ref):
    cols = {c["name"]: c for c in _hist(typed_client, {"columns": ["nsfw", "split"]})["columns"]}
    assert cols["nsfw"]["kind"] == "boolean" and cols["nsfw"]["values"] == ["false", "true"]
    assert cols["nsfw"]["counts"] == [int((ref["nsfw"] == False).sum()), int((ref["nsfw"] == True).sum()), 0]  # noqa: E712
    assert cols["split"]["values"] == ["train", "test"]
    assert cols["split"]["counts"][:2] == [int((ref["split"] == "train").sum()), int((ref["split"] == "test").sum())]


@pytest.mark.parametrize("body, needle", [
    ({"bins": 0}, "field 'bins' must be in 1..100"),
    ({"bins": 101}, "field 'bins' must be in 1..100"),
    ({"columns": ["note"]}, "column 'note' is free text"),
    ({"columns": ["nope"]}, "unknown column 'nope'"),
    ({"columns": []}, "field 'columns' must be a list of 1 to 64"),
    ({"bbox": [0, 0, 1]}, "field 'bbox' must be [x0, y0, x1, y1]"),
    ({"bbox": [1, 0, 0, 1]}, "field 'bbox' needs x0 <= x1"),
    ({"bbox": [0, 0, 1, 1], "ids": ["item-0000"]}, "at most one of 'bbox'"),
    ({"filters": [{"column": "guidance", "range": [3, 1]}]}, "column 'guidance': 'range' needs lo <= hi"),
])
def test_bad_histogram_bodies_are_400s(typed_client, body, needle):
    res = typed_client.post(f"{BASE}/histograms", json=body)
    assert res.status_code == 400 and needle in error_of(res)["message"], res.get_data(as_text=True)
