"""Ingest of Parquet/Arrow tables with image bytes, batch by batch: the pieces read_table hands on,
the image bytes staged to disk as they are read (never all in memory), rows named across batches in
errors, and no staging folder left behind, whether the ingest succeeds or fails."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import dkmap.data.tables as tables
from dkmap.data.ingest import IngestOptions, ingest
from dkmap.data.store import DatasetError, open_dataset
from dkmap.data.tables import read_table
from helpers.preference import png

STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(tables, "BATCH_ROWS", 4)


def image_table(n: int, images: list[bytes], struct: bool = True) -> pa.Table:
    cells = pa.array([{"bytes": b, "path": None} for b in images], type=STRUCT) if struct else pa.array(images, pa.binary())
    return pa.table({"id": [f"r{i:03d}" for i in range(n)], "prompt": [f"prompt {i}" for i in range(n)],
                     "image": cells, "score": np.linspace(0, 1, n)})


def embeddings(n: int, d: int = 8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, d)).astype(np.float32)


def leftovers(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_read_table_hands_on_pieces_of_parquet_and_arrow_files_in_row_order(tmp_path, small_batches):
    images = [png((i, 2 * i, 3 * i), i) for i in range(22)]
    table = image_table(22, images)
    pq.write_table(table.slice(0, 10), tmp_path / "a.parquet", row_group_size=6)
    with pa.OSFile(str(tmp_path / "b.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table.slice(10, 7), max_chunksize=5)
    with pa.OSFile(str(tmp_path / "c.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.slice(17))
    seen = []

    def hook(piece, first_row):
        seen.append((first_row, len(piece)))
        return piece

    files = [tmp_path / "a.parquet", tmp_path / "b.arrow", tmp_path / "c.arrow"]
    frame = read_table(files, on_batch=hook)
    sizes = [n for _, n in seen]
    assert max(sizes) == 4 and sum(sizes) == 22 and len(sizes) >= 7
    assert [first for first, _ in seen] == list(np.cumsum([0] + sizes)[:-1])
    pd.testing.assert_frame_equal(frame, table.to_pandas())


def test_image_bytes_are_staged_as_read_and_the_dataset_matches(tmp_path, small_batches, monkeypatch):
    images = [png((10 * i, 50, 90), i) for i in range(13)]
    pq.write_table(image_table(13, images), tmp_path / "items.parquet", row_group_size=5)
    text, image = embeddings(13)
    staged_frames = []
    original = tables.read_table

    def spying_read_table(source, on_batch=None, progress=False):
        frame = original(source, on_batch=on_batch, progress=progress)
        staged_frames.append(frame)
        return frame

    monkeypatch.setattr("dkmap.data.ingest.read_table", spying_read_table)
    ds = ingest(IngestOptions(table=tmp_path / "items.parquet", images=None, out=tmp_path / "data" / "ds",
                              text_emb=text, image_emb=image, metrics=["score:u:lower"], progress=False))
    assert list(staged_frames[0]["image"]) == [f"main/r{i:03d}.png" for i in range(13)], \
        "the table ingest keeps holds image names, not bytes"
    assert [ds.image_path(r, "main").read_bytes() for r in range(ds.n)] == images
    assert open_dataset(ds.root, verify_checksums=True).n == 13
    assert leftovers(tmp_path / "data") == []


def test_rows_are_named_across_batches_and_nothing_is_left_on_error(tmp_path, small_batches):
    images = [png((5, 5, 5 * i), i) for i in range(11)]
    images[9] = b"\x89PNG not really"
    pq.write_table(image_table(6, images[:6]), tmp_path / "p0.parquet")
    pq.write_table(image_table(5, images[6:]).set_column(0, "id", pa.array([f"s{i}" for i in range(5)])),
                   tmp_path / "p1.parquet")
    text, image = embeddings(11)
    out = tmp_path / "data" / "ds"
    with pytest.raises(DatasetError, match=r"1 image files cannot be read as images: row 9 \(bytes\)$"):
        ingest(IngestOptions(table=str(tmp_path / "p*.parquet"), images=None, out=out, text_emb=text,
                             image_emb=image, metrics=["score"], progress=False))
    assert not out.exists() and leftovers(tmp_path / "data") == []
    bad = image_table(6, images[:6]).to_pandas()
    bad.loc[5, "image"] = None
    bad.to_parquet(tmp_path / "holes.parquet")
    with pytest.raises(DatasetError, match="column 'image' at row 5 is NoneType"):
        ingest(IngestOptions(table=tmp_path / "holes.parquet", images=None, out=out, text_emb=text[:6],
                             image_emb=image[:6], metrics=["score"], progress=False))
    assert not out.exists() and leftovers(tmp_path / "data") == []


def test_a_bad_generator_name_is_refused_before_any_image_is_written_under_it(tmp_path):
    frame = image_table(2, [png((1, 2, 3), 0)] * 2).to_pandas().assign(generator=["../up", "../up"])
    text, image = embeddings(2)
    with pytest.raises(DatasetError, match=r"generator name '\.\./up' must be letters"):
        ingest(IngestOptions(table=frame, images=None, out=tmp_path / "data" / "ds", text_emb=text,
                             image_emb=image, metrics=["score"], progress=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"] and leftovers(tmp_path / "data") == []


def noise_png(seed: int, side: int = 320) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def test_memory_held_while_ingesting_is_far_below_the_image_bytes(tmp_path, small_batches):
    """Python-side allocations (tracemalloc) peak at a few batches' worth of images, not the table's."""
    n = 48
    images = [noise_png(i) for i in range(n)]
    total = sum(map(len, images))
    assert total > 12_000_000
    pq.write_table(image_table(n, images, struct=False), tmp_path / "big.parquet", row_group_size=8)
    text, image = embeddings(n)
    opts = IngestOptions(table=tmp_path / "big.parquet", images=None, out=tmp_path / "data" / "ds", text_emb=text,
                         image_emb=image, metrics=["score"], progress=False)
    from dkmap.data.encoders import load_minilm

    load_minilm()   # the model's own first load is not the ingest's
    tracemalloc.start()
    try:
        ds = ingest(opts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [ds.image_path(r, "main").read_bytes() for r in (0, n - 1)] == [images[0], images[-1]]
    assert peak < total / 3, f"peak {peak} bytes traced while ingesting {total} bytes of images"
