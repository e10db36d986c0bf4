"""dkmap.builder.driver.build_map end to end on a small synthetic dataset: artifacts, kernel rescaling,
reuse, atomicity (a failed stage, the index stage on a full disk included, leaves the previous map),
engines, and detection of corrupted or mismatched artifacts at load."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pytest

from dkmap.projection.calibration import density_scaled_alpha
import torch

from dkmap import similarity
from dkmap.config import BuildSettings
from dkmap.contour.tiles import cell_centres
from dkmap.maps import MapError, open_built
from dkmap.data.store import write_dataset
from dkmap.builder import build_map
from dkmap.builder.projection import normalise_positions
from dkmap.projection import FittedMap
from dkmap.projection.kernel import Kernel

# 16-cell tiles are far coarser than the calibrated kernel; an explicit 15× lattice keeps the
# FFT within 1e-3 of the exact sums at that size (automatic oversampling stops at 7×, enough for
# real 256-cell tiles).
# λ fixed: with the automatic choice this 2-epoch map keeps λ = 4, whose kernel (α ≈ 4,300) is
# 4× narrower than a cell of these 16-cell tiles; level 0's linear binning then errs by 0.3 % of the
# value range, over the 0.1 % the tile test holds tiles to (at the real 256-cell tiles such a kernel
# spans 4 cells).
SETTINGS = dict(epochs=2, batch_size=200, hidden=16, tile_size=16, max_grid=32, max_level=4,
                refine_val_max=100, bluenoise_radius0=0.1, subdivide_min_points=2, index_exact_max=500,
                oversample=15, projection={"lam": 2.0})


def write_synthetic(root: Path, n: int = 1200, d: int = 8, seed: int = 0) -> Path:
    """A dataset of n items in clusters with a CLIPScore-like metric 100·cos(text, image)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d))
    text = centres[rng.integers(0, 6, n)] + 0.3 * rng.normal(size=(n, d))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    image = text + rng.uniform(0.2, 1.2, size=(n, 1)) * rng.normal(size=(n, d)) / np.sqrt(d)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    items = pd.DataFrame({"id": [f"i{i}" for i in range(n)], "prompt": [f"prompt {i}" for i in range(n)],
                          "split": np.where(rng.random(n) < 0.8, "train", "test"),
                          "image_a": "a/x.png", "clipscore": 100 * np.sum(text * image, axis=1)})
    write_dataset(root, name=root.name, description="synthetic", items=items,
                  embeddings={"text": text.astype(np.float32), "image_a": image.astype(np.float32),
                              "minilm": text.astype(np.float32)},
                  image_sources={"a/x.png": b"\x89PNG"}, generators=["a"],
                  metrics={"clipscore": {"description": "100·cos", "unit": "", "generators": ["a"],
                                         "kind": "score"}})
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = write_synthetic(tmp_path_factory.mktemp("ds") / "synth")
    path = build_map(root, "clipscore", SETTINGS, progress=False)
    return root, path


def test_build_writes_the_documented_layout(built):
    root, path = built
    assert path == root / "maps" / "clipscore"
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("dataset", "metric", "n_items", "inputs", "settings", "kernel", "colour_domain",
                "value_range", "tile_size", "max_level", "precomputed_levels", "levels",
                "refinement_stopped_at", "subdivision", "mask", "timings", "versions", "created"):
        assert key in manifest, key
    assert manifest["precomputed_levels"] == [0, 1]
    pos = np.load(path / "positions.npy")
    assert pos.shape == (1200, 2) and pos.dtype == np.float32
    assert pos.min() >= 0.0 and pos.max() <= 1.0
    assert np.isclose(pos.max(0) - pos.min(0), 1 - 2 * 0.02, atol=1e-5).any()   # one axis spans
    assert np.load(path / "levels" / "level_1.npy").shape == (32, 32)
    for name in ("bluenoise", "random"):
        levels = np.load(path / f"sampling_{name}.npy")
        assert levels.dtype == np.uint8 and levels.max() <= manifest["max_level"]
    index = manifest["indexes"]["image_a"]
    assert index["kind"] == "IndexIVFFlat" and index["file"] == "index/image_a.faiss" and index["n"] == 1200
    assert manifest["files"]["index/image_a.faiss"]["sha256"] == index["sha256"]
    assert 0.0 <= index["recall_at_10"] <= 1.0
    assert not (root / "index").exists()   # nothing written outside the map's folder
    lo, hi = manifest["colour_domain"]
    m = pd.read_parquet(root / "items.parquet")["clipscore"].to_numpy()
    assert (lo, hi) == pytest.approx(tuple(np.percentile(m, [1, 99])))


