"""dkmap.search.semantic: the index stored in DATASET/search/, read back while the `minilm` rows are
the ones it was built from, built again otherwise."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dkmap import similarity
from dkmap.data.store import open_dataset
from dkmap.search import semantic


@pytest.fixture
def ds(tiny_data_dir, tmp_path):
    # Without the search indexes other tests' servers stored in the shared dataset.
    shutil.copytree(tiny_data_dir / "tiny", tmp_path / "tiny", ignore=shutil.ignore_patterns("search"))
    return open_dataset(tmp_path / "tiny")


def _nearest(index, ds, row=7):
    vector = np.asarray(ds.embedding(semantic.SPACE)[row], dtype=np.float32)
    hits = index.search(vector, min_score=-1.0, max_results=10)
    return hits.rows.tolist(), hits.scores.tolist()


def test_the_index_is_stored_and_read_back_without_building(ds, monkeypatch):
    first = semantic.open_semantic_index(ds)
    path, record = semantic.index_paths(ds.root)
    stored = json.loads(record.read_text())
    assert path.is_file() and stored["fingerprint"] == semantic.fingerprint(ds.root, ds.meta)
    assert stored["n"] == ds.n and stored["fingerprint"].startswith("embeddings/minilm.npy:")

    def no_build(*_):
        raise AssertionError("built again although the stored index is current")

    monkeypatch.setattr(semantic, "build_semantic_index", no_build)
    again = semantic.open_semantic_index(ds)
    assert again.n == first.n and _nearest(again, ds) == _nearest(first, ds)
    assert _nearest(again, ds)[1][0] > 0.999        # a row's nearest prompt is itself (or its twin)


def test_an_index_of_other_rows_or_a_damaged_file_is_built_again(ds, monkeypatch):
    semantic.open_semantic_index(ds)
    path, record = semantic.index_paths(ds.root)
    built = []
    real = semantic.build_semantic_index
    monkeypatch.setattr(semantic, "build_semantic_index", lambda emb: built.append(len(emb)) or real(emb))
    record.write_text(json.dumps({**json.loads(record.read_text()), "fingerprint": "embeddings/minilm.npy:other"}))
    semantic.open_semantic_index(ds)
    assert built == [ds.n]
    assert json.loads(record.read_text())["fingerprint"] == semantic.fingerprint(ds.root, ds.meta)
    path.write_bytes(b"not a faiss index")
    index = semantic.open_semantic_index(ds)
    assert built == [ds.n, ds.n] and _nearest(index, ds)[1][0] > 0.999


def test_a_folder_it_cannot_write_keeps_the_index_in_memory(ds, monkeypatch):
    def refuse(*_):
        raise PermissionError("read-only")

    monkeypatch.setattr(similarity, "save", refuse)
    index = semantic.open_semantic_index(ds)
    assert _nearest(index, ds)[1][0] > 0.999 and not semantic.index_paths(ds.root)[1].exists()


def test_dkmap_index_builds_both_search_indexes_ahead_of_the_first_query(ds, capsys, monkeypatch):
    """`dkmap index DATASET` stores the text and semantic indexes where a server finds them, so no
    query pays their build; a second run finds both current and builds nothing."""
    from dkmap.cli import main
    from dkmap.search import text

    assert main(["index", str(ds.root)]) == 0
    out = capsys.readouterr().out
    assert f"text index: {ds.n:,} prompts" in out
    assert f"semantic index: {ds.n:,} prompts, IndexFlatIP, nprobe None, recall@10 1.000" in out
    assert text.index_path(ds.root).is_file() and semantic.index_paths(ds.root)[0].is_file()

    def no_build(*_a, **_k):
        raise AssertionError("built again although the stored index is current")

    monkeypatch.setattr(semantic, "build_semantic_index", no_build)
    monkeypatch.setattr(text, "build_index", no_build)
    assert main(["index", str(ds.root)]) == 0
    rows, scores = _nearest(semantic.open_semantic_index(ds), ds)
    assert 7 in rows and scores[0] == pytest.approx(1.0, abs=1e-5)   # row 7 or a row with its prompt


def test_dkmap_index_names_a_missing_dataset(tmp_path, capsys):
    from dkmap.cli import main

    assert main(["index", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_a_large_built_index_is_served_memory_mapped_from_its_file(ds, monkeypatch):
    """An index that load() would map is read back from the file just stored (the built copy let go);
    a smaller one is kept as built, not read again."""
    loaded = []
    real = similarity.load
    monkeypatch.setattr(similarity, "load", lambda path: loaded.append(path) or real(path))
    small = semantic.open_semantic_index(ds)
    assert loaded == []
    semantic.index_paths(ds.root)[1].unlink()   # forget the record: built again
    monkeypatch.setattr(similarity, "MMAP_MIN_BYTES", 0)
    mapped = semantic.open_semantic_index(ds)
    assert loaded == [semantic.index_paths(ds.root)[0]]
    assert _nearest(mapped, ds) == _nearest(small, ds)
