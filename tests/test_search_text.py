"""dkmap.search.text: FTS5 prefix search equals a brute-force scan; stale indexes are rebuilt."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from dkmap.search import text

PROMPTS = ["a red star on a table", "a blue circle in the sky", "Red stars and a redwood tree",
           "the starfish is blue", "two RED squares", "a café with stars", "nothing here", "blue sky, red sun"]


def brute_force(prompts: list[str], query: str) -> list[int]:
    """Rows whose words include, for every query word, one that starts with it (case folded)."""
    terms = text.query_terms(query)
    words = [text.query_terms(p) for p in prompts]
    return [i for i, ws in enumerate(words) if all(any(w.startswith(t) for w in ws) for t in terms)]


@pytest.fixture
def index(tmp_path):
    path = tmp_path / "search" / "text.sqlite"
    text.build_index(path, PROMPTS, "fp-1")
    return text.TextIndex(path, "fp-1", len(PROMPTS))


@pytest.mark.parametrize("query", ["red", "RED star", "sta", "blue sky", "caf", "cafe", "r s", "tree red", "zebra"])
def test_search_matches_brute_force(index, query):
    hits = index.search(query, limit=100)
    assert hits.count == len(brute_force(PROMPTS, query))
    assert sorted(hits.rows.tolist()) == brute_force(PROMPTS, query)


def test_search_ranks_by_bm25_and_pages(index):
    everything = index.search("red", limit=100)
    assert np.all(np.diff(everything.scores) <= 1e-12)   # best first
    page = index.search("red", limit=2, offset=1)
    assert page.count == everything.count == 4
    assert page.rows.tolist() == everything.rows[1:3].tolist()


@pytest.mark.parametrize("query", ["", "  ,;!  ", " ".join(["w"] * (text.MAX_QUERY_TERMS + 1))])
def test_unsearchable_queries_are_named(index, query):
    with pytest.raises(text.QueryError, match="query"):
        index.search(query)


def test_operators_are_words_not_syntax(index):
    # FTS5 syntax in the query (NOT, quotes, parentheses, column filters) is searched as words
    assert index.search('red NOT "star" (', limit=100).rows.tolist() == brute_force(PROMPTS, "red NOT star")


def _dataset(root, prompts):
    from dkmap.data.store import write_dataset

    n = len(prompts)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 4)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    items = pd.DataFrame({"id": [f"i{i}" for i in range(n)], "prompt": prompts, "split": ["train"] * n,
                          "image_a": [f"a/{i}.png" for i in range(n)], "m": rng.normal(size=n)})
    from helpers.tiny import _png

    write_dataset(root, name="t", description="", items=items,
                  embeddings={"text": emb, "image_a": emb, "minilm": emb},
                  image_sources={f"a/{i}.png": _png((1, 2, 3), i) for i in range(n)}, generators=["a"],
                  metrics={"m": {"description": "", "unit": "", "generators": ["a"], "kind": "score"}})


def test_index_is_stored_in_the_dataset_and_rebuilt_after_reingest(tmp_path):
    from dkmap.data.store import read_meta

    root = tmp_path / "ds"
    _dataset(root, PROMPTS)
    first = text.open_index(root, read_meta(root))
    assert first.path == root / "search" / "text.sqlite"
    assert sorted(first.search("red", 100).rows.tolist()) == brute_force(PROMPTS, "red")
    mtime = first.path.stat().st_mtime_ns
    assert text.open_index(root, read_meta(root)).path.stat().st_mtime_ns == mtime   # reused, not rebuilt

    changed = PROMPTS[::-1] + ["a red zebra"]
    _dataset(root, changed)                      # re-ingest: same folder, other items
    # an index of the old items still in place (as if carried over) is detected by its fingerprint
    text.build_index(text.index_path(root), PROMPTS, first.fingerprint)
    again = text.open_index(root, read_meta(root))
    assert text.read_stamp(again.path) == (text.fingerprint(root, read_meta(root)), len(changed))
    assert sorted(again.search("red", 100).rows.tolist()) == brute_force(changed, "red")
    assert again.search("zebra", 10).rows.tolist() == [len(changed) - 1]


def test_a_damaged_index_is_rebuilt(tmp_path):
    from dkmap.data.store import read_meta

    root = tmp_path / "ds"
    _dataset(root, PROMPTS)
    path = text.index_path(root)
    path.parent.mkdir()
    path.write_bytes(b"not sqlite at all")
    opened = text.open_index(root, read_meta(root))
    assert opened.search("blue", 10).count == len(brute_force(PROMPTS, "blue"))
    with sqlite3.connect(path) as conn:
        assert dict(conn.execute("SELECT key, value FROM meta"))["n_items"] == str(len(PROMPTS))
    assert not [p for p in path.parent.iterdir() if re.match(r"\..*tmp", p.name)]