def test_ivf_index_searches_with_the_chosen_nprobe_in_the_build_and_the_server(built):
    # index_exact_max=500 < 1200 items: an IVF index, whose breadth the build must choose
    root, path = built
    entry = json.loads((path / "manifest.json").read_text())["indexes"]["image_a"]
    assert entry["kind"] == "IndexIVFFlat" and entry["settings"]["target_recall"] == 0.95
    index = faiss.read_index(str(path / entry["file"]))
    nlist = faiss.extract_index_ivf(index).nlist
    assert isinstance(entry["nprobe"], int) and 1 <= entry["nprobe"] <= nlist
    assert entry["recall_at_10"] >= 0.95

    from dkmap.server.app import create_app

    client = create_app({"DATA_DIR": str(root.parent)}).test_client()
    emb = np.load(root / "embeddings" / "image_a.npy").astype(np.float32)
    ids = pd.read_parquet(root / "items.parquet")["id"].tolist()
    rows = np.random.default_rng(7).choice(len(emb), size=150, replace=False)
    sims = emb[rows] @ emb.T
    sims[np.arange(len(rows)), rows] = -np.inf            # an item is not its own neighbour
    truth = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    served = []
    for row in rows:
        reply = client.get(f"/api/datasets/synth/items/{ids[row]}/similar?k=10")
        assert reply.status_code == 200, reply.get_json()
        served.append([n["row"] for n in reply.get_json()["neighbours"]])
    assert similarity.recall(truth, np.array(served)) >= 0.95
    # the breadth matters on this data: one list alone misses many true neighbours
    faiss.extract_index_ivf(index).nprobe = 1
    _, one_list = index.search(emb[rows], 11)
    assert similarity.recall(truth, similarity.without_self(one_list, rows, 10)) < 0.9


def test_kernel_rescaled_consistently_with_the_projection(built):
    # m̂ from the train items in the unit square with α' must equal FittedMap.predict in raw coordinates
    root, path = built
    manifest = json.loads((path / "manifest.json").read_text())
    fitted = FittedMap.load(path / "projector.pt", device="cpu")
    raw = fitted.train_positions.astype(np.float64)
    c, shift = manifest["normalisation"]["scale"], np.array(manifest["normalisation"]["shift"])
    queries_raw = raw[:50] + 0.1
    kernel = Kernel.from_fitted(manifest["kernel"])
    # The manifest's α is for all items as centres; the fitted map's for its training items.
    n_fit, n_items = manifest["training"]["n_fit"], manifest["n_items"]
    assert fitted.training["n_select"] > 0 and n_items > n_fit
    assert kernel.alpha == pytest.approx(density_scaled_alpha(
        fitted.kernel["alpha"] / c ** (2 * kernel.beta), kernel.beta, n_fit, n_items), rel=1e-12)
    kernel = kernel.with_alpha(kernel.alpha / (n_items / n_fit) ** (kernel.beta / 3.0))
    ours = kernel.evaluate(queries_raw * c + shift, raw * c + shift, fitted.train_values, "cpu")
    np.testing.assert_allclose(ours, fitted.predict(queries_raw), rtol=1e-6, atol=1e-6)
    assert normalise_positions(raw, 0.1)[0].max() <= 0.9 + 1e-12


