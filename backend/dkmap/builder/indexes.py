"""The index stage: one Faiss inner-product index per generator's image embedding, written into the
map's build folder (index/image_<gen>.faiss) before it replaces the map, so a failed stage leaves
the previous map whole and an up-to-date map always has its indexes.

An index whose embedding and settings are unchanged is hard-linked from the map's previous build or
from another map of the dataset (files are never written in place, so sharing them is safe) instead
of being built again; `force` builds every one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

import faiss
from tqdm.auto import tqdm

from dkmap import similarity
from dkmap.atomic import sha256_file
from dkmap.config import BuildSettings
from dkmap.data.store import image_space
from dkmap.maps import layout

log = logging.getLogger(__name__)

# build(space) -> (index, nprobe, recall@10): the engine's way of filling an index over `space`, with
# the search breadth it chose (None for an exact index) and the recall measured at that breadth
IndexBuilder = Callable[[str], tuple[faiss.Index, int | None, float]]


def index_settings(settings: BuildSettings) -> dict:
    """The settings an index depends on (part of its reuse key)."""
    return {"exact_max": settings.index_exact_max, "pq": settings.index_pq,
            "target_recall": settings.index_target_recall}


def build_indexes(tmp: Path, root: Path, meta: dict, settings: BuildSettings, build: IndexBuilder,
                  force: bool = False, progress: bool = True) -> dict:
    """tmp/index/image_<gen>.faiss for every generator of the dataset at `root`; returns the
    manifest's `indexes` entries {space: {file, kind, n, d, nprobe, recall_at_10, settings,
    input_sha256, sha256, bytes, seconds}} (nprobe: the lists an IVF index searches, None when exact;
    recall_at_10: measured at that nprobe against exact search on held-out queries)."""
    from dkmap.builder.reuse import embedding_checksum

    (tmp / layout.INDEX).mkdir()
    wanted = index_settings(settings)
    entries = {}
    for gen in tqdm(meta["generators"], desc="faiss", disable=not progress, leave=False):
        space = image_space(gen)
        source = embedding_checksum(root, meta, space)
        path = tmp / layout.index_file(space)
        entry = None if force else _link_unchanged(root, space, source, wanted, path)
        if entry is None:
            started = time.perf_counter()
            index, nprobe, recall = build(space)
            similarity.save(index, path)
            entry = {"file": layout.index_file(space), "kind": type(index).__name__, "n": int(index.ntotal),
                     "d": int(index.d), "nprobe": nprobe, "recall_at_10": recall, "settings": wanted,
                     "input_sha256": source,
                     "seconds": time.perf_counter() - started}
        entries[space] = dict(entry, sha256=sha256_file(path), bytes=path.stat().st_size)
    return entries


def _link_unchanged(root: Path, space: str, source: str, wanted: dict, path: Path) -> dict | None:
    """Hard-link into `path` an index over `space` built by a map of this dataset from the same
    embedding and settings; its manifest entry, or None when there is none to reuse."""
    for manifest_path in sorted((root / layout.MAPS).glob(f"*/{layout.MANIFEST}")):
        try:
            entry = json.loads(manifest_path.read_text()).get("indexes", {}).get(space)
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(entry, dict) or entry.get("input_sha256") != source or entry.get("settings") != wanted:
            continue
        try:
            os.link(manifest_path.parent / entry["file"], path)
        except (OSError, KeyError, TypeError):
            continue
        if sha256_file(path) == entry.get("sha256"):
            log.info("index %s unchanged: linked from %s", space, manifest_path.parent)
            return entry
        path.unlink()
    return None
