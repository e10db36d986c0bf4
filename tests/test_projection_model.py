"""DKMap.fit / FittedMap: quality on a planted landscape, repeatability, save/load, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkmap.evaluation.synthetic import smooth_landscape
from dkmap.projection import DKMap, FittedMap
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
    assert len(fitted.history) == 15 and fitted.history[-1]["mse_val"] < fitted.history[0]["mse_val"]


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
    ({"rows": 150}, "two mini-batches"),
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
                                     {"lam": -1.0}, {"hidden": 1}, {"lr": 0.0}])
def test_settings_are_validated(setting):
    name = next(iter(setting))
    with pytest.raises(ValueError, match=name):
        DKMap(**setting)


def test_transform_and_predict_reject_bad_shapes(fitted):
    with pytest.raises(ValueError, match="x_new must have 4 columns"):
        fitted.transform(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="positions"):
        fitted.predict(np.zeros((3, 3)))
