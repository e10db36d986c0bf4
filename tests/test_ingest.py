"""dkmap ingest: round trips, the real CLIP encoder path, and every bad input leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dkmap.cli import main
from dkmap.data.ingest import IngestOptions, default_split, ingest
from dkmap.data.store import DatasetError, open_dataset
from helpers.rawdata import make_raw
from helpers.tinyclip import build_tiny_clip


def opts(raw: dict, out: Path, **kw) -> IngestOptions:
    base = dict(table=raw["table"], images=raw["images"], out=out, text_emb=raw["text_path"],
                image_emb=raw["image_path"], progress=False)
    base.update(kw)
    return IngestOptions(**base)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_round_trip_keeps_values(tmp_path, fmt):
    raw = make_raw(tmp_path, fmt=fmt)
    ds = ingest(opts(raw, tmp_path / "out" / "mine"))
    again = open_dataset(tmp_path / "out" / "mine", verify_checksums=True)
    assert again.n == 6 and again.generators == ["main"]
    assert list(again.ids) == [f"p{i}" for i in range(6)]
    assert again.prompts == list(raw["frame"]["prompt"])
    np.testing.assert_allclose(again.embedding("text"), unit(raw["text"]), atol=1e-6)
    np.testing.assert_allclose(again.embedding("image"), unit(raw["image"]), atol=1e-6)
    cos = np.sum(unit(raw["text"]) * unit(raw["image"]), axis=1)
    np.testing.assert_allclose(again.metric("clipscore"), 100 * cos, atol=1e-4)
    assert again.embedding("minilm").shape == (6, 384)
    assert list(again.items["split"]) == list(default_split(again.ids))
    assert again.image_path(2, "main").read_bytes() == (raw["images"] / raw["frame"]["image"][2]).read_bytes()
    assert ds.features("clipscore").shape == (6, 16)


def test_two_generators_pivot_to_one_row_per_prompt(tmp_path):
    raw = make_raw(tmp_path, generators=("a", "b"), with_metric=True)
    ds = ingest(opts(raw, tmp_path / "cmp", metrics=["clipscore", "hps"]))
    assert ds.generators == ["a", "b"] and ds.n == 6
    assert set(ds.metrics) == {"clipscore_a", "clipscore_b", "clipscore_diff", "hps_a", "hps_b", "hps_diff"}
    frame = raw["frame"]
    t, v = unit(raw["text"]), unit(raw["image"])
    for g in ("a", "b"):
        rows = np.flatnonzero(frame["generator"] == g)
        np.testing.assert_allclose(ds.embedding(f"image_{g}"), v[rows], atol=1e-6)
        np.testing.assert_allclose(ds.metric(f"hps_{g}"), frame["hps"].to_numpy()[rows])
        np.testing.assert_allclose(ds.metric(f"clipscore_{g}"), 100 * np.sum(t[rows] * v[rows], axis=1), atol=1e-4)
    np.testing.assert_allclose(ds.metric("clipscore_diff"), ds.metric("clipscore_b") - ds.metric("clipscore_a"))
    assert ds.metrics["clipscore_diff"]["kind"] == "difference"
    assert ds.features("clipscore_diff").shape == (6, 24)


def test_hessel_variant(tmp_path):
    raw = make_raw(tmp_path)
    ds = ingest(opts(raw, tmp_path / "h", metrics=["clipscore-hessel"]))
    cos = np.sum(unit(raw["text"]) * unit(raw["image"]), axis=1)
    np.testing.assert_allclose(ds.metric("clipscore_hessel"), 250 * np.maximum(cos, 0), atol=1e-4)


def test_real_clip_encoder_path(tmp_path):
    """The sentence-transformers CLIP path, for real, on a tiny random-weight model made here."""
    model_dir = build_tiny_clip(tmp_path / "tinyclip")
    raw = make_raw(tmp_path)
    ds = ingest(opts(raw, tmp_path / "enc", text_emb=None, image_emb=None, encoder=str(model_dir)))
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    expected_t = st.encode(ds.prompts, normalize_embeddings=True)
    with Image.open(ds.image_path(0, "main")) as im:
        expected_v0 = st.encode([im.convert("RGB")], normalize_embeddings=True)[0]
    np.testing.assert_allclose(ds.embedding("text"), expected_t, atol=1e-5)
    np.testing.assert_allclose(ds.embedding("image")[0], expected_v0, atol=1e-5)
    assert ds.embedding("text").shape == (6, 16)
    np.testing.assert_allclose(ds.metric("clipscore")[0], 100 * float(expected_t[0] @ expected_v0), atol=1e-3)


def _corrupt(kind: str, raw: dict, tmp: Path) -> tuple[dict, str]:
    frame = raw["frame"]
    if kind == "missing-column":
        frame.drop(columns=["prompt"]).to_csv(raw["table"], index=False)
        return {}, "missing columns ['prompt']"
    if kind == "column-clash":
        frame.assign(clipscore=1.0).to_csv(raw["table"], index=False)
        return {}, "metadata columns ['clipscore'] share names"
    if kind == "drop-unknown":
        return {"drop_columns": ["colour"]}, "--drop-columns: the table has no columns ['colour']"
    if kind == "duplicate-id":
        frame.assign(id=["p0", "p0", "p2", "p3", "p4", "p5"]).to_csv(raw["table"], index=False)
        return {}, "duplicated ids, e.g. 'p0'"
    if kind == "rows-mismatch":
        np.save(raw["text_path"], raw["text"][:5])
        return {}, "5 rows but the table has 6 rows"
    if kind == "nan":
        bad = raw["image"].copy()
        bad[3, 1] = np.nan
        np.save(raw["image_path"], bad)
        return {}, "NaN or inf, first at row 3"
    if kind == "inf":
        bad = raw["text"].copy()
        bad[4, 0] = np.inf
        np.save(raw["text_path"], bad)
        return {}, "NaN or inf, first at row 4"
    if kind == "zero-vector":
        bad = raw["text"].copy()
        bad[2] = 0
        np.save(raw["text_path"], bad)
        return {}, "zero vectors, first at row 2"
    if kind == "wrong-dtype":
        np.save(raw["text_path"], raw["text"].astype(np.float64))
        return {}, "dtype must be float16 or float32"
    if kind == "missing-image":
        Path(raw["images"] / frame["image"][1]).unlink()
        Path(raw["images"] / frame["image"][4]).unlink()
        return {}, "2 of 6 image files are missing"
    if kind == "unreadable-image":
        Path(raw["images"] / frame["image"][2]).write_bytes(b"not a png at all")
        return {}, "1 image files cannot be read"
    if kind == "path-escape":
        frame.assign(image=["../../etc/passwd"] + list(frame["image"][1:])).to_csv(raw["table"], index=False)
        return {}, "leaves the images folder"
    if kind == "bad-model":
        return {"text_emb": None, "image_emb": None, "encoder": str(tmp / "no-such-model")}, "no such model folder"
    if kind == "text-differs":
        frame2 = make_raw(tmp / "two", generators=("a", "b"))
        bad = frame2["text"].copy()
        bad[1] = -bad[1]
        np.save(frame2["text_path"], bad)
        raw.update({k: frame2[k] for k in ("table", "images", "text_path", "image_path")})
        return {}, "id 'p0' has different text embeddings"
    if kind == "no-embeddings":
        return {"text_emb": None, "image_emb": None}, "no embeddings"
    raise AssertionError(kind)


BAD_INPUTS = ["missing-column", "column-clash", "drop-unknown", "duplicate-id", "rows-mismatch", "nan", "inf", "zero-vector",
              "wrong-dtype", "text-differs", "missing-image", "unreadable-image", "path-escape", "bad-model", "no-embeddings"]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gives_clear_error_and_leaves_nothing(tmp_path, kind):
    raw = make_raw(tmp_path)
    overrides, message = _corrupt(kind, raw, tmp_path)
    out_parent = tmp_path / "datasets"
    out_parent.mkdir()
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        ingest(opts(raw, out_parent / "broken", **overrides))
    assert list(out_parent.iterdir()) == []


def test_bad_reingest_keeps_previous_dataset(tmp_path):
    raw = make_raw(tmp_path)
    out = tmp_path / "ds"
    ingest(opts(raw, out))
    before = (out / "items.parquet").read_bytes()
    raw["frame"].assign(clipscore=1.0).to_csv(raw["table"], index=False)   # clashes with the metric
    with pytest.raises(DatasetError):
        ingest(opts(raw, out))
    assert (out / "items.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_skip_missing_drops_those_items(tmp_path):
    raw = make_raw(tmp_path, generators=("a", "b"))
    (raw["images"] / "b" / "img_3.png").unlink()
    ds = ingest(opts(raw, tmp_path / "skip", skip_missing=True))
    assert list(ds.ids) == ["p0", "p1", "p2", "p4", "p5"]
    keep = raw["frame"]["id"] != "p3"
    b_rows = np.flatnonzero((raw["frame"]["generator"] == "b") & keep)
    np.testing.assert_allclose(ds.embedding("image_b"), unit(raw["image"])[b_rows], atol=1e-6)


def test_cli_exit_status_and_one_line_error(tmp_path, capsys):
    raw = make_raw(tmp_path)
    code = main(["-q", "ingest", "--table", str(raw["table"]), "--images", str(raw["images"]),
                 "--out", str(tmp_path / "cli"), "--text-emb", str(raw["text_path"]),
                 "--image-emb", str(raw["image_path"])])
    assert code == 0 and open_dataset(tmp_path / "cli").n == 6
    (raw["images"] / raw["frame"]["image"][0]).unlink()
    code = main(["-q", "ingest", "--table", str(raw["table"]), "--images", str(raw["images"]),
                 "--out", str(tmp_path / "cli2"), "--text-emb", str(raw["text_path"]),
                 "--image-emb", str(raw["image_path"])])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "1 of 6 image files are missing" in err
    assert not (tmp_path / "cli2").exists()