def test_tiles_from_the_loader_match_direct_evaluation(built):
    root, path = built
    bm = open_built(root, "clipscore")
    manifest = bm.manifest.data
    pos = np.load(path / "positions.npy").astype(np.float64)
    values = np.load(path / "values.npy")
    tol = 1e-3 * (values.max() - values.min())
    for z, x, y in [(0, 0, 0), (1, 1, 0), (3, 4, 3)]:
        tile = bm.tile(z, x, y)
        assert tile.shape == (16, 16) and tile.dtype == np.float32
        if bm.tiles.leaf_ancestor(z, x, y) is not None:
            continue
        exact = bm.kernel.with_alpha(bm.alpha(z)).evaluate(cell_centres(z, 16, x, y), pos, values,
                                                           "cpu").reshape(16, 16)
        ok = ~np.isnan(tile)
        assert ok.any() and np.abs(tile[ok] - exact[ok]).max() <= tol
    with pytest.raises(ValueError, match="outside"):
        bm.tile(1, 2, 0)
    for lv in manifest["levels"]:
        assert lv["mse_val"] <= manifest["refinement"]["mse_val0"] + manifest["refinement"]["epsilon"] + 1e-12


def test_same_inputs_reuse_and_changed_setting_rebuilds(built):
    root, path = built
    before = json.loads((path / "manifest.json").read_text())["created"]
    stamp = (path / "manifest.json").stat().st_mtime_ns
    assert build_map(root, "clipscore", SETTINGS, progress=False) == path
    assert (path / "manifest.json").stat().st_mtime_ns == stamp
    changed = dict(SETTINGS, mask_radius=0.05)
    build_map(root, "clipscore", changed, progress=False)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["settings"]["mask_radius"] == 0.05 and manifest["created"] >= before
    build_map(root, "clipscore", SETTINGS, progress=False)   # back, for the other tests


def test_failed_or_killed_build_leaves_the_previous_map_intact(built):
    root, path = built
    manifest = (path / "manifest.json").read_text()
    with pytest.raises(ValueError):   # fails inside the build, after the temporary folder exists
        build_map(root, "clipscore", dict(SETTINGS, projection={"lr": -1.0}), progress=False)
    assert (path / "manifest.json").read_text() == manifest
    assert not list(path.parent.glob(".clipscore.tmp-*"))
    # a real interruption: kill a rebuild while it writes its temporary folder
    code = ("import sys; from dkmap.builder import build_map; "
            f"build_map(sys.argv[1], 'clipscore', {dict(SETTINGS, epochs=200)!r}, progress=False, force=True)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(root)])
    deadline = time.time() + 60
    while time.time() < deadline and not list(path.parent.glob(".clipscore.tmp-*")):
        time.sleep(0.05)
    assert list(path.parent.glob(".clipscore.tmp-*")), "the build never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (path / "manifest.json").read_text() == manifest
    open_built(root, "clipscore")                      # the previous build still loads and verifies
    build_map(root, "clipscore", SETTINGS, progress=False)
    assert not list(path.parent.glob(".clipscore.tmp-*"))   # leftovers cleaned by the next build


def _copy_map(built, tmp_path):
    import shutil
    root, _ = built
    dst = tmp_path / "copy"
    shutil.copytree(root / "maps", dst / "maps")
    return dst


def test_corrupted_artifacts_are_detected(built, tmp_path):
    root = _copy_map(built, tmp_path)
    level = root / "maps" / "clipscore" / "levels" / "level_1.npy"
    data = bytearray(level.read_bytes())
    data[-5] ^= 0xFF
    level.write_bytes(bytes(data))
    with pytest.raises(MapError, match="level_1.npy: checksum"):
        open_built(root, "clipscore")
    (root / "maps" / "clipscore" / "positions.npy").write_bytes(b"short")
    with pytest.raises(MapError, match="positions.npy: 5 bytes"):
        open_built(root, "clipscore", verify=False)


def test_mismatched_artifacts_are_detected(built, tmp_path):
    root = _copy_map(built, tmp_path)
    folder = root / "maps" / "clipscore"
    manifest = json.loads((folder / "manifest.json").read_text())
    # a sampling file from another build (wrong length) with a manifest updated to match its bytes
    np.save(folder / "sampling_random.npy", np.zeros(7, dtype=np.uint8))
    from dkmap.atomic import sha256_file
    manifest["files"]["sampling_random.npy"] = {"sha256": sha256_file(folder / "sampling_random.npy"),
                                                "bytes": (folder / "sampling_random.npy").stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MapError, match=r"sampling_random.npy: shape \(7,\)"):
        open_built(root, "clipscore")
    with pytest.raises(MapError, match="no built map for metric 'hps'"):
        open_built(root, "hps")
    manifest["metric"] = "other"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MapError, match="not 'clipscore'"):
        open_built(root, "clipscore")


