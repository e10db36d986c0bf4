"""DKMap.fit / FittedMap: quality on a planted landscape, repeatability, save/load, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkmap.evaluation.synthetic import smooth_landscape
from dkmap.projection import DKMap, FittedMap
from dkmap.projection.model import AUTO_STEPS, DEFAULT_LAM, LAM_CHOICES, TRUST_TARGET, auto_steps
from dkmap.projection.train import REFERENCE_SKIP, TRUST_SLACK, checkpoint_bar, choose_checkpoint
from dkmap.projection.kernel import nadaraya_watson
from helpers.torch_threads import one_thread  # noqa: F401  (autouse fixture)

SMALL = {"epochs": 3, "batch_size": 100, "hidden": 16}


@pytest.fixture(scope="module")
def landscape():
    x, m = smooth_landscape(1000, d=4, seed=0)
    return x[:800], m[:800], x[800:], m[800:]


@pytest.fixture(scope="module")
def fitted(landscape) -> FittedMap:
    x_train, m_train, _, _ = landscape
    return DKMap(epochs=15, batch_size=100, hidden=32, seed=0).fit(x_train, m_train, progress=False)


def test_fitted_kernel_predicts_planted_landscape(landscape, fitted):
    x_train, m_train, x_test, m_test = landscape
    error = np.abs(fitted.predict(fitted.transform(x_test)) - m_test).mean()
    mean_guess = np.abs(m_test - m_train.mean()).mean()
    assert error < 0.3 * mean_guess
    assert fitted.kernel["alpha"] != 1.0 and fitted.kernel["beta"] != 1.0
    assert set(fitted.kernel) == {"alpha", "beta", "scale", "m_mean", "m_std"}
    assert fitted.kernel["m_mean"] == pytest.approx(m_train.mean())
    # 15 epochs of 7 batches (700 fit items: 100 are held out for selection), 10 checkpoints, one
    # fit per λ of LAM_CHOICES.
    assert fitted.training["steps"] == 105 and fitted.training["n_select"] == 100
    one_fit = list(range(10, 101, 10)) + [105]
    assert [h["step"] for h in fitted.history] == one_fit * len(LAM_CHOICES)
    assert [h["lam"] for h in fitted.history] == [lam for lam in LAM_CHOICES for _ in one_fit]
    assert fitted.training["lams_tried"] == list(LAM_CHOICES)
    runs = [fitted.history[i:i + len(one_fit)] for i in range(0, len(fitted.history), len(one_fit))]
    assert all(run[-1]["mse_val"] < run[0]["mse_val"] for run in runs)
    # The kept checkpoint is the pool's lowest selection MSE above the trust bar of all the fits:
    # the t-SNE target where some checkpoint reaches it, else the best trust less the slack.
    target = fitted.training["trust_target"]
    assert target == pytest.approx(TRUST_TARGET * fitted.training["tsne_select_trust"])
    floor = max(h["select_trust"] for run in runs for h in run[REFERENCE_SKIP:]) - TRUST_SLACK
    late = [h for run in runs for h in run[REFERENCE_SKIP:]]
    bar = target if any(h["select_trust"] >= target for h in late) else floor
    assert fitted.training["trust_bar"] == pytest.approx(bar)
    best = min((h for h in fitted.history if h["select_trust"] >= bar), key=lambda h: h["select_mse"])
    assert (best["step"], best["lam"]) == (fitted.training["best_step"], fitted.training["lam"])
    by_lam = fitted.training["by_lam"]
    assert [c["lam"] for c in by_lam] == list(LAM_CHOICES)
    assert min((c for c in by_lam if c["within_bar"]), key=lambda c: c["select_mse"])["step"] == best["step"]


def test_predict_is_the_documented_formula(fitted):
    k = fitted.kernel
    queries = fitted.train_positions[:7] + 0.1
    nw = nadaraya_watson(queries, fitted.train_positions, fitted.train_values, k["alpha"], k["beta"])
    np.testing.assert_allclose(fitted.predict(queries),
                               (1 - k["scale"]) * k["m_mean"] + k["scale"] * nw, rtol=1e-12)


def test_transform_matches_train_positions_and_types(landscape, fitted):
    x_train = landscape[0]
    positions = fitted.transform(x_train)
    assert positions.dtype == np.float32 and positions.shape == (len(x_train), 2)
    np.testing.assert_array_equal(positions, fitted.train_positions)


def test_save_load_gives_identical_positions(tmp_path, landscape, fitted):
    x_test = landscape[2]
    path = tmp_path / "projector.pt"
    fitted.save(path)
    loaded = FittedMap.load(path, device="cpu")
    np.testing.assert_array_equal(loaded.transform(x_test), fitted.transform(x_test))
    np.testing.assert_array_equal(loaded.train_positions, fitted.train_positions)
    assert loaded.kernel == fitted.kernel
    assert loaded.settings == fitted.settings
    np.testing.assert_array_equal(loaded.predict(loaded.train_positions[:20]),
                                  fitted.predict(fitted.train_positions[:20]))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a DKMap projector"):
        FittedMap.load(path)


def test_same_seed_repeats_and_other_seed_differs():
    x, m = smooth_landscape(250, d=6, seed=3)
    a = DKMap(seed=1, **SMALL).fit(x, m, progress=False)
    b = DKMap(seed=1, **SMALL).fit(x, m, progress=False)
    c = DKMap(seed=2, **SMALL).fit(x, m, progress=False)
    np.testing.assert_array_equal(a.train_positions, b.train_positions)
    assert a.kernel == b.kernel
    assert not np.array_equal(a.train_positions, c.train_positions)


def test_ablations_fix_what_they_say():
    x, m = smooth_landscape(250, d=6, seed=4)
    no_kr = DKMap(lam=0.0, **SMALL).fit(x, m, progress=False)
    assert (no_kr.kernel["alpha"], no_kr.kernel["beta"], no_kr.kernel["scale"]) == (1.0, 1.0, 1.0)
    no_gk = DKMap(learn_kernel=False, **SMALL).fit(x, m, progress=False)
    assert (no_gk.kernel["alpha"], no_gk.kernel["beta"]) == (1.0, 1.0)
    assert no_gk.kernel["scale"] != 1.0


def test_uneven_batches_and_any_metric_scale():
    x, m = smooth_landscape(233, d=5, seed=5)   # 233 rows, batch 100: batches of 78/78/77
    fitted = DKMap(**SMALL).fit(x, 1e6 * m, progress=False)
    assert np.isfinite(fitted.train_positions).all()
    assert fitted.kernel["m_std"] == pytest.approx(1e6 * m.std())
    assert np.isfinite(fitted.predict(fitted.train_positions)).all()


@pytest.mark.parametrize("change, match", [
    ({"x_nan": True}, "x contains NaN"),
    ({"m_inf": True}, "m contains NaN or inf"),
    ({"m_short": True}, "one value per row"),
    ({"rows": 31}, "at least 32"),
])
def test_fit_rejects_bad_input(change, match):
    x, m = smooth_landscape(change.get("rows", 300), d=4)
    if change.get("x_nan"):
        x[3, 1] = np.nan
    if change.get("m_inf"):
        m[0] = np.inf
    if change.get("m_short"):
        m = m[:-1]
    with pytest.raises(ValueError, match=match):
        DKMap(**SMALL).fit(x, m, progress=False)


@pytest.mark.parametrize("setting", [{"epochs": 0}, {"batch_size": 8}, {"val_fraction": 0.7},
                                     {"lam": -1.0}, {"hidden": 1}, {"lr": 0.0}, {"steps": 0},
                                     {"select_fraction": 0.6}, {"lam": float("inf")},
                                     {"leave_one_out": 1}, {"checkpoints": 0}, {"seed": 1.5},
                                     {"lam_choices": ()}, {"lam_choices": (2.0, -1.0)},
                                     {"lam_choices": (float("nan"),)}, {"lam_choices": 4.0},
                                     {"trust_target": 0.0}, {"trust_target": 1.5}])
def test_settings_are_validated(setting):
    name = next(iter(setting))
    with pytest.raises(ValueError, match=name):
        DKMap(**setting)


def test_transform_and_predict_reject_bad_shapes(fitted):
    with pytest.raises(ValueError, match="x_new must have 4 columns"):
        fitted.transform(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="positions"):
        fitted.predict(np.zeros((3, 3)))


def test_steps_and_epochs_are_exclusive():
    with pytest.raises(ValueError, match="steps must be None when epochs is given"):
        DKMap(steps=10, epochs=2)


def test_tiny_dataset_trains_with_a_bounded_automatic_budget():
    x, m = smooth_landscape(300, d=4, seed=8)
    fitted = DKMap(hidden=16).fit(x, m, progress=False)
    # 300 items: 100 held out for selection, one batch of the other 200, the budget's floor.
    assert fitted.training["n_select"] == 100 and fitted.training["n_trained"] == 200
    assert fitted.training["steps"] == auto_steps(200, 200) == AUTO_STEPS[0]
    assert fitted.history[-1]["step"] == AUTO_STEPS[0]
    assert np.isfinite(fitted.predict(fitted.transform(x))).all()


def test_automatic_budget_grows_with_n_between_its_bounds():
    lo, hi = AUTO_STEPS
    assert auto_steps(2_000, 1000) == lo
    assert lo < auto_steps(30_000, 1000) < hi
    assert auto_steps(10**6, 1000) == hi
    assert DKMap().steps_for(30_000) == auto_steps(30_000, 1000)
    assert DKMap(epochs=3).steps_for(30_000) == 90 and DKMap(steps=7).steps_for(30_000) == 7


def test_selection_set_size_follows_n():
    model = DKMap()
    assert model.selection_size(250) == 0                 # too few items to spare any
    assert model.selection_size(5_000) == 500
    assert model.selection_size(10**6) == 2_000
    assert DKMap(select_fraction=0.0).selection_size(5_000) == 0
    assert DKMap(lam=0.0).selection_size(5_000) == 0     # w/o KR: nothing metric-driven at all


def test_selection_reads_no_test_item():
    """Perturbing the test items' metric changes nothing in the fitted model (evaluate's path)."""
    from dkmap.evaluation.report import RUNNERS, Split

    x, m = smooth_landscape(900, d=4, seed=9)
    settings = {"steps": 40, "hidden": 16, "batch_size": 200}

    def fit(m_test):
        split = Split(x_train=x[:700], m_train=m[:700], x_test=x[700:], m_test=m_test)
        return RUNNERS["dkmap"](split, settings, 0, False, {})

    a, b = fit(m[700:]), fit(m[700:][::-1] * 3.0 + 11.0)
    np.testing.assert_array_equal(a.pos_test, b.pos_test)
    np.testing.assert_array_equal(a.pred_test, b.pred_test)


def test_build_fit_reads_no_test_item():
    """The build's fit (dkmap.builder.projection) sees only train items: test metrics are inert."""
    from dkmap.config import BuildSettings
    from dkmap.builder.projection import fit_projection

    x, m = smooth_landscape(900, d=4, seed=10)
    is_train = np.arange(900) % 5 != 0
    settings = BuildSettings(batch_size=200, hidden=16, projection={"steps": 40})
    perturbed = m.copy()
    perturbed[~is_train] = np.random.default_rng(0).normal(size=(~is_train).sum()) * 100.0
    a, n_a = fit_projection(x, m, is_train, settings, progress=False)
    b, n_b = fit_projection(x, perturbed, is_train, settings, progress=False)
    assert n_a == n_b == is_train.sum()
    assert a.training["n_select"] == 100
    assert a.kernel == b.kernel
    np.testing.assert_array_equal(a.transform(x), b.transform(x))


