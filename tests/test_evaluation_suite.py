"""The evaluation suite: its sets, the baseline cache, the rows and the `--suite` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dkmap.cli import main
from dkmap.evaluation.crossmodal import CrossModalSpec, cross_modal, noise_floor
from dkmap.evaluation.suite import (BASELINES, OLD_DEFAULTS, SUITES, format_suite, medians, run_suite,
                                    split_of, suite_specs)
from dkmap.projection.model import LAM_CHOICES
from helpers.torch_threads import one_thread  # noqa: F401  (autouse fixture)

FAST = {"steps": 30, "hidden": 16, "batch_size": 100}


def test_dev_and_heldout_groups_are_disjoint_and_varied():
    dev, held = SUITES["dev"], SUITES["heldout"]
    assert not set(dev) & set(held)
    specs = [*dev.values(), *held.values()]
    assert len({s.seed for s in specs}) == len(specs)
    assert {s.scale for s in held.values()} == {"clipscore", "unit", "diff"}
    widths = {split_of(s).x_train.shape[1] for s in held.values()}
    assert min(widths) <= 256 and max(widths) >= 1024
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        suite_specs("nope")


@pytest.mark.parametrize("scale", ["clipscore", "unit", "diff"])
def test_cross_modal_sets_are_unit_blocks_with_the_metric_they_say(scale):
    x, m, is_test = cross_modal(CrossModalSpec(n=500, half=8, topics=5, scale=scale, seed=1))
    blocks = 3 if scale == "diff" else 2
    assert x.shape == (500, 8 * blocks) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x.reshape(500, blocks, 8), axis=2), 1.0, atol=1e-5)
    cos = (x[:, :8] * x[:, 8:16]).sum(1)
    if scale == "clipscore":
        np.testing.assert_allclose(m, 100 * cos - 100 * cos.mean() + 80, atol=1e-3)
    elif scale == "unit":
        assert 0 < m.min() and m.max() < 1
        assert (np.diff(m[np.argsort(cos)]) >= 0).all()      # a logistic of the cosine
    else:
        assert abs(np.median(m)) < 0.5 * m.std()
        np.testing.assert_allclose(m, 100 * ((x[:, :8] * x[:, 16:]).sum(1) - cos), atol=1e-3)
    assert is_test.sum() == 100
    again = cross_modal(CrossModalSpec(n=500, half=8, topics=5, scale=scale, seed=1))
    np.testing.assert_array_equal(again[0], x)


@pytest.mark.parametrize("scale", ["clipscore", "unit", "diff"])
def test_noise_floor_is_the_mae_of_the_noise_free_metric(scale):
    spec = CrossModalSpec(n=2000, half=8, topics=5, label_noise=0.3, scale=scale, seed=2)
    quiet = CrossModalSpec(n=2000, half=8, topics=5, scale=scale, seed=2)
    assert noise_floor(quiet) == 0.0
    floor = noise_floor(spec)
    x, m, is_test = cross_modal(spec)
    x_quiet, clean, _ = cross_modal(quiet)
    np.testing.assert_array_equal(x, x_quiet)               # the noise touches the metric only
    assert 0 < floor < np.abs(m[is_test] - np.median(m[~is_test])).mean()
    # The noise-free metric on its own scale (other constants) predicts about as well, no better.
    assert np.abs(clean[is_test] - m[is_test]).mean() == pytest.approx(floor, rel=0.05)
    if scale != "unit":
        # Gaussian noise of 0.3 raw-score deviations: mean |noise| = 0.3·sqrt(2/π) of the spread.
        assert floor == pytest.approx(0.3 * np.sqrt(2 / np.pi) * clean.std(), rel=0.1)
        shifts = [np.abs(clean[is_test] + c - m[is_test]).mean() for c in np.linspace(-5, 5, 201)]
        assert floor == pytest.approx(min(shifts), rel=0.02)


def test_suite_rows_ratios_and_cache(tmp_path):
    rows = run_suite("tiny", {"fast": FAST, "old": {**OLD_DEFAULTS, "hidden": 16}},
                     cache_dir=tmp_path)
    assert [(r["set"], r["variant"]) for r in rows] == [
        ("tiny-clip", "fast"), ("tiny-clip", "old"), ("tiny-diff", "fast"), ("tiny-diff", "old")]
    cached = sorted(tmp_path.iterdir())
    assert len(cached) == 2
    for row in rows:
        assert row["best_baseline"] in BASELINES
        assert row["ratio"] == pytest.approx(row["mae"] / row["best_mae"])
        assert 0 < row["trust_ratio"] < 2 and row["mae"] > 0
        assert row["floor_ratio"] == 0.0                    # the tiny sets have no label noise
    assert rows[0]["steps"] == 30 and rows[1]["steps"] == 20   # 20 epochs of one 320-item batch
    assert rows[1]["lam"] == OLD_DEFAULTS["lam"]               # the λ the fit kept, on every row
    assert rows[0]["lam"] in LAM_CHOICES                       # chosen: FAST leaves λ to the fit
    stored = json.loads(cached[0].read_text())
    assert set(stored) >= {*BASELINES, "autoencoder", "direct", "direct-agreement"}
    # Cached baselines are reused: a second run gives the same best baseline values.
    again = run_suite("tiny", {"fast": FAST}, cache_dir=tmp_path, only=["tiny-clip"])
    assert again[0]["best_mae"] == rows[0]["best_mae"] and again[0]["mae"] == rows[0]["mae"]
    table = format_suite(rows)
    assert "median fast: ratio" in table and "tiny-diff" in table
    med = medians(rows)
    assert med["fast"]["ratio"] == pytest.approx(np.median([rows[0]["ratio"], rows[2]["ratio"]]))


def test_evaluate_suite_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rows.json"
    assert main(["evaluate", "--suite", "tiny", "--only", "tiny-diff", "--steps", "20",
                 "--hidden", "16", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads(out.read_text())
    assert [r["set"] for r in rows] == ["tiny-diff"] and rows[0]["variant"] == "given"
    assert f"{rows[0]['ratio']:.3f}" in printed
    assert (tmp_path / "data" / "cache" / "suite").is_dir()
    assert main(["evaluate", "--suite", "tiny", "--only", "nope"]) == 1
    assert "unknown sets ['nope']" in capsys.readouterr().err
    assert main(["evaluate", "--suite", "tiny", "--npz", "x.npz"]) == 1
