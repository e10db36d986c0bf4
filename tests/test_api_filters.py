"""Filters (dkmap.server.filters) on selection and points: the items that pass equal a pandas query
of the same table, for every column kind and combinations; points carry `passes` (never hidden);
each malformed filter is a 400 naming the column and the problem."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dkmap.server.arrow import ARROW_STREAM, read_stream
from helpers.api_server import error_of
from helpers.tiny import DATASET
from helpers.typed import MODELS, reference

BASE = f"/api/maps/{DATASET}/clip_a"
T0 = pd.Timestamp("2024-01-10", tz="UTC").value // 1_000_000
T1 = pd.Timestamp("2024-02-01T12:00:00", tz="UTC").value // 1_000_000


@pytest.fixture(scope="module")
def ref(typed_data_dir, typed_client) -> pd.DataFrame:
    table = reference(typed_data_dir)
    columns = typed_client.get("/api/datasets").get_json()["datasets"][0]["columns"]
    table.attrs["model_values"] = next(c for c in columns if c["name"] == "model")["values"]
    return table


def _lower(series: pd.Series) -> pd.Series:
    return series.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).lower())


# (filters, the pandas mask of the reference table)
CASES = {
    "number range": ([{"column": "guidance", "range": [3, 7.5]}],
                     lambda r: r["guidance"].between(3, 7.5)),
    "metric range": ([{"column": "clip_a", "range": [-100, 90]}], lambda r: r["clip_a"] <= 90),
    "integer range": ([{"column": "steps", "range": [20, 20]}], lambda r: r["steps"] == 20),
    "time range in ms": ([{"column": "made", "range": [T0, T1]}], lambda r: r["made_ms"].between(T0, T1)),
    "time range as ISO": ([{"column": "made", "range": ["2024-01-10", "2024-02-01T12:00:00Z"]}],
                          lambda r: r["made_ms"].between(T0, T1)),
    "category in": ([{"column": "model", "in": ["model-00", "model-03"]}],
                    lambda r: r["model"].isin(["model-00", "model-03"])),
    "category in with missing": ([{"column": "model", "in": ["model-01", None]}],
                                 lambda r: r["model"].isin(["model-01"]) | r["model"].isna()),
    "category other": ([{"column": "model", "in": ["model-00"], "other": True}], None),  # checked apart
    "boolean": ([{"column": "nsfw", "in": [True]}], lambda r: r["nsfw"].map(lambda v: v is True)),
    "boolean missing": ([{"column": "nsfw", "in": [None, False]}], lambda r: r["nsfw"].map(lambda v: v is not True)),
    "split": ([{"column": "split", "in": ["test"]}], lambda r: r["split"] == "test"),
    "text contains": ([{"column": "note", "contains": "sunny"}], lambda r: _lower(r["note"]).str.contains("sunny", na=False, regex=False)),
    "category contains": ([{"column": "model", "contains": "-1"}], lambda r: _lower(r["model"]).str.contains("-1", na=False, regex=False)),
    "prompt contains": ([{"column": "prompt", "contains": "RED STAR"}], lambda r: r["prompt"].str.lower().str.contains("red star", regex=False)),
    "combined": ([{"column": "guidance", "range": [2, 10]}, {"column": "nsfw", "in": [False]},
                  {"column": "made", "range": ["2024-01-05", "2024-03-01"]}, {"column": "prompt", "contains": "blue"}],
                 lambda r: r["guidance"].between(2, 10) & r["nsfw"].map(lambda v: v is False)
                 & r["made_ms"].between(pd.Timestamp("2024-01-05", tz="UTC").value // 10**6,
                                        pd.Timestamp("2024-03-01", tz="UTC").value // 10**6)
                 & r["prompt"].str.contains("blue")),
}


def _mask(ref, name):
    filters, query = CASES[name]
    if query is None:   # "other": the values after the 12 most frequent, as the dataset lists them
        top = ref.attrs["model_values"][:12]
        return filters, ref["model"].isin(["model-00"]) | (ref["model"].notna() & ~ref["model"].isin(top))
    return filters, query(ref).fillna(False).astype(bool)


def _ids(client, body):
    res = client.post(f"{BASE}/selection/ids", json=body)
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


@pytest.mark.parametrize("name", list(CASES))
def test_the_whole_dataset_filtered_equals_the_pandas_query(typed_client, ref, name):
    filters, mask = _mask(ref, name)
    body = _ids(typed_client, {"filters": filters})
    expected = ref.index[mask.to_numpy()].to_numpy()
    assert 0 < len(expected) < len(ref)
    assert body["count"] == len(expected)
    assert body["rows"] == expected.tolist()
    assert body["ids"] == ref["id"].to_numpy()[expected].tolist()


def test_the_other_bucket_is_the_values_after_the_twelve_most_frequent(typed_client, ref):
    values = ref.attrs["model_values"]
    counts = ref["model"].value_counts()
    assert set(values) == set(MODELS)
    assert counts[values].is_monotonic_decreasing


@pytest.mark.parametrize("name", ["number range", "category in with missing", "combined", "text contains"])
def test_a_lasso_with_filters_is_the_lasso_intersected(typed_client, ref, name):
    filters, mask = _mask(ref, name)
    polygon = [[0.1, 0.1], [0.9, 0.15], [0.8, 0.9], [0.2, 0.8]]
    lasso = _ids(typed_client, {"polygon": polygon})["rows"]
    both = _ids(typed_client, {"polygon": polygon, "filters": filters})
    expected = sorted(set(lasso) & set(np.flatnonzero(mask.to_numpy()).tolist()))
    assert both["rows"] == expected and both["count"] == len(expected)
    sel = typed_client.post(f"{BASE}/selection", json={"polygon": polygon, "filters": filters}).get_json()
    assert sel["count"] == len(expected)
    assert sorted(sel["sample"]["row"]) == expected
    assert sel["keywords"]["n_selected"] == len(expected)
    assert sel["stats"]["mean"] == pytest.approx(ref["clip_a"].to_numpy()[expected].mean())


def test_ids_with_filters_keep_only_the_listed_items_that_pass(typed_client, ref):
    filters, mask = _mask(ref, "split")
    listed = ref["id"].tolist()[:40]
    body = _ids(typed_client, {"ids": listed, "filters": filters})
    assert body["rows"] == [r for r in range(40) if mask.iloc[r]]


def test_empty_filters_with_no_scope_select_everything(typed_client, ref):
    body = _ids(typed_client, {"filters": []})
    assert body["count"] == len(ref)


def _points(client, filters, accept=None, **query):
    headers = {"Accept": accept} if accept else {}
    res = client.get(f"{BASE}/points", headers=headers,
                     query_string={"sampling": "all", "filters": json.dumps(filters), **query})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res


@pytest.mark.parametrize("name", ["combined", "boolean missing", "time range as ISO"])
def test_points_say_which_pass_and_keep_the_rest(typed_client, ref, name):
    filters, mask = _mask(ref, name)
    body = _points(typed_client, filters).get_json()
    rows = np.asarray(body["points"]["row"])
    assert len(rows) == len(ref)   # nothing hidden
    np.testing.assert_array_equal(body["points"]["passes"], mask.to_numpy()[rows])
    assert body["passing"] == int(mask.sum())
    fields, cols = read_stream(_points(typed_client, filters, accept=ARROW_STREAM).data)
    np.testing.assert_array_equal(cols["row"], rows)
    np.testing.assert_array_equal(cols["passes"], mask.to_numpy()[rows])
    assert fields["passing"] == int(mask.sum())


def test_sampled_points_in_a_view_carry_passes(typed_client, ref):
    filters, mask = _mask(ref, "number range")
    body = _points(typed_client, filters, sampling="bluenoise", z=1, bbox="0.2,0.2,0.7,0.8").get_json()
    rows = np.asarray(body["points"]["row"])
    assert len(rows) > 0
    np.testing.assert_array_equal(body["points"]["passes"], mask.to_numpy()[rows])


def test_points_without_filters_have_no_passes(typed_client):
    body = typed_client.get(f"{BASE}/points", query_string={"sampling": "all"}).get_json()
    assert "passes" not in body["points"] and "passing" not in body


def test_points_of_rows_take_filters_in_the_body(typed_client, ref):
    filters, mask = _mask(ref, "category in")
    rows = list(range(0, 240, 3))
    res = typed_client.post(f"{BASE}/points/rows", json={"rows": rows, "filters": filters})
    assert res.status_code == 200
    np.testing.assert_array_equal(res.get_json()["points"]["passes"], mask.to_numpy()[rows])


BAD = [
    ("nope", [{"column": "nope", "range": [0, 1]}], "unknown column 'nope'"),
    ("not a list", {"column": "guidance", "range": [0, 1]}, "must be a list of filters"),
    ("not an object", ["guidance"], "filters[0] must be an object"),
    ("no column", [{"range": [0, 1]}], "'column' must be a column name"),
    ("two ops", [{"column": "guidance", "range": [0, 1], "contains": "a"}], "column 'guidance': needs exactly one of"),
    ("no op", [{"column": "guidance"}], "column 'guidance': needs exactly one of"),
    ("unknown key", [{"column": "guidance", "range": [0, 1], "max": 3}], "unexpected: max"),
    ("lo > hi", [{"column": "guidance", "range": [5, 1]}], "column 'guidance': 'range' needs lo <= hi"),
    ("range of strings", [{"column": "guidance", "range": ["a", "b"]}], "column 'guidance': 'range' must hold two numbers"),
    ("range of booleans", [{"column": "steps", "range": [True, 3]}], "column 'steps': 'range' must hold two numbers"),
    ("range of three", [{"column": "guidance", "range": [1, 2, 3]}], "column 'guidance': 'range' must be [lo, hi]"),
    ("NaN", [{"column": "guidance", "range": [float("nan"), 1]}], "column 'guidance': 'range' must hold finite"),
    ("range on category", [{"column": "model", "range": [0, 1]}], "column 'model': 'range' needs a number or time column"),
    ("range on boolean", [{"column": "nsfw", "range": [0, 1]}], "column 'nsfw': 'range' needs a number or time column"),
    ("bad time", [{"column": "made", "range": ["yesterday", "2024-01-01"]}], "column 'made': 'yesterday' is not an ISO-8601"),
    ("time lo > hi", [{"column": "made", "range": ["2024-02-01", "2024-01-01"]}], "column 'made': 'range' needs lo <= hi"),
    ("in on number", [{"column": "guidance", "in": [1]}], "column 'guidance': 'in' needs a category or boolean"),
    ("in empty", [{"column": "model", "in": []}], "column 'model': 'in' must be a list of 1 to 1000"),
    ("in too long", [{"column": "model", "in": ["a"] * 1001}], "column 'model': 'in' must be a list of 1 to 1000"),
    ("in wrong type", [{"column": "model", "in": [3]}], "column 'model': 'in' values of a category column are strings"),
    ("boolean in strings", [{"column": "nsfw", "in": ["true"]}], "column 'nsfw': 'in' values of a boolean column are true, false"),
    ("other not bool", [{"column": "model", "in": ["a"], "other": 1}], "column 'model': 'other' must be true or false"),
    ("other on range", [{"column": "guidance", "range": [0, 1], "other": True}], "unexpected: other"),
    ("contains on number", [{"column": "steps", "contains": "1"}], "column 'steps': 'contains' needs a text or category"),
    ("contains empty", [{"column": "note", "contains": ""}], "column 'note': 'contains' must be a string of 1 to 200"),
    ("contains long", [{"column": "note", "contains": "x" * 201}], "column 'note': 'contains' must be a string of 1 to 200"),
    ("prompt range", [{"column": "prompt", "range": [0, 1]}], "column 'prompt': 'range' needs a number or time"),
    ("too many", [{"column": "guidance", "range": [0, 1]}] * 33, "holds 33 filters, at most 32"),
]


@pytest.mark.parametrize("name, filters, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_filters_are_a_400_naming_the_problem(typed_client, name, filters, needle):
    for res in (typed_client.post(f"{BASE}/selection/ids", json={"filters": filters}),
                typed_client.post(f"{BASE}/selection", json={"polygon": [[0, 0], [1, 0], [1, 1]], "filters": filters}),
                typed_client.get(f"{BASE}/points", query_string={"filters": json.dumps(filters)}),
                typed_client.post(f"{BASE}/points/rows", json={"rows": [0], "filters": filters})):
        assert res.status_code == 400, (name, res.status_code)
        assert needle in error_of(res)["message"], error_of(res)["message"]


def test_a_filters_parameter_that_is_not_json_is_a_400(typed_client):
    res = typed_client.get(f"{BASE}/points", query_string={"filters": "[{"})
    assert res.status_code == 400 and "parameter 'filters' must be a JSON list" in error_of(res)["message"]


def test_changing_one_filter_of_several_computes_that_one_only(typed_client, ref, monkeypatch):
    """Each filter's whole-dataset mask is cached on its own: a list that moves one brush (a new range)
    computes the new filter alone, and the answer still equals the pandas query."""
    from dkmap.server import filters as filters_module

    computed = []
    real = filters_module.filter_mask
    monkeypatch.setattr(filters_module, "filter_mask",
                        lambda source, f, rows: computed.append((f.column, rows is None)) or real(source, f, rows))
    note = {"column": "note", "contains": "sunny day"}
    first = [{"column": "guidance", "range": [2.0, 9.5]}, note, {"column": "steps", "range": [12, 50]}]
    _ids(typed_client, {"filters": first})
    moved = [{"column": "guidance", "range": [3.0, 8.25]}, note, {"column": "steps", "range": [12, 50]}]
    computed.clear()
    body = _ids(typed_client, {"filters": moved})
    assert computed == [("guidance", True)]
    mask = (ref["guidance"].between(3.0, 8.25) & ref["note"].str.lower().str.contains("sunny day").fillna(False)
            & ref["steps"].between(12, 50))
    assert 0 < body["count"] == int(mask.sum())
    assert body["rows"] == ref.index[mask.to_numpy()].tolist()
