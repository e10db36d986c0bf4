"""`run_evaluate` (what `dkmap evaluate` calls): the npz path, the table, and the JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dkmap.evaluation.command import run_evaluate
from dkmap.evaluation.report import COLUMNS, format_table
from dkmap.evaluation.synthetic import smooth_landscape
from helpers.torch_threads import one_thread  # noqa: F401  (autouse fixture)

KEYS = {"method", "mae", "rmse", "mape", "mae_in", "trust", "seconds"}


@pytest.fixture(scope="module")
def npz_file(tmp_path_factory):
    x, m = smooth_landscape(500, d=4, seed=7)
    path = tmp_path_factory.mktemp("eval") / "split.npz"
    np.savez(path, x_train=x[:400], m_train=m[:400], x_test=x[400:], m_test=m[400:])
    return path


def parse_table(text: str) -> list[dict]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header, body = lines[0], lines[2:]
    assert header.split()[0] == "method"
    rows = []
    for line in body:
        cells = line.split()
        assert len(cells) == len(COLUMNS)
        rows.append({key: cell for (key, _), cell in zip(COLUMNS, cells)})
    return rows


def test_json_matches_printed_table(npz_file, tmp_path, capsys):
    out = tmp_path / "result.json"
    methods = ["dkmap", "dkmap-no-kr", "dkmap-no-gk", "pca-kde", "pca-idw"]
    rows = run_evaluate(npz=npz_file, methods=methods, settings={"epochs": 4}, json_out=out,
                        progress=False)
    printed = parse_table(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert saved == rows
    assert [r["method"] for r in saved] == methods == [r["method"] for r in printed]
    for row, shown in zip(saved, printed):
        assert set(row) == KEYS
        for key in KEYS - {"method"}:
            assert float(shown[key]) == row[key]
    by_name = {r["method"]: r for r in saved}
    assert by_name["pca-idw"]["mae_in"] == 0.0          # IDW is exact on its own centres
    assert 0.0 < by_name["pca-kde"]["trust"] <= 1.0
    assert all(r["rmse"] >= r["mae"] > 0 for r in saved)


def test_table_shows_missing_values_as_nan():
    row = {"method": "pca-kde", "mae": 1.5, "rmse": 2.0, "mape": None, "mae_in": 1.0,
           "trust": 0.9, "seconds": 0.1}
    assert "nan" in format_table([row]).splitlines()[2].split()


@pytest.mark.parametrize("kwargs, match", [
    ({}, "either dataset_dir"),
    ({"dataset_dir": "x", "npz": "y"}, "either dataset_dir"),
    ({"dataset_dir": "x"}, "metric is required"),
    ({"npz": "NPZ", "methods": ["dkmap", "lda-kde"]}, "unknown methods"),
    ({"npz": "NPZ", "settings": {"epochs": 0}}, "epochs"),
    ({"npz": "NPZ", "settings": {"hidden": 1}}, "hidden must be None or an integer >= 2"),
    ({"npz": "NPZ", "settings": {"lam": -0.5}}, "lam must be a finite number >= 0"),
    ({"npz": "NPZ", "settings": {"lam": float("nan")}}, "lam must be a finite number >= 0"),
    ({"npz": "/nonexistent.npz"}, "does not exist"),
])
def test_bad_arguments_are_rejected(kwargs, match, npz_file):
    if kwargs.get("npz") == "NPZ":
        kwargs["npz"] = npz_file
    with pytest.raises(ValueError, match=match):
        run_evaluate(progress=False, **kwargs)


def test_npz_missing_arrays_are_named(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((4, 2)), m_train=np.zeros(4))
    with pytest.raises(ValueError, match="x_test"):
        run_evaluate(npz=path, methods=["pca-kde"], progress=False)


def test_hidden_width_reaches_the_dkmap_variants_only(npz_file, monkeypatch):
    from dkmap.projection import DKMap

    widths = []
    real_fit = DKMap.fit
    monkeypatch.setattr(DKMap, "fit", lambda self, x, m, **kw: widths.append(self.hidden_for(x.shape[1]))
                        or real_fit(self, x, m, **kw))
    narrow = run_evaluate(npz=npz_file, methods=["dkmap", "pca-kde"],
                          settings={"epochs": 2, "hidden": 3}, progress=False)
    wide = run_evaluate(npz=npz_file, methods=["dkmap", "pca-kde"],
                        settings={"epochs": 2, "hidden": 64}, progress=False)
    assert widths == [3, 64]
    assert narrow[0]["mae"] != wide[0]["mae"]
    assert narrow[1] == {**wide[1], "seconds": narrow[1]["seconds"]}   # the baseline does not change


def test_lam_reaches_dkmap_and_no_gk_while_no_kr_keeps_zero(npz_file, monkeypatch):
    from dkmap.projection import DKMap

    lams = []
    real_fit = DKMap.fit
    monkeypatch.setattr(DKMap, "fit", lambda self, x, m, **kw: lams.append(self.lam) or real_fit(self, x, m, **kw))
    methods = ["dkmap", "dkmap-no-gk", "dkmap-no-kr"]
    weighted = run_evaluate(npz=npz_file, methods=methods, settings={"epochs": 2, "lam": 3.0},
                            progress=False)
    default = run_evaluate(npz=npz_file, methods=methods, settings={"epochs": 2}, progress=False)
    assert lams[:3] == [3.0, 3.0, 0.0]
    assert lams[3:] == [DKMap().lam, DKMap().lam, 0.0]
    assert weighted[0]["mae"] != default[0]["mae"]
    assert weighted[2]["mae"] == default[2]["mae"]   # w/o KR is the same fit either way