def test_each_lam_is_fitted_as_a_fixed_lam_fit_would_be(landscape, fitted):
    """The automatic λ's fits differ by λ alone: the λ = 4 run is the fit DKMap(lam=4) makes."""
    x_train, m_train, _, _ = landscape
    fixed = DKMap(epochs=15, batch_size=100, hidden=32, seed=0, lam=LAM_CHOICES[1]).fit(
        x_train, m_train, progress=False)
    assert fixed.training["lams_tried"] == [LAM_CHOICES[1]] and fixed.training["lam"] == LAM_CHOICES[1]
    drop = lambda h: {k: v for k, v in h.items() if k != "seconds"}   # noqa: E731
    assert [drop(h) for h in fixed.history] == [drop(h) for h in fitted.history
                                                if h["lam"] == LAM_CHOICES[1]]


def test_lam_choices_set_the_pool(landscape, fitted):
    """lam_choices picks which λ are fitted: each of its runs is the default pool's run at that λ."""
    x_train, m_train, _, _ = landscape
    ends = [LAM_CHOICES[0], LAM_CHOICES[-1]]
    pooled = DKMap(epochs=15, batch_size=100, hidden=32, seed=0, lam_choices=ends).fit(
        x_train, m_train, progress=False)
    assert pooled.training["lams_tried"] == ends and pooled.training["lam"] in ends
    drop = lambda h: {k: v for k, v in h.items() if k != "seconds"}   # noqa: E731
    assert [drop(h) for h in pooled.history] == [drop(h) for h in fitted.history if h["lam"] in ends]
    assert DKMap(lam=3.0, lam_choices=ends).lams_for(500) == (3.0,)   # a given λ overrides


