"""SPEC (dkmap.compare.spec): exactness against a direct N×N eigendecomposition, planted clusters."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from dkmap.compare.spec import feature_maps, median_bandwidth, spec, spec_clusters_json


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _direct(phi_x: np.ndarray, phi_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the N×N kernel difference, ordered by |eigenvalue| descending."""
    n = phi_x.shape[0]
    delta = (phi_x @ phi_x.T - phi_y @ phi_y.T) / n
    evals, evecs = np.linalg.eigh(delta)
    order = np.argsort(-np.abs(evals), kind="stable")
    return evals[order], evecs[:, order]


def _assert_same_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    for j in range(a.shape[1]):
        sign = np.sign(a[:, j] @ b[:, j])
        np.testing.assert_allclose(a[:, j], sign * b[:, j], atol=atol, err_msg=f"eigenvector {j}")


def _planted(n: int = 3000, d: int = 64, m: int = 120, seed: int = 0):
    """X puts m items in one tight group; Y scatters every item at random."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d))
    rows = rng.choice(n, size=m, replace=False)
    centre = rng.normal(size=d)
    x[rows] = centre / np.linalg.norm(centre) * np.sqrt(d) + 0.5 * rng.normal(size=(m, d))
    return x, y, rows


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(1)
    return rng.normal(size=(150, 6)), rng.normal(size=(150, 9)) + 0.3


def test_cosine_eigenpairs_equal_direct_decomposition(small):
    x, y = small
    result = spec(x, y, k=5, chunk_rows=40, device="cpu")
    evals, evecs = _direct(_unit(x), _unit(y))
    d = x.shape[1] + y.shape[1]
    assert result.eigenvalues.shape == (d,)
    np.testing.assert_allclose(result.eigenvalues, evals[:d], rtol=1e-6, atol=1e-12)
    # Δ has rank ≤ d: every other eigenvalue of the direct route is zero.
    assert np.abs(evals[d:]).max() < 1e-12
    _assert_same_up_to_sign(result.vectors, evecs[:, :5], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=0), 1.0, atol=1e-9)
    # Both kernels have unit diagonal, so Δ has zero trace.
    assert abs(result.eigenvalues.sum()) < 1e-12
    assert result.spec_diff == pytest.approx(np.abs(evals).max(), rel=1e-9)
    assert result.jitter == 0.0


def test_gaussian_eigenpairs_equal_direct_decomposition_of_its_features(small):
    x, y = small
    kwargs = dict(kernel="gaussian", n_fourier=20, bandwidth=(0.7, 0.9), seed=3)
    result = spec(x, y, k=4, chunk_rows=64, device="cpu", **kwargs)
    fx, fy, settings = feature_maps(x, y, device=torch.device("cpu"), **kwargs)
    phi_x = fx(torch.from_numpy(x)).numpy()
    phi_y = fy(torch.from_numpy(y)).numpy()
    assert phi_x.shape == (150, 40) and settings["bandwidth"] == [0.7, 0.9]
    evals, evecs = _direct(phi_x, phi_y)
    np.testing.assert_allclose(result.eigenvalues, evals[:80], rtol=1e-6, atol=1e-12)
    _assert_same_up_to_sign(result.vectors, evecs[:, :4], atol=1e-6)


def test_fourier_features_approximate_the_gaussian_kernel():
    rng = np.random.default_rng(2)
    x = _unit(rng.normal(size=(100, 8)))
    fx, _, _ = feature_maps(x, x, kernel="gaussian", n_fourier=4000, bandwidth=0.8, seed=5,
                            device=torch.device("cpu"))
    phi = fx(torch.from_numpy(x)).numpy()
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    exact = np.exp(-d2 / (2 * 0.8**2))
    np.testing.assert_allclose(np.diag(phi @ phi.T), 1.0, atol=1e-12)
    err = np.abs(phi @ phi.T - exact)
    assert err.mean() < 0.02 and err.max() < 0.1


def test_seeded_fourier_features_are_reproducible(small):
    x, y = small
    a = spec(x, y, k=2, kernel="gaussian", n_fourier=16, bandwidth=1.0, seed=7, device="cpu")
    b = spec(x, y, k=2, kernel="gaussian", n_fourier=16, bandwidth=1.0, seed=7, device="cpu")
    c = spec(x, y, k=2, kernel="gaussian", n_fourier=16, bandwidth=1.0, seed=8, device="cpu")
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    assert not np.allclose(a.eigenvalues, c.eigenvalues)


def test_median_bandwidth_is_the_median_pairwise_distance():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3))
    u = _unit(x)
    dist = np.sqrt(((u[:, None] - u[None]) ** 2).sum(-1))[np.triu_indices(50, 1)]
    assert median_bandwidth(x) == pytest.approx(np.median(dist), rel=1e-9)


@pytest.mark.parametrize("kernel, extra", [("cosine", {}),
                                           ("gaussian", {"bandwidth": 0.8, "n_fourier": 256})])
def test_planted_cluster_is_recovered_on_the_right_side(kernel, extra):
    x, y, planted = _planted()
    for a, b, side in ((x, y, "x"), (y, x, "y")):
        result = spec(a, b, k=3, kernel=kernel, device="cpu", **extra)
        top = result.clusters[0]
        assert top.side == side
        assert (top.eigenvalue > 0) == (side == "x")
        precision = np.isin(top.rows, planted).mean()
        assert precision >= 0.9, f"{kernel} {side}: precision {precision:.2f}"
        assert len(top.rows) >= 50


def test_cluster_rule_threshold_cap_and_order():
    x, y, _ = _planted(n=1500, m=60)
    result = spec(x, y, k=3, cluster_rel=0.3, cluster_max=25, device="cpu")
    for j, cluster in enumerate(result.clusters):
        u = result.vectors[:, j]
        assert u[np.abs(u).argmax()] > 0
        expected = np.flatnonzero(u >= 0.3 * u.max())
        expected = expected[np.argsort(-u[expected], kind="stable")][:25]
        np.testing.assert_array_equal(cluster.rows, expected)
        np.testing.assert_allclose(cluster.weights, u[expected])
        assert cluster.eigenvalue == result.eigenvalues[j]
    assert len(result.clusters[0].rows) == 25  # the planted group of 60 hits the cap


def test_json_has_the_contract_shape():
    x, y, _ = _planted(n=800, m=40, d=32)
    result = spec(x, y, k=4, device="cpu")
    ids = np.array([f"item-{i}" for i in range(800)])
    out = json.loads(json.dumps(spec_clusters_json(result, ids)))
    assert set(out) == {"spec_diff", "clusters"}
    assert out["spec_diff"] == pytest.approx(np.abs(result.eigenvalues).max())
    assert len(out["clusters"]) == 4
    mags = [abs(c["eigenvalue"]) for c in out["clusters"]]
    assert mags == sorted(mags, reverse=True) and mags[0] == pytest.approx(out["spec_diff"])
    for c, cluster in zip(out["clusters"], result.clusters):
        assert set(c) == {"eigenvalue", "side", "ids", "weights"}
        assert c["side"] == ("x" if c["eigenvalue"] >= 0 else "y")
        assert c["ids"] == [f"item-{r}" for r in cluster.rows]
        assert c["weights"] == sorted(c["weights"], reverse=True)
    with pytest.raises(ValueError, match="ids"):
        spec_clusters_json(result, ids[:10])


def test_float16_memmap_input(tmp_path, small):
    x, y = small
    np.save(tmp_path / "x.npy", x.astype(np.float16))
    np.save(tmp_path / "y.npy", y.astype(np.float16))
    mx = np.load(tmp_path / "x.npy", mmap_mode="r")
    my = np.load(tmp_path / "y.npy", mmap_mode="r")
    got = spec(mx, my, k=3, chunk_rows=50, device="cpu")
    want = spec(x.astype(np.float16).astype(np.float64), y.astype(np.float16).astype(np.float64), k=3,
                device="cpu")
    np.testing.assert_allclose(got.eigenvalues, want.eigenvalues, rtol=1e-9, atol=1e-14)


def test_rank_deficient_features_get_jitter_and_say_so(caplog):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 6)), rng.normal(size=(8, 6))  # N < d_X + d_Y: C is singular
    with caplog.at_level(logging.WARNING, logger="dkmap.compare.spec"):
        result = spec(x, y, k=3, device="cpu")
    assert result.jitter > 0
    assert "jitter" in caplog.text
    evals, _ = _direct(_unit(x), _unit(y))
    np.testing.assert_allclose(result.eigenvalues[:8], evals[:8], rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel": "rbf"}, "kernel must be one of"),
    ({"k": 0}, "k must be a positive integer"),
    ({"cluster_rel": 0.0}, "cluster_rel"),
    ({"cluster_max": 0}, "cluster_max"),
    ({"kernel": "gaussian", "bandwidth": -1.0}, "bandwidth must be a positive"),
    ({"kernel": "gaussian", "bandwidth": (1.0, 2.0, 3.0)}, "bandwidth must be a number"),
    ({"kernel": "gaussian", "n_fourier": 0, "bandwidth": 1.0}, "n_fourier"),
])
def test_bad_parameters_are_named(small, kwargs, match):
    x, y = small
    with pytest.raises(ValueError, match=match):
        spec(x, y, device="cpu", **kwargs)


def test_bad_embeddings_are_named(small):
    x, y = small
    with pytest.raises(ValueError, match="same items"):
        spec(x, y[:-1], device="cpu")
    with pytest.raises(ValueError, match="x must be a 2-D array"):
        spec(x[:, 0], y, device="cpu")
    bad = y.copy()
    bad[77, 2] = np.nan
    with pytest.raises(ValueError, match="y: row 77 has a non-finite value"):
        spec(x, bad, chunk_rows=32, device="cpu")
    zero = x.copy()
    zero[5] = 0.0
    with pytest.raises(ValueError, match="x: row 5 has zero norm"):
        spec(zero, y, device="cpu")


def _write_planted_dataset(root, n: int = 600, m: int = 80):
    import pandas as pd

    from dkmap.data.store import write_dataset

    rng = np.random.default_rng(9)
    a, b, planted = _planted(n=n, d=24, m=m, seed=9)
    text = _unit(rng.normal(size=(n, 16)))
    minilm = _unit(rng.normal(size=(n, 384)))
    items = pd.DataFrame({
        "id": [f"p{i:04d}" for i in range(n)],
        "prompt": [f"planted prompt {i}" if i in set(planted) else f"other prompt {i}" for i in range(n)],
        "split": ["train"] * n,
        "image_a": ["x.png"] * n,
        "image_b": ["x.png"] * n,
        "clipscore": rng.normal(size=n),
    })
    write_dataset(root, name="planted", description="SPEC test", items=items,
                  embeddings={"text": text.astype(np.float32), "minilm": minilm.astype(np.float32),
                              "image_a": _unit(a).astype(np.float32), "image_b": _unit(b).astype(np.float32)},
                  image_sources={"x.png": b"not an image"}, generators=["a", "b"],
                  metrics={"clipscore": {"generators": ["a"], "kind": "score"}})
    return planted


def test_run_spec_on_a_stored_dataset(tmp_path):
    import io

    from dkmap.compare.command import run_spec

    planted = _write_planted_dataset(tmp_path / "ds")
    table = io.StringIO()
    out = run_spec(tmp_path / "ds", "image", "image_b", k=3, json_out=tmp_path / "o" / "spec.json",
                   progress=False, out=table)
    assert json.loads((tmp_path / "o" / "spec.json").read_text()) == out
    top = out["clusters"][0]
    assert top["side"] == "x"
    wanted = {f"p{i:04d}" for i in planted}
    assert np.mean([i in wanted for i in top["ids"]]) >= 0.9
    text = table.getvalue()
    assert "spec_diff" in text and "planted prompt" in text and "image_a" in text
    assert len(text.splitlines()) == 2 + 3 * 2
    # "image" is the first generator's space: the same result as naming it.
    again = run_spec(tmp_path / "ds", "image_a", "image_b", k=3, progress=False, out=None)
    assert again == out
    with pytest.raises(ValueError, match="y_space: unknown embedding space 'image_c'"):
        run_spec(tmp_path / "ds", "text", "image_c", progress=False, out=None)
