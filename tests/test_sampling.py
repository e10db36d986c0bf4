"""Overlay sampling: nested levels, blue-noise minimum distances, random levels with equal counts."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from dkmap.sampling import bluenoise_levels, cumulative_counts, random_levels


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(5)
    centres = rng.random((8, 2))
    pos = centres[rng.integers(0, 8, 20000)] + rng.normal(size=(20000, 2)) * 0.05
    return pos.clip(0, 1)


def test_bluenoise_levels_respect_their_radius_and_are_nested(clustered):
    r0, max_level = 0.05, 7
    levels = bluenoise_levels(clustered, r0, max_level, seed=1)
    assert levels.dtype == np.uint8 and levels.max() <= max_level
    counts = cumulative_counts(levels, max_level)
    assert counts[-1] == len(clustered) and np.all(np.diff(counts) >= 0)
    for z in range(max_level):
        shown = clustered[levels <= z]
        dist, _ = cKDTree(shown).query(shown, k=2)
        assert dist[:, 1].min() >= r0 / 2**z - 1e-12, f"level {z}"
        # maximal: every hidden item is within r_z of a shown one (else it would have been added)
        hidden = clustered[levels > z]
        if len(hidden):
            d_hidden, _ = cKDTree(shown).query(hidden, k=1)
            assert d_hidden.max() < r0 / 2**z


def test_bluenoise_is_deterministic_per_seed(clustered):
    a = bluenoise_levels(clustered[:3000], 0.05, 5, seed=2)
    b = bluenoise_levels(clustered[:3000], 0.05, 5, seed=2)
    c = bluenoise_levels(clustered[:3000], 0.05, 5, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_random_levels_match_counts_and_nest():
    counts = np.array([10, 40, 160, 1000])
    levels = random_levels(1000, counts, seed=0)
    assert np.array_equal(cumulative_counts(levels, 3), counts)
    with pytest.raises(ValueError, match="cumulative"):
        random_levels(1000, np.array([10, 5, 1000]))


def test_bad_sampling_arguments():
    with pytest.raises(ValueError, match="radius0"):
        bluenoise_levels(np.zeros((3, 2)), 0.0, 3)
    with pytest.raises(ValueError, match="max_level"):
        bluenoise_levels(np.zeros((3, 2)), 0.1, 300)