def test_without_selection_items_the_default_lam_is_fitted_alone():
    x, m = smooth_landscape(250, d=6, seed=3)     # too few items to hold any out
    fitted = DKMap(**SMALL).fit(x, m, progress=False)
    assert fitted.training["n_select"] == 0
    assert fitted.training["lams_tried"] == [DEFAULT_LAM] and fitted.training["lam"] == DEFAULT_LAM
    assert {h["lam"] for h in fitted.history} == {DEFAULT_LAM}


def test_checkpoint_choice_keeps_neighbourhoods_within_the_slack():
    def choose(kept, **bar):
        return choose_checkpoint(kept, checkpoint_bar(kept, **bar))

    # (mse, trust, step): the lowest MSE (step 1) loses too much trust; step 3 is the best allowed.
    kept = [(0.10, 0.70, 1), (0.30, 0.80, 2), (0.20, 0.805, 3), (0.25, 0.81, 4)]
    assert choose(kept)[2] == 3
    assert choose([(0.5, 0.1, 7)])[2] == 7
    # Trust highest at the first checkpoints (early exaggeration), then a little lower while the
    # error falls ten-fold (the demo's clipscore_diff): the first ones do not set the bar.
    falling = [(0.42, 0.828, 60), (0.12, 0.806, 120), (0.06, 0.801, 180), (0.026, 0.801, 600)]
    assert choose(falling)[2] == 600
    # Fits at two λ are one pool under one bar: the larger λ's map only where it clears it.
    pooled = [(0.20, 0.810, 1, None, None, 2.0), (0.15, 0.795, 2, None, None, 2.0),
              (0.10, 0.785, 1, None, None, 4.0), (0.12, 0.806, 2, None, None, 4.0)]
    assert choose(pooled, reference=pooled)[2:6:3] == (2, 4.0)
    assert choose(pooled[:3], reference=pooled[:3])[2:6:3] == (2, 2.0)


