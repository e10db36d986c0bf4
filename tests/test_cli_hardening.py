"""Careless input to the command line (issue 17, findings 7 and 9): ids no URL can address are
refused at ingest while any other id works end to end; a full disk, a decompression bomb and an
empty table are one-line errors that leave stored data untouched."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.api_server import start_server
from helpers.tiny import DATASET
from dkmap.cli import main
from helpers.rawdata import make_raw


def ingest_args(raw: dict, out: Path, table: Path | None = None) -> list[str]:
    return ["-q", "ingest", "--table", str(table or raw["table"]), "--images", str(raw["images"]),
            "--out", str(out), "--text-emb", str(raw["text_path"]), "--image-emb", str(raw["image_path"])]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("dkmap: error: ")
    return err


def with_ids(raw: dict, ids: list[str]) -> Path:
    frame = raw["frame"].copy()
    frame["id"] = ids
    path = raw["table"].with_name("renamed.parquet")
    frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("bad_id", ["a/b", "../etc", "..", ".", "x/..", "/abs", "   "])
def test_ids_no_url_can_address_are_refused_at_ingest(tmp_path, capsys, bad_id):
    raw = make_raw(tmp_path)
    ids = [f"p{i}" for i in range(6)]
    ids[3] = bad_id
    out = tmp_path / "out"
    assert main(ingest_args(raw, out, with_ids(raw, ids))) == 1
    err = one_line_error(capsys)
    assert f"id {bad_id!r} at row 3 cannot be used in a URL" in err and "must not contain '/'" in err
    assert not out.exists()


ODD_IDS = ["a b", "ümlaut?#frag", "a..b", "x&y=1", "100%", "semi;colon", "plus+sign", "tab\there"]


def test_any_other_id_works_end_to_end(tmp_path, capsys):
    """Ingested with odd ids, each item, its image and its neighbours are reachable over HTTP."""
    raw = make_raw(tmp_path, n=48)   # a map (and its similar-images index) needs >= 32 train items
    data = tmp_path / "data"
    ids = ODD_IDS[:6] + [f"p{i}" for i in range(6, 48)]
    assert main(ingest_args(raw, data / "odd", with_ids(raw, ids))) == 0, capsys.readouterr().err
    assert main(["-q", "build", str(data / "odd"), "--metric", "clipscore", "--epochs", "1"]) == 0, capsys.readouterr().err
    running, handle = start_server(data)
    try:
        for item_id in ODD_IDS[:6]:
            r = running.get(f"/api/datasets/odd/items/{quote(item_id, safe='')}")
            assert r.status_code == 200, (item_id, r.text)
            body = r.json()
            assert body["id"] == item_id
            image = running.get(body["images"]["main"])
            assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
            similar = running.get(f"/api/datasets/odd/items/{quote(item_id, safe='')}/similar?k=3")
            assert similar.status_code == 200, (item_id, similar.text)
            neighbours = similar.json()["neighbours"]
            assert len(neighbours) == 3
            for n in neighbours:
                assert n["id"] in ids and n["id"] != item_id and running.get(n["image"]).status_code == 200
    finally:
        handle.close()


def test_an_empty_table_is_one_line(tmp_path, capsys):
    raw = make_raw(tmp_path)
    empty = tmp_path / "empty.csv"
    pd.DataFrame(columns=["id", "prompt", "image"]).to_csv(empty, index=False)
    np.save(tmp_path / "none.npy", np.zeros((0, 8), np.float32))
    args = ["-q", "ingest", "--table", str(empty), "--images", str(raw["images"]), "--out", str(tmp_path / "o"),
            "--text-emb", str(tmp_path / "none.npy"), "--image-emb", str(tmp_path / "none.npy")]
    assert main(args) == 1
    assert f"table {empty}: no rows" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_a_decompression_bomb_is_refused_plainly(tmp_path, capsys):
    raw = make_raw(tmp_path)
    # 20000 × 20000 one-bit pixels: a 48 kB file that decodes to 400 M pixels.
    Image.new("1", (20000, 20000)).save(raw["images"] / "a" / "img_2.png", optimize=True)
    assert (raw["images"] / "a" / "img_2.png").stat().st_size < 200_000
    assert main(ingest_args(raw, tmp_path / "out")) == 1
    err = one_line_error(capsys)
    assert "image file a/img_2.png" in err and "decompression bomb" in err
    assert f"Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels" in err and "400000000 pixels" in err
    assert not (tmp_path / "out").exists()


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _arrow_disk_full(*args, **kwargs):
    raise OSError("error writing to file: No space left on device")   # as pyarrow says it: no errno


@pytest.mark.parametrize("writer", ["numpy", "parquet"])
def test_disk_full_during_ingest_is_one_line_and_keeps_the_old_dataset(tmp_path, capsys, monkeypatch, writer):
    """A simulation: numpy's or the parquet writer raises as a full disk would (no real disk is filled)."""
    raw = make_raw(tmp_path)
    out = tmp_path / "data" / "mine"
    assert main(ingest_args(raw, out)) == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    capsys.readouterr()
    if writer == "numpy":
        monkeypatch.setattr(np, "save", _disk_full)
    else:
        monkeypatch.setattr(pd.DataFrame, "to_parquet", _arrow_disk_full)
    assert main(ingest_args(raw, out) + ["--description", "second try"]) == 1
    err = one_line_error(capsys)
    assert "no space left on " in err and "mounted at " in err and str(out) in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p.name for p in out.parent.iterdir()] == ["mine"]     # no temporary folder left behind


@pytest.mark.parametrize("writer", ["numpy arrays", "torch projector"])
def test_disk_full_during_build_is_one_line_and_keeps_the_old_map(tmp_path, capsys, monkeypatch, writer,
                                                                 tiny_data_dir):
    """A simulation: the writer of the map's arrays (numpy) or of its projector file raises ENOSPC."""
    root = tmp_path / DATASET
    shutil.copytree(tiny_data_dir / DATASET, root)
    manifest = (root / "maps" / "clip_a" / "manifest.json").read_bytes()
    capsys.readouterr()
    if writer == "numpy arrays":
        monkeypatch.setattr(np, "save", _disk_full)
    else:
        write_bytes = Path.write_bytes
        monkeypatch.setattr(Path, "write_bytes", lambda self, data: _disk_full() if self.name == "projector.pt.tmp"
                            else write_bytes(self, data))
    assert main(["-q", "build", str(root), "--metric", "clip_a", "--epochs", "1", "--force"]) == 1
    err = one_line_error(capsys)
    assert "no space left on " in err and "mounted at " in err
    assert (root / "maps" / "clip_a" / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in (root / "maps").iterdir()) == ["clip_a", "diff_ab"]
