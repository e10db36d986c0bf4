"""`dkmap ingest --out` replaces only a DKMap dataset, says what re-ingest replaces and keeps builds
whose inputs are unchanged (issue 17, finding 1); two commands never write one map or dataset at
once, the second refuses naming the first (finding 10). Real files, real builds, real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.tiny import DATASET
from helpers.tiny import tiny_build_settings as small_build_settings
from dkmap.cli import main
from dkmap.locks import dataset_lock_path, ingesting, map_lock_path
from dkmap.builder import build_map
from helpers.rawdata import make_raw


def ingest_args(raw: dict, out: Path, *extra: str, image_emb: Path | None = None) -> list[str]:
    return ["-q", "ingest", "--table", str(raw["table"]), "--images", str(raw["images"]), "--out", str(out),
            "--text-emb", str(raw["text_path"]), "--image-emb", str(image_emb or raw["image_path"]), *extra]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# ---- finding 1: what --out may replace ---------------------------------------------------------------

def _notes(tmp: Path, raw: dict) -> Path:
    folder = tmp / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("do not lose me")
    return folder


def _inputs(tmp: Path, raw: dict) -> Path:
    return tmp                                   # the folder holding the table and the images


def _datasets_root(tmp: Path, raw: dict) -> Path:
    root = tmp / "datasets"
    assert main(ingest_args(raw, root / "first")) == 0
    return root                                  # the name of the dataset forgotten


def _bogus_yaml(tmp: Path, raw: dict) -> Path:
    folder = tmp / "bogus"
    folder.mkdir()
    (folder / "dataset.yaml").write_text("just: some yaml\n")
    (folder / "data.csv").write_text("1,2,3\n")
    return folder


@pytest.mark.parametrize("make, needle", [
    (_notes, "no dataset.yaml"), (_inputs, "no dataset.yaml"),
    (_datasets_root, "it holds the dataset folders first: did you mean --out"),
    (_bogus_yaml, "its dataset.yaml is not one"),
])
def test_ingest_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path, capsys, make, needle):
    raw = make_raw(tmp_path)
    out = make(tmp_path, raw)
    before = snapshot(out)
    capsys.readouterr()
    assert main(ingest_args(raw, out)) == 1
    err = one_line_error(capsys)
    assert f"--out {out.resolve()}: this folder is not a DKMap dataset" in err and needle in err
    assert snapshot(out) == before
    assert not dataset_lock_path(out).exists()     # a refused folder gets no lock file beside it


def test_ingest_refuses_a_file(tmp_path, capsys):
    raw = make_raw(tmp_path)
    target = tmp_path / "a-file"
    target.write_text("precious")
    assert main(ingest_args(raw, target)) == 1
    assert "is a file, not a dataset folder" in one_line_error(capsys)
    assert target.read_text() == "precious"


def test_ingest_fills_an_empty_folder(tmp_path):
    raw = make_raw(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(ingest_args(raw, tmp_path / "empty")) == 0
    assert (tmp_path / "empty" / "dataset.yaml").is_file()


# ---- finding 1: re-ingest keeps what did not change, and says what goes ------------------------------

@pytest.fixture
def built(tmp_path):
    """An ingested dataset of 60 items with its clipscore map and Faiss index built."""
    raw = make_raw(tmp_path, n=60)
    out = tmp_path / "data" / "mine"
    assert main(ingest_args(raw, out)) == 0
    build_map(out, "clipscore", settings=small_build_settings(), progress=False)
    assert (out / "maps" / "clipscore" / "manifest.json").is_file()
    assert (out / "maps" / "clipscore" / "index" / "image_main.faiss").is_file()
    return raw, out


def test_reingest_with_unchanged_inputs_keeps_maps_and_their_indexes(built, capsys):
    raw, out = built
    (out / "notes.txt").write_text("mine")
    maps_before = snapshot(out / "maps" / "clipscore")
    assert "index/image_main.faiss" in maps_before
    capsys.readouterr()
    assert main(ingest_args(raw, out, "--description", "same inputs, new words")) == 0
    err = capsys.readouterr().err
    assert f"replacing dataset 'mine' at {out}" in err
    assert "keeping maps clipscore (their inputs are unchanged)" in err
    assert "notes.txt (not part of a dataset)" in err and "rebuild" not in err
    assert snapshot(out / "maps" / "clipscore") == maps_before
    assert not (out / "notes.txt").exists()
    # the kept map is the up-to-date build: building again reuses it
    build_map(out, "clipscore", settings=small_build_settings(), progress=True)
    assert "up to date, reused" in capsys.readouterr().err
    assert snapshot(out / "maps" / "clipscore") == maps_before


def test_reingest_with_changed_inputs_says_what_it_removes_first(built, capsys, tmp_path):
    raw, out = built
    changed = tmp_path / "image2.npy"
    np.save(changed, np.random.default_rng(5).normal(size=(60, 8)).astype(np.float32))
    capsys.readouterr()
    assert main(ingest_args(raw, out, image_emb=changed)) == 0
    err = capsys.readouterr().err
    message = next(line for line in err.splitlines() if "replacing dataset" in line)
    assert "removing map clipscore (its inputs changed)" in message
    assert f"rebuild with: dkmap build {out} --metric clipscore" in message
    assert not (out / "maps").exists() and not (out / "index").exists()


def test_the_message_comes_before_anything_is_deleted(built, capsys, monkeypatch):
    """If the replacement itself fails after the message, the old dataset and its builds are intact."""
    import dkmap.atomic

    raw, out = built
    before = snapshot(out)

    def refuse(new, target):
        raise OSError(13, "Permission denied", str(target))

    monkeypatch.setattr(dkmap.atomic, "replace_dir", refuse)
    capsys.readouterr()
    assert main(ingest_args(raw, out)) == 1
    err = capsys.readouterr().err
    assert "replacing dataset 'mine'" in err and "Permission denied" in err
    assert snapshot(out) == before


# ---- finding 10: one writer per map and per dataset ------------------------------------------------

SLOW_BUILD = """
import os, sys, time
import dkmap.builder.projection as p
from dkmap.builder import build_map
from helpers.tiny import tiny_build_settings as small_build_settings
fit = p.fit_projection
def slow_fit(*a, **k):
    # test shim: hold the build in its fit stage until the test lets it go (at most two minutes)
    deadline = time.time() + 120
    while not os.path.exists(sys.argv[2]) and time.time() < deadline:
        time.sleep(0.05)
    return fit(*a, **k)