def test_a_reached_tsne_target_is_the_bar_and_an_unreached_one_falls_back_to_the_slack():
    kept = [(0.10, 0.70, 1), (0.30, 0.80, 2), (0.20, 0.805, 3), (0.25, 0.81, 4)]
    # Step 1 keeps the share of t-SNE's trust asked for: it is kept though others keep more.
    assert checkpoint_bar(kept, target=0.69) == 0.69
    assert choose_checkpoint(kept, checkpoint_bar(kept, target=0.69))[2] == 1
    assert choose_checkpoint(kept, checkpoint_bar(kept, target=0.802))[2] == 3
    # No checkpoint reaches the target: the best trust less the slack, as without a target.
    assert checkpoint_bar(kept, target=0.9) == pytest.approx(0.81 - TRUST_SLACK)
    assert choose_checkpoint(kept, checkpoint_bar(kept, target=0.9))[2] == 3
    # Only the first checkpoints (early exaggeration, before the metric shaped the map) reach it:
    # that does not make it the bar, so the map the metric shaped is not traded for them.
    falling = [(0.42, 0.840, 60), (0.30, 0.835, 120), (0.06, 0.800, 180), (0.026, 0.801, 600)]
    assert checkpoint_bar(falling, target=0.832) == pytest.approx(0.801 - TRUST_SLACK)
    assert choose_checkpoint(falling, checkpoint_bar(falling, target=0.832))[2] == 600


