"""dkmap.ingest / dkmap.build / open_*: the notebook example in docs/ runs, and arguments are checked."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dkmap
from dkmap.data.store import DatasetError

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "notebook_quickstart.py"


def test_notebook_example_runs_and_its_results_agree():
    ns = runpy.run_path(str(EXAMPLE))
    ds, m, same, frame = ns["ds"], ns["m"], ns["same"], ns["frame"]
    assert ds.n == 150 and set(ds.metrics) == {"clipscore", "aesthetic"}
    assert (ds.metrics["aesthetic"]["unit"], ds.metrics["aesthetic"]["better"]) == ("score", "higher")
    text = np.stack(frame["text_vec"])
    np.testing.assert_allclose(ds.embedding("text"), text / np.linalg.norm(text, axis=1, keepdims=True), atol=1e-6)
    assert ds.image_path(3, "main").read_bytes() == frame["image"][3]
    np.testing.assert_array_equal(m.positions, same.positions)
    np.testing.assert_allclose(ns["xy"], m.positions[:5], atol=1e-4)
    assert ns["estimate"].shape == (5,) and np.isfinite(ns["estimate"]).all()


def test_arguments_are_named_in_errors(tmp_path):
    frame = pd.DataFrame({"id": ["a"], "prompt": ["p"], "image": [b"x"], "vec": [np.ones(3)]})
    with pytest.raises(TypeError, match=r"ingest\(table=...\)"):
        dkmap.ingest(42, tmp_path / "x")
    with pytest.raises(TypeError, match=r"ingest\(image_emb=...\)"):
        dkmap.ingest(frame, tmp_path / "x", text_emb="vec", image_emb=3.5)
    with pytest.raises(TypeError, match=r"ingest\(metrics=...\)"):
        dkmap.ingest(frame, tmp_path / "x", text_emb="vec", image_emb="vec", metrics="clipscore")
    with pytest.raises(ValueError, match=r"ingest\(metrics=...\): a metric dict"):
        dkmap.ingest(frame, tmp_path / "x", text_emb="vec", image_emb="vec", metrics=[{"unit": "u"}])
    ragged = frame.assign(vec=[np.ones(3)]).iloc[[0, 0]].reset_index(drop=True)
    ragged.at[1, "vec"] = np.ones(4)
    with pytest.raises(ValueError, match=r"ingest\(text_emb='vec'\): column 'vec' must hold one equal-length"):
        dkmap.ingest(ragged, tmp_path / "x", text_emb="vec", image_emb="vec")
    with pytest.raises(DatasetError, match="text embeddings: 2 rows but the table has 1 rows"):
        dkmap.ingest(frame.drop(columns=["vec"]), tmp_path / "x", text_emb=np.ones((2, 3), np.float32),
                     image_emb=np.ones((1, 3), np.float32))
    with pytest.raises(TypeError, match=r"build\(metric=...\)"):
        dkmap.build(tmp_path, 3)
    with pytest.raises(TypeError, match=r"build\(dataset=...\)"):
        dkmap.build(3, "m")
    assert not (tmp_path / "x").exists()