p.fit_projection = slow_fit
build_map(sys.argv[1], "clip_a", settings=small_build_settings(), progress=False, force=True)
"""


def _wait_for_lock(path: Path, pid: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.is_file() and f"pid {pid} " in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never named pid {pid}")


def test_a_second_build_of_the_same_map_refuses_naming_the_first(tmp_path, capsys, tiny_data_dir):
    root = tmp_path / DATASET
    shutil.copytree(tiny_data_dir / DATASET, root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    go = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(root), str(go)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lock(map_lock_path(root, "clip_a"), first.pid, first)
        capsys.readouterr()
        assert main(["-q", "build", str(root), "--metric", "clip_a", "--epochs", "1", "--force"]) == 1
        err = one_line_error(capsys)
        assert f"map {DATASET}/clip_a is in use by pid {first.pid} on " in err and "wait for it to finish" in err
        # a build of another metric of the dataset may run meanwhile (the dataset lock is shared) ...
        assert main(["-q", "build", str(root), "--metric", "diff_ab", "--epochs", "1"]) == 0
        # ... but no re-ingest of the dataset while a build runs
        raw = make_raw(tmp_path / "raw")
        assert main(ingest_args(raw, root)) == 1
        err = one_line_error(capsys)
        assert "is in use by a running build (map clip_a: pid" in err and str(first.pid) in err
        assert first.poll() is None, "the first build was held until now"
        go.touch()
        assert first.wait(timeout=300) == 0, first.communicate()
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()        # drains and closes both pipes
    # the first build was never disturbed: its map is complete, no temporary folder is left
    assert (root / "maps" / "clip_a" / "manifest.json").is_file()
    assert not [p for p in (root / "maps").iterdir() if ".tmp-" in p.name]
    assert main(["-q", "build", str(root), "--metric", "clip_a", "--epochs", "1", "--force"]) == 0


def test_a_second_ingest_into_one_folder_refuses_naming_the_first(tmp_path, capsys):
    raw = make_raw(tmp_path)
    out = tmp_path / "data" / "mine"
    with ingesting(out):      # as a first ingest would hold it
        assert main(ingest_args(raw, out)) == 1
        err = one_line_error(capsys)
        assert f"dataset folder {out} is in use by pid {os.getpid()} on " in err
        assert not out.exists()
    assert main(ingest_args(raw, out)) == 0


def test_wait_gives_the_first_command_time_to_finish(tmp_path, capsys):
    raw = make_raw(tmp_path)
    out = tmp_path / "data" / "mine"
    first = ingesting(out)
    first.__enter__()                          # a first ingest, which ends three seconds from now
    ends = threading.Timer(3.0, first.__exit__, (None, None, None))
    ends.start()
    try:
        assert main(ingest_args(raw, out, "--wait", "0.3")) == 1
        err = one_line_error(capsys)
        assert f"is in use by pid {os.getpid()} " in err and "(after waiting 0.3 s)" in err
        assert main(ingest_args(raw, out, "--wait", "120")) == 0
        assert ends.finished.is_set() and (out / "dataset.yaml").is_file()
    finally:
        ends.join()