def test_the_tsne_reference_is_a_tsne_map_of_the_selection_items(landscape, fitted):
    from dkmap.evaluation.baselines import embed
    from dkmap.evaluation.metrics import trustworthiness

    x_train, _, _, _ = landscape
    held = np.sort(np.random.default_rng(0 + 7).permutation(len(x_train))[:100])
    sel = x_train[held].astype(np.float32)
    assert fitted.training["tsne_select_trust"] == pytest.approx(
        trustworthiness(sel, embed("tsne", sel, 0), k=20))
    relative = DKMap(trust_target=None, **SMALL).fit(x_train[:300], landscape[1][:300], progress=False)
    assert relative.training["trust_target"] is None and relative.training["tsne_select_trust"] is None


def test_unit_blocks_are_detected_only_where_every_block_is_unit_norm():
    from dkmap.projection.network import unit_blocks

    rng = np.random.default_rng(0)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)   # noqa: E731
    t, v1, v2 = (unit(rng.normal(size=(50, 8))) for _ in range(3))
    assert unit_blocks(np.hstack([t, v1])) == 2
    assert unit_blocks(np.hstack([t, v1, v2])) == 3
    assert unit_blocks(rng.normal(size=(50, 16))) == 1
    assert unit_blocks(np.hstack([t, 2 * v1])) == 1


def test_agreement_features_sum_to_the_text_image_cosine():
    from dkmap.projection.network import AgreementFeatures

    rng = np.random.default_rng(1)
    t, v = (rng.normal(size=(5, 6)) for _ in range(2))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    out = AgreementFeatures(12, 2)(torch.from_numpy(np.hstack([t, v]))).numpy()
    assert out.shape == (5, 18)
    np.testing.assert_allclose(out[:, :12], np.hstack([t, v]))
    np.testing.assert_allclose(out[:, 12:].sum(1) / np.sqrt(6), (t * v).sum(1), rtol=1e-12)


def test_fitted_map_with_agreement_features_saves_and_loads(tmp_path):
    from dkmap.evaluation.crossmodal import CrossModalSpec, cross_modal

    x, m, _ = cross_modal(CrossModalSpec(n=300, half=8, topics=4, seed=3))
    fitted = DKMap(steps=20, hidden=16, batch_size=100).fit(x, m, progress=False)
    assert fitted.training["blocks"] == 2 and fitted.net.blocks == 2
    assert DKMap(steps=20, hidden=16, agreement=False).fit(x, m, progress=False).net.blocks == 1
    fitted.save(tmp_path / "p.pt")
    loaded = FittedMap.load(tmp_path / "p.pt", device="cpu")
    np.testing.assert_array_equal(loaded.transform(x), fitted.transform(x))


def test_automatic_choices_beat_the_old_fixed_defaults_on_a_planted_cross_modal_set():
    """Step budget, selection, calibration and agreement features against 20 epochs as before."""
    from dkmap.evaluation.crossmodal import CrossModalSpec, cross_modal
    from dkmap.evaluation.suite import OLD_DEFAULTS

    x, m, is_test = cross_modal(CrossModalSpec(n=1500, half=16, topics=8, seed=5))

    def test_mae(options):
        fitted = DKMap(hidden=32, **options).fit(x[~is_test], m[~is_test], progress=False)
        return np.abs(fitted.predict(fitted.transform(x[is_test])) - m[is_test]).mean(), fitted

    new, fitted = test_mae({})
    old, _ = test_mae(OLD_DEFAULTS)
    assert fitted.training["steps"] == AUTO_STEPS[0] and fitted.training["n_select"] == 120
    assert new < 0.8 * old
