"""dkmap.maps: open_map over a real built map; transform, predict, tiles, kernel, manifest checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import dkmap
from dkmap.contour.tiles import cell_centres
from dkmap.data.store import open_dataset
from dkmap.maps import FORMAT, Manifest, MapError, manifest_path, map_dir, open_map
from dkmap.projection.kernel import Kernel
from helpers.tiny import DATASET

METRICS = ("clip_a", "diff_ab")


@pytest.fixture(scope="module")
def dataset_dir(tiny_data_dir):
    return tiny_data_dir / DATASET


@pytest.mark.parametrize("metric", METRICS)
def test_transform_of_the_train_features_is_the_stored_positions(dataset_dir, metric):
    built = dkmap.open_map(map_dir(dataset_dir, metric))
    ds = open_dataset(dataset_dir)
    assert built.feature_spaces == ds.feature_spaces(metric)
    got = built.transform(ds.features(metric))
    assert got.shape == (ds.n, 2) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.asarray(built.positions))
    assert got.min() >= 0 and got.max() <= 1


@pytest.mark.parametrize("metric", METRICS)
def test_predict_at_cell_centres_equals_the_tile_values(dataset_dir, metric):
    built = open_map(map_dir(dataset_dir, metric))
    T = built.tile_size
    values = np.asarray(built.values)
    tol = 1e-3 * (values.max() - values.min())   # the FFT's linear binning (METHOD.md §4)
    for z, x, y in [(0, 0, 0), (1, 0, 1), (2, 2, 1)]:
        tile = built.tile(z, x, y)
        assert tile.shape == (T, T) and tile.dtype == np.float32
        want = built.predict(cell_centres(z, T, x, y), level=z).reshape(T, T)
        shown = ~np.isnan(tile)
        assert shown.any() and not shown.all()   # the tiny map masks its empty corners
        assert np.abs(tile[shown] - want[shown]).max() <= tol, f"tile {(z, x, y)}"
    with pytest.raises(ValueError, match="finite"):
        built.predict(np.zeros((3, 3)))


def test_kernel_is_the_manifest_kernel_in_unit_square_coordinates(dataset_dir):
    built = open_map(map_dir(dataset_dir, "clip_a"))
    data = json.loads(manifest_path(built.root).read_text())
    assert built.kernel == Kernel(**data["kernel"])
    fitted = data["projection_kernel"]
    assert built.kernel == Kernel.from_fitted(fitted).rescaled(data["normalisation"]["scale"])
    assert built.alpha(0) == built.kernel.alpha
    assert built.alpha(99) == data["levels"][-1]["alpha"]


def test_manifest_reads_validates_and_round_trips(dataset_dir, tmp_path):
    path = manifest_path(map_dir(dataset_dir, "clip_a"))
    manifest = Manifest.read(path, metric="clip_a")
    assert manifest.data["format"] == FORMAT and manifest.metric == "clip_a"
    manifest.write(tmp_path / "manifest.json")
    assert Manifest.read(tmp_path / "manifest.json").data == manifest.data
    with pytest.raises(MapError, match="not 'other'"):
        Manifest.read(path, metric="other")
    Manifest({**manifest.data, "format": FORMAT + 1}).write(tmp_path / "manifest.json")
    with pytest.raises(MapError, match=f"map format {FORMAT + 1}"):
        Manifest.read(tmp_path / "manifest.json")
    lacking = dict(manifest.data)
    del lacking["levels"]
    Manifest(lacking).write(tmp_path / "manifest.json")
    with pytest.raises(MapError, match=r"lacks \['levels'\]"):
        Manifest.read(tmp_path / "manifest.json")


def test_unbuilt_map_is_a_map_error_naming_the_file(dataset_dir, tmp_path):
    with pytest.raises(MapError, match="no built map for metric 'clip_b'"):
        open_map(map_dir(dataset_dir, "clip_b"))
    copy = tmp_path / "maps" / "clip_a"
    shutil.copytree(map_dir(dataset_dir, "clip_a"), copy)
    (copy / "values.npy").unlink()
    with pytest.raises(MapError, match="values.npy: listed in the manifest but missing"):
        open_map(copy)