def test_bad_build_arguments(built):
    root, _ = built
    with pytest.raises(ValueError, match="metric 'nope'"):
        build_map(root, "nope", SETTINGS, progress=False)
    with pytest.raises(ValueError, match="unknown build settings"):
        build_map(root, "clipscore", {"tile": 3}, progress=False)
    with pytest.raises(ValueError, match="tile_size"):
        BuildSettings(tile_size=100)


def test_too_few_train_items_are_named_and_nothing_is_written(tmp_path):
    root = write_synthetic(tmp_path / "small", n=36)   # ~29 train items
    n_train = int((pd.read_parquet(root / "items.parquet")["split"] == "train").sum())
    assert n_train < 32
    with pytest.raises(ValueError, match=rf"train split has {n_train} items \(of 36\); a map needs at least 32"):
        build_map(root, "clipscore", SETTINGS, progress=False)
    assert not (root / "maps" / "clipscore").exists()


def _full_disk(index, name):
    """faiss.write_index on a full disk: part of the file written, then ENOSPC."""
    Path(name).write_bytes(b"partial index")
    raise OSError(errno.ENOSPC, "No space left on device", name)


def test_full_disk_in_the_index_stage_leaves_the_previous_map_and_no_temporary(built, monkeypatch):
    import faiss

    root, path = built
    manifest = (path / "manifest.json").read_text()
    monkeypatch.setattr(faiss, "write_index", _full_disk)
    with pytest.raises(OSError, match="No space left"):
        build_map(root, "clipscore", SETTINGS, progress=False, force=True)
    assert (path / "manifest.json").read_text() == manifest
    assert [p.name for p in root.rglob("*") if ".tmp-" in p.name or ".old-" in p.name] == []
    monkeypatch.undo()
    open_built(root, "clipscore")                      # the previous map, its index included, verifies
    # a map whose index file went missing is not up to date: the next build writes it again
    (path / "index" / "image_a.faiss").unlink()
    build_map(root, "clipscore", SETTINGS, progress=False)
    assert json.loads((path / "manifest.json").read_text())["created"] >= json.loads(manifest)["created"]
    assert open_built(root, "clipscore").image_index_path("image_a").is_file()


def test_first_build_failing_on_a_full_disk_builds_its_index_once_space_is_freed(tmp_path, monkeypatch):
    import faiss

    from dkmap import similarity

    root = write_synthetic(tmp_path / "fresh", n=400)
    monkeypatch.setattr(faiss, "write_index", _full_disk)
    with pytest.raises(OSError, match="No space left"):
        build_map(root, "clipscore", SETTINGS, progress=False)
    assert not (root / "maps" / "clipscore").exists()
    assert [p.name for p in root.rglob("*") if ".tmp-" in p.name] == []
    monkeypatch.undo()
    path = build_map(root, "clipscore", SETTINGS, progress=False)
    index = similarity.load(open_built(root, "clipscore").image_index_path("image_a"))
    assert index.ntotal == 400 and path == root / "maps" / "clipscore"


def test_an_unknown_engine_names_the_valid_ones(built):
    root, _ = built
    with pytest.raises(ValueError, match=r"unknown engine 'spark'; choose one of \['local', 'dask'\]"):
        build_map(root, "clipscore", SETTINGS, engine="spark", progress=False)
