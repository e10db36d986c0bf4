"""Reading the sharded dataset layout: open_dataset gives the same Dataset as the plain layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from dkmap.data.store import DatasetError, ShardedArray, open_dataset, write_dataset
from dkmap.data.sharded import shard_dataset
from dkmap.distributed.synthetic import GENERATOR, METRIC, Landscape


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A plain dataset of 250 items and its sharded copy in shards of 60 rows (60, 60, 60, 60, 10)."""
    root = tmp_path_factory.mktemp("sharded")
    items, emb = Landscape(8, seed=3).shard(0, 250, 0, np.float16)
    rng = np.random.default_rng(3)
    minilm = rng.standard_normal((250, 6)).astype(np.float32)
    emb["minilm"] = minilm / np.linalg.norm(minilm, axis=1, keepdims=True)
    made = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**6, 250), unit="s")
    extra = pd.DataFrame({"steps": rng.integers(1, 50, 250), "cfg": np.where(rng.random(250) < 0.1, np.nan, 7.5),
                          "nsfw": rng.random(250) < 0.2, "made": made,
                          "model": rng.choice(["m1", "m2", "m3"], 250), "note": [f"n{i}" for i in range(250)]})
    write_dataset(root / "plain", name="pair", description="synthetic", items=items, embeddings=emb,
                  image_sources={"none.png": b"\x89PNG one"}, generators=[GENERATOR],
                  metrics={METRIC: {"generators": [GENERATOR], "kind": "score"}}, columns=extra)
    shard_dataset(root / "plain", root / "sharded", shard_rows=60)
    return open_dataset(root / "plain"), open_dataset(root / "sharded", verify_checksums=True)


def test_sharded_dataset_reads_like_the_plain_one(pair):
    plain, sharded = pair
    assert sharded.sharded and not plain.sharded
    assert sharded.meta["shards"] == [60, 60, 60, 60, 10]
    assert (sharded.n, sharded.name, sharded.metrics, sharded.spaces) == (plain.n, plain.name, plain.metrics,
                                                                           plain.spaces)
    assert sharded.items.equals(plain.items)
    np.testing.assert_array_equal(sharded.metric(METRIC), plain.metric(METRIC))
    np.testing.assert_array_equal(sharded.features(METRIC), plain.features(METRIC))
    assert sharded.image_path(7, GENERATOR).read_bytes() == b"\x89PNG one"
    assert sharded.meta["columns"] == plain.meta["columns"]
    assert sharded.columns.names == ["steps", "cfg", "nsfw", "made", "model", "note"]
    rows = np.arange(plain.n)
    for column in plain.columns:
        pd.testing.assert_series_equal(sharded.columns[column.name].decoded(rows), column.decoded(rows))
    for space in plain.spaces:
        emb = sharded.embedding(space)
        assert isinstance(emb, ShardedArray) and emb.shape == plain.embedding(space).shape
        assert emb.dtype == plain.embedding(space).dtype


@pytest.mark.parametrize("key", [0, 59, 60, 249, -1, slice(None), slice(55, 65), slice(58, 200, 7),
                                 slice(240, 999), slice(70, 70), [3, 61, 3, 249, 0], np.array([], int),
                                 np.arange(250) % 3 == 0, (slice(50, 70), 1), (123, slice(0, 2))])
def test_sharded_array_indexes_like_the_stored_array(pair, key):
    plain, sharded = pair
    want = np.asarray(plain.embedding("text"))[key]
    got = sharded.embedding("text")[key]
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_sharded_array_refuses_bad_rows(pair):
    emb = pair[1].embedding("text")
    with pytest.raises(IndexError, match="out of range"):
        emb[250]
    with pytest.raises(IndexError, match="out of range"):
        emb[[0, 250]]
    with pytest.raises(IndexError, match="boolean"):
        emb[np.ones(10, bool)]
    with pytest.raises(IndexError, match="integers"):
        emb[np.array([0.5])]


def test_damaged_sharded_dataset_is_refused(pair, tmp_path):
    import shutil

    good = pair[1].root
    cases = {
        "missing items shard": (lambda r: (r / "items" / "part-00002.parquet").unlink(), "part-00002.parquet: missing"),
        "missing embedding shard": (lambda r: (r / "embeddings" / "text" / "part-00004.npy").unlink(),
                                    "missing embedding file"),
        "short embedding shard": (lambda r: np.save(r / "embeddings" / "text" / "part-00001.npy",
                                                    np.ones((59, 8), np.float16)), "does not match 60 items"),
        "shards disagree with n_items": (lambda r: _edit_meta(r, shards=[60, 60, 60, 60, 11]), "n_items=250"),
        "no shard list": (lambda r: _edit_meta(r, shards=None), "shards"),
    }
    for name, (damage, message) in cases.items():
        root = tmp_path / name.replace(" ", "-")
        shutil.copytree(good, root)
        damage(root)
        with pytest.raises(DatasetError, match=message):
            open_dataset(root)
    root = tmp_path / "changed"
    shutil.copytree(good, root)
    np.save(root / "embeddings" / "text" / "part-00003.npy", -np.load(root / "embeddings" / "text" / "part-00003.npy"))
    open_dataset(root)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        open_dataset(root, verify_checksums=True)


def test_shard_dataset_refuses_bad_arguments(pair, tmp_path):
    with pytest.raises(ValueError, match="shard_rows"):
        shard_dataset(pair[0].root, tmp_path / "x", shard_rows=0)
    with pytest.raises(DatasetError, match="already sharded"):
        shard_dataset(pair[1].root, tmp_path / "x", shard_rows=10)
    assert not (tmp_path / "x").exists()


def _edit_meta(root, **changes) -> None:
    meta = yaml.safe_load((root / "dataset.yaml").read_text())
    meta.update(changes)
    (root / "dataset.yaml").write_text(yaml.safe_dump(meta))


def test_single_machine_build_of_a_sharded_dataset_is_reused(pair, tmp_path):
    """The default engine builds a sharded dataset too; the map and Faiss index are reused until a
    shard changes (dataset.yaml lists every shard's checksum)."""
    import json
    import shutil

    from dkmap.config import BuildSettings
    from dkmap.builder import build_map

    root = tmp_path / "sharded"
    shutil.copytree(pair[1].root, root)
    settings = BuildSettings(epochs=1, batch_size=64, tile_size=32, max_grid=64, max_level=2)
    out = build_map(root, METRIC, settings, progress=False)
    manifest = (out / "manifest.json").read_text()
    assert json.loads(manifest)["inputs"] == {"dataset.yaml": json.loads(manifest)["indexes"][f"image_{GENERATOR}"]["input_sha256"]}
    assert np.load(out / "positions.npy").shape == (250, 2)
    assert build_map(root, METRIC, settings, progress=False) == out
    assert (out / "manifest.json").read_text() == manifest


def test_synthetic_shards_carry_the_prompts_minilm_embeddings(tmp_path):
    from dkmap.data.encoders import embed_prompts_minilm
    from dkmap.distributed import write_synthetic_shards

    ds = open_dataset(write_synthetic_shards(tmp_path / "s", 500, dim=8, shard_rows=200, progress=False,
                                             minilm=True), verify_checksums=True)
    assert ds.meta["shards"] == [200, 200, 100] and "minilm" in ds.spaces
    rows = np.array([0, 199, 200, 499])
    want = embed_prompts_minilm([ds.prompts[r] for r in rows]).astype(np.float16)
    np.testing.assert_allclose(ds.embedding("minilm")[rows].astype(np.float32), want.astype(np.float32),
                               atol=2e-3)
