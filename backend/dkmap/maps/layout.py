"""Where a built map lives on disk: DATASET/maps/<metric>/ and the names of the files in it.

The one place that spells these paths; every other module asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

MAPS = "maps"
MANIFEST = "manifest.json"
PROJECTOR = "projector.pt"
POSITIONS = "positions.npy"
VALUES = "values.npy"
LEVELS = "levels"
INDEX = "index"   # Faiss indexes over the image embeddings, one per generator
SAMPLINGS = ("bluenoise", "random")


def map_dir(dataset_dir: str | os.PathLike, metric: str) -> Path:
    """DATASET/maps/<metric>/, the folder of the map of `metric` (built or not)."""
    return Path(dataset_dir) / MAPS / metric


def manifest_path(map_folder: str | os.PathLike) -> Path:
    """The manifest of the map in `map_folder`; the map is built when this file exists."""
    return Path(map_folder) / MANIFEST


def is_built(dataset_dir: str | os.PathLike, metric: str) -> bool:
    """Whether DATASET/maps/<metric>/ holds a finished build (its manifest is written last)."""
    return manifest_path(map_dir(dataset_dir, metric)).is_file()


def level_file(z: int) -> str:
    """The stored grid of level z, relative to the map folder."""
    return f"{LEVELS}/level_{z}.npy"


def sampling_file(name: str) -> str:
    """The per-item first overlay level of sampling `name`, relative to the map folder."""
    return f"sampling_{name}.npy"


def index_file(space: str) -> str:
    """The Faiss index over embedding `space` (image_<gen>), relative to the map folder."""
    return f"{INDEX}/{space}.faiss"
