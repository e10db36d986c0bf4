"""Evaluation measures and baseline regressors on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sklearn_trustworthiness

from dkmap.evaluation import baselines, metrics


def test_errors_on_a_hand_made_case():
    pred, true = [1.0, 2.0, 3.0], [2.0, 2.0, 5.0]
    assert metrics.mae(pred, true) == pytest.approx(1.0)
    assert metrics.rmse(pred, true) == pytest.approx(math.sqrt(5.0 / 3.0))
    assert metrics.mape(pred, true) == pytest.approx(100.0 * (0.5 + 0.0 + 0.4) / 3.0)


def test_mape_skips_zero_truths_and_is_nan_without_any():
    assert metrics.mape([1.0, 2.0, 3.0], [2.0, 0.0, 4.0]) == pytest.approx((50.0 + 25.0) / 2.0)
    assert math.isnan(metrics.mape([1.0], [0.0]))


def test_errors_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="equal length"):
        metrics.mae([1.0, 2.0], [1.0])


def test_trustworthiness_is_one_for_an_isometry_and_matches_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    assert metrics.trustworthiness(x, 3.0 * x @ rotation, k=10) == pytest.approx(1.0)
    high = rng.normal(size=(150, 6))
    low = high[:, :2] + 0.5 * rng.normal(size=(150, 2))
    expected = sklearn_trustworthiness(high, low, n_neighbors=7)
    assert metrics.trustworthiness(high, low, k=7, chunk=16) == pytest.approx(expected, abs=1e-12)
    assert metrics.trustworthiness(high, rng.normal(size=(150, 2)), k=7) < expected


def test_trustworthiness_subsamples_and_validates_k():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    assert metrics.trustworthiness(x, x[:, :2], k=5, max_items=100) > 0.8
    with pytest.raises(ValueError, match="k must be"):
        metrics.trustworthiness(x[:10], x[:10, :2], k=5)


def test_silverman_bandwidth_in_two_dimensions():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(64, 2)) * [1.0, 3.0]
    sigma = centres.std(axis=0, ddof=1)
    # d = 2: (4 / (4n))^{1/6} = n^{-1/6}
    np.testing.assert_allclose(baselines.silverman_bandwidth(centres), sigma * 64 ** (-1 / 6))


def test_gaussian_nw_hand_case():
    centres = np.array([[0.0, 0.0], [2.0, 0.0]])
    values = np.array([0.0, 1.0])
    got = baselines.gaussian_nw(np.array([[1.0, 0.0], [0.0, 0.0]]), centres, values, 1.0)
    w_far = math.exp(-2.0)   # exp(-d²/2) at d = 2, against 1 at d = 0
    np.testing.assert_allclose(got, [0.5, w_far / (1.0 + w_far)])
    # Far away from both, the shift keeps it finite (no 0/0).
    assert np.isfinite(baselines.gaussian_nw(np.array([[1e4, 0.0]]), centres, values, 0.01)).all()


def test_idw_hand_case_and_exact_on_centres():
    centres = np.array([[0.0, 0.0], [3.0, 0.0]])
    values = np.array([0.0, 1.0])
    got = baselines.idw(np.array([[1.0, 0.0], [3.0, 0.0]]), centres, values)
    np.testing.assert_allclose(got, [(1.0 / 4.0) / (1.0 + 1.0 / 4.0), 1.0])


def test_regress_and_embed_reject_unknown_names():
    with pytest.raises(ValueError, match="idw"):
        baselines.regress("linear", np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(ValueError, match="pca"):
        baselines.embed("isomap", np.zeros((5, 3)))


@pytest.mark.parametrize("name", ["pca", pytest.param("tsne", marks=pytest.mark.slow),
                                  pytest.param("umap", marks=pytest.mark.slow)])
def test_embeddings_give_finite_2d_positions(name):
    x = np.random.default_rng(3).normal(size=(120, 8)).astype(np.float32)
    positions = baselines.embed(name, x, seed=0)
    assert positions.shape == (120, 2) and np.isfinite(positions).all()
