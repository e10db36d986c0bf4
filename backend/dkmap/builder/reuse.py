"""When a build may be skipped: the map at the target has the same format, inputs and settings and
every file its manifest lists (contour levels, sampling, indexes) is there and verifies."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from dkmap.atomic import sha256_file
from dkmap.config import BuildSettings
from dkmap.data.store import SHARDED, feature_spaces
from dkmap.maps import layout
from dkmap.maps.manifest import Manifest, MapError

log = logging.getLogger(__name__)


def input_checksums(root: Path, meta: dict, metric: str) -> dict:
    """Checksums of what the map depends on: the table (metric values, split) and feature spaces.
    A sharded dataset's dataset.yaml lists every shard's checksum, so its own checksum stands for all."""
    if meta.get("layout") == SHARDED:
        return {"dataset.yaml": sha256_file(Path(root) / "dataset.yaml")}
    recorded = meta.get("checksums", {})
    files = ["items.parquet"] + [f"embeddings/{s}.npy" for s in feature_spaces(meta, metric)]
    return {f: recorded.get(f) or sha256_file(Path(root) / f) for f in files}


def embedding_checksum(root: Path, meta: dict, space: str) -> str:
    """The checksum an index over `space` depends on: the one recorded at ingest, else the file's
    (for a sharded dataset, its dataset.yaml's, which lists every shard's)."""
    if meta.get("layout") == SHARDED:
        return sha256_file(Path(root) / "dataset.yaml")
    rel = f"embeddings/{space}.npy"
    return meta.get("checksums", {}).get(rel) or sha256_file(Path(root) / rel)


def indexes_unchanged(manifest: dict, root: Path, meta: dict) -> bool:
    """Whether every Faiss index a map's manifest lists was built from the embedding `root` holds now
    (and the map has one per generator of the dataset)."""
    from dkmap.data.store import image_space

    indexes = manifest.get("indexes")
    if not isinstance(indexes, dict) or set(indexes) != {image_space(g) for g in meta["generators"]}:
        return False
    return all(isinstance(e, dict) and e.get("input_sha256") is not None
               and e.get("input_sha256") == embedding_checksum(root, meta, space) for space, e in indexes.items())


def up_to_date(target: Path, meta: dict, inputs: dict, settings: BuildSettings) -> bool:
    """Whether the build at target has the same inputs, settings and format, indexes built from the
    dataset's current image embeddings (`meta`: its dataset.yaml), and every file of it (indexes
    included) there with its checksum."""
    path = layout.manifest_path(target)
    if not path.is_file():
        return False
    try:
        manifest = Manifest(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError):
        return False
    if not manifest.matches(inputs, settings) or not indexes_unchanged(manifest.data, target.parent.parent, meta):
        return False
    from dkmap.maps.built import open_map
    try:
        open_map(target)
    except MapError as err:
        log.warning("existing map is damaged (%s); rebuilding", err)
        return False
    return True


def remove_stale_temporaries(target: Path) -> None:
    """Delete temp folders left by an interrupted build of this map (never the map itself)."""
    if target.parent.is_dir():
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            log.info("removing %s left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)
