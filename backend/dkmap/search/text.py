"""Full-text search over a dataset's prompts: an SQLite FTS5 index stored in DATASET/search/.

The one module that reads and writes `DATASET/search/text.sqlite`. The index is contentless (it
holds the tokens, not the prompts; rowid = item row) and records the fingerprint of the items table
it was built from, so an index left by an earlier ingest is detected and rebuilt. It is written to a
temporary file and renamed into place, so a reader never sees half an index.

Queries: the words of the query (letters and digits, as FTS5's unicode61 tokenizer splits them,
case and diacritics folded), each matched as a prefix of a prompt's word, all required. Results
are ranked by BM25 (best first, ties by row); `score` is −bm25, so larger is better.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from dkmap.atomic import sha256_file

log = logging.getLogger(__name__)

FOLDER = "search"
FILE = "text.sqlite"
FORMAT = 1
MAX_QUERY_TERMS = 16
_INSERT_CHUNK = 50_000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def index_path(dataset_dir: str | os.PathLike) -> Path:
    """DATASET/search/text.sqlite."""
    return Path(dataset_dir) / FOLDER / FILE


def fingerprint(dataset_dir: str | os.PathLike, meta: dict) -> str:
    """What the index depends on: the items table's checksum recorded at ingest (a sharded dataset's
    dataset.yaml lists every shard's, so its own checksum stands for all)."""
    root = Path(dataset_dir)
    if meta.get("layout") == "sharded":
        return "dataset.yaml:" + sha256_file(root / "dataset.yaml")
    recorded = meta.get("checksums", {}).get("items.parquet")
    return "items.parquet:" + (recorded or sha256_file(root / "items.parquet"))


def query_terms(query: str) -> list[str]:
    """The words of `query` as the index tokenises them (lower case, diacritics removed)."""
    folded = unicodedata.normalize("NFKD", str(query).lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(folded)


class QueryError(ValueError):
    """A query that cannot be searched (no words, too many); the message says why."""


@dataclass(frozen=True)
class TextHits:
    """One page of matches: the total count, and the page's rows (int64) and scores (float64)."""

    count: int
    rows: np.ndarray
    scores: np.ndarray


class TextIndex:
    """An opened FTS5 index; one SQLite connection per thread, read-only."""

    def __init__(self, path: Path, fingerprint: str, n_items: int):
        self.path, self.fingerprint, self.n_items = path, fingerprint, n_items
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def search(self, query: str, limit: int = 20, offset: int = 0) -> TextHits:
        """Every prompt holding a word starting with each query word: their count and the page
        [offset, offset + limit) of rows ranked by BM25."""
        match = match_expression(query)
        conn = self._connection()
        count = conn.execute("SELECT count(*) FROM prompts WHERE prompts MATCH ?", (match,)).fetchone()[0]
        page = conn.execute(
            "SELECT rowid, bm25(prompts) AS rank FROM prompts WHERE prompts MATCH ? "
            "ORDER BY rank, rowid LIMIT ? OFFSET ?", (match, int(limit), int(offset))).fetchall()
        rows = np.array([r for r, _ in page], dtype=np.int64)
        scores = np.array([-s for _, s in page], dtype=np.float64)
        return TextHits(int(count), rows, scores)


def match_expression(query: str) -> str:
    """The FTS5 MATCH text for `query`: each word quoted (so nothing is an operator) as a prefix."""
    terms = query_terms(query)
    if not terms:
        raise QueryError("the query has no words to search for (letters or digits)")
    if len(terms) > MAX_QUERY_TERMS:
        raise QueryError(f"the query has {len(terms)} words; at most {MAX_QUERY_TERMS} are searched")
    return " AND ".join(f'"{t}"*' for t in terms)


def build_index(path: Path, prompts: Iterable[str], fingerprint: str) -> None:
    """Write the index of `prompts` (row i = prompt i) to `path`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("CREATE VIRTUAL TABLE prompts USING fts5(prompt, content='', prefix='2 3', "
                         "tokenize='unicode61 remove_diacritics 2')")
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            n = 0
            batch: list[tuple[int, str]] = []
            for row, prompt in enumerate(prompts):
                batch.append((row, str(prompt)))
                if len(batch) == _INSERT_CHUNK:
                    conn.executemany("INSERT INTO prompts(rowid, prompt) VALUES (?, ?)", batch)
                    batch = []
                n = row + 1
            conn.executemany("INSERT INTO prompts(rowid, prompt) VALUES (?, ?)", batch)
            conn.execute("INSERT INTO prompts(prompts) VALUES ('optimize')")
            conn.executemany("INSERT INTO meta VALUES (?, ?)",
                             [("format", str(FORMAT)), ("fingerprint", fingerprint), ("n_items", str(n))])
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("text index of %d prompts written to %s", n, path)


def read_stamp(path: Path) -> tuple[str | None, int]:
    """(fingerprint, n_items) recorded in the index at `path`; (None, 0) when missing or unreadable."""
    if not path.is_file():
        return None, 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("text index %s unreadable (%s): rebuilding", path, exc)
        return None, 0
    if meta.get("format") != str(FORMAT):
        return None, 0
    return meta.get("fingerprint"), int(meta.get("n_items", 0))


_build_lock = threading.Lock()


def open_index(dataset_dir: str | os.PathLike, meta: dict, prompts: Iterable[str] | None = None,
               path: Path | None = None) -> TextIndex:
    """The dataset's text index, built first when it is missing or was built from other items.
    `prompts` default to the dataset's own (read only when a build is needed); `path` overrides the
    file (for a dataset folder that cannot be written)."""
    root = Path(dataset_dir)
    path = path or index_path(root)
    want = fingerprint(root, meta)
    with _build_lock:
        have, n = read_stamp(path)
        if have != want:
            if have is not None:
                log.info("text index %s was built from other items: rebuilding", path)
            if prompts is None:
                from dkmap.data.store import open_dataset

                prompts = open_dataset(root).items["prompt"]   # a column, not a second list of 20M strings
            if not hasattr(prompts, "__len__"):
                prompts = list(prompts)
            build_index(path, prompts, want)
            n = len(prompts)
    return TextIndex(path, want, n)
