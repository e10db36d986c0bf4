"""The small demo build: a valid dataset whose scores find the failed renders; reused when unchanged."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dkmap.data.demo.build import STAMP, TRUTH, _reusable, _settings, build_demo
from dkmap.data.demo.corpus import make_corpus
from dkmap.data.demo.report import demo_report, format_report, recall_at_1
from dkmap.data.store import open_dataset

# Lower bars than the full build's (0.5 and 0.85): the small encoder sees ~1k pairs for a few epochs.
SMALL_RECALL = 0.4
SMALL_AUC = 0.58


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("data"), size="small", progress=False)


def test_small_build_is_a_valid_dataset(small):
    assert small.name == "demo-small"
    ds = open_dataset(small, verify_checksums=True)
    assert ds.n == 1500 and ds.generators == ["a", "b"]
    assert set(ds.spaces) == {"text", "image_a", "image_b", "minilm"}
    assert ds.embedding("minilm").shape[1] == 384
    assert ds.metrics["clipscore_diff"]["kind"] == "difference"
    assert ds.metrics["clipscore_diff"]["generators"] == ["a", "b"]
    assert ds.metrics["clipscore_a"]["generators"] == ["a"] and ds.metrics["clipscore_a"]["kind"] == "score"
    assert 0.1 < (~ds.is_train).mean() < 0.3
    assert len(set(ds.prompts)) == ds.n
    assert ds.features("clipscore_diff").shape == (ds.n, 3 * ds.embedding("text").shape[1])


def test_scores_are_cosines_of_the_stored_embeddings(small):
    ds = open_dataset(small)
    text = np.asarray(ds.embedding("text"), dtype=np.float64)
    for g in ds.generators:
        cos = (text * np.asarray(ds.embedding(f"image_{g}"), dtype=np.float64)).sum(axis=1)
        np.testing.assert_allclose(ds.metric(f"clipscore_{g}"), 100 * cos, atol=1e-3)
    np.testing.assert_allclose(ds.metric("clipscore_diff"), ds.metric("clipscore_b") - ds.metric("clipscore_a"))


def test_images_are_small_pngs_of_each_generator(small):
    ds = open_dataset(small)
    for row in (0, 700, ds.n - 1):
        paths = [ds.image_path(row, g) for g in ds.generators]
        for p in paths:
            with Image.open(p) as img:
                assert img.format == "PNG" and img.size == (128, 128)
        assert paths[0].read_bytes() != paths[1].read_bytes()
    total = sum(p.stat().st_size for p in (small / "images").rglob("*.png"))
    assert total / (2 * ds.n) < 8_000


def test_ground_truth_is_kept_apart_and_consistent(small):
    ds = open_dataset(small)
    assert TRUTH not in ds.items.columns
    truth = pd.read_parquet(small / TRUTH)
    assert len(truth) == 2 * ds.n and set(truth["id"]) == set(ds.ids)
    fields = [c[len("prompt."):] for c in truth.columns if c.startswith("prompt.")]
    differs = np.zeros(len(truth), dtype=bool)
    for f in fields:
        differs |= (truth[f"prompt.{f}"] != truth[f"drawn.{f}"]).to_numpy()
    assert (differs == truth["failed"].to_numpy()).all()
    assert ((truth["failures"] != "") == truth["failed"]).all()
    for g in ("a", "b"):
        assert 0.2 < truth.loc[truth["generator"] == g, "failed"].mean() < 0.6


def test_report_clears_the_small_bars_and_finds_failure_regions(small):
    report = demo_report(small)
    assert report["recall_at_1"] >= SMALL_RECALL, report
    assert report["auc"] >= SMALL_AUC, report
    truth = pd.read_parquet(small / TRUTH)
    for g, info in report["generators"].items():
        assert len(info["worst_concepts"]) == 5
        assert info["mean_score_failed"] < info["mean_score_faithful"]
        overall = truth.loc[truth["generator"] == g, "failed"].mean()
        # the concepts whose scores drop most are where this generator really fails more
        assert np.mean([d["failure_rate"] for d in info["worst_concepts"]]) > overall
    text = format_report(report)
    assert "recall@1" in text and "five worst concepts" in text
    assert report["build"]["timings"]["total_s"] > 0


def test_second_call_reuses_the_build(small):
    before = (small / STAMP).read_text()
    mtime = (small / "items.parquet").stat().st_mtime_ns
    assert build_demo(small.parent, size="small", progress=False) == small
    assert (small / STAMP).read_text() == before
    assert (small / "items.parquet").stat().st_mtime_ns == mtime
    assert _reusable(small, _settings("small", 0))
    assert not _reusable(small, _settings("small", 1))
    assert json.loads(before)["settings"] == _settings("small", 0)


def test_corpus_is_deterministic_for_a_seed():
    a = make_corpus(30, 20, seed=5, progress=False)
    b = make_corpus(30, 20, seed=5, progress=False)
    c = make_corpus(30, 20, seed=6, progress=False)
    assert a.prompts == b.prompts and a.train_prompts == b.train_prompts
    assert a.pngs == b.pngs and np.array_equal(a.train_pixels, b.train_pixels)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert a.prompts != c.prompts
    with pytest.raises(ValueError, match="layouts must be an integer >= 1"):
        make_corpus(3, 2, layouts=0, progress=False)


def test_recall_at_1_counts_hits_among_candidates():
    eye = np.eye(200, dtype=np.float32)
    assert recall_at_1(eye, eye) == 1.0
    assert recall_at_1(eye, np.roll(eye, 1, axis=0)) == 0.0


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="size must be one of"):
        build_demo(tmp_path, size="huge")
    with pytest.raises(TypeError, match="seed must be an integer"):
        build_demo(tmp_path, size="small", seed="0")
    assert not any(tmp_path.iterdir())
