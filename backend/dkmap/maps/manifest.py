"""The manifest of a built map: what was built from what, with which settings, and every file's checksum.

`Manifest` wraps the JSON object written as DATASET/maps/<metric>/manifest.json (its keys are
listed in data/README.md); it is written last by a build and read and validated by `open_map`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dkmap.atomic import write_json
from dkmap.config import BuildSettings
from dkmap.projection.kernel import Kernel

FORMAT = 2  # 2: the Faiss indexes inside the map folder (index/). Bump when the folder's layout or the manifest's meaning changes
REQUIRED_KEYS = ("format", "dataset", "metric", "n_items", "kernel", "colour_domain", "value_range",
                 "tile_size", "max_level", "precomputed_levels", "levels", "subdivision", "mask", "files",
                 "settings", "indexes")
# Contour settings that older manifests may lack: read with the build's own defaults.
_DEFAULTS = BuildSettings()


class MapError(ValueError):
    """A built map is missing, corrupted or inconsistent; the message names the file and the problem."""


@dataclass(frozen=True)
class Manifest:
    """A built map's manifest: `data` is the JSON object; the properties are its typed reading."""

    data: dict

    # ---- reading and writing -------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | os.PathLike, metric: str | None = None) -> "Manifest":
        """Read and validate `path`; MapError naming the file when it is missing, unreadable, of another
        format, lacks keys, or is for another metric than `metric`."""
        path = Path(path)
        if not path.is_file():
            raise MapError(f"no built map for metric {metric!r}: {path} is missing (run `dkmap build`)")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise MapError(f"{path}: unreadable manifest ({err})") from err
        manifest = cls(data)
        manifest.validate(path, metric)
        return manifest

    def validate(self, path: Path, metric: str | None = None) -> None:
        """MapError unless the manifest has every required key, this format and the expected metric."""
        missing = [k for k in REQUIRED_KEYS if k not in self.data]
        if missing:
            raise MapError(f"{path}: manifest lacks {missing}")
        if self.data["format"] != FORMAT:
            raise MapError(f"{path}: map format {self.data['format']!r}, this version reads {FORMAT} (rebuild it)")
        if metric is not None and self.metric != metric:
            raise MapError(f"{path}: manifest is for metric {self.metric!r}, not {metric!r}")

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically (a temporary file renamed into place)."""
        write_json(Path(path), self.data)

    def matches(self, inputs: dict, settings: BuildSettings) -> bool:
        """Whether this build used the same format, inputs and settings (the reuse rule)."""
        return (self.data.get("format") == FORMAT and self.data.get("inputs") == inputs
                and self.data.get("settings") == json.loads(json.dumps(settings.to_dict())))

    # ---- typed reading ---------------------------------------------------------------------------
    @property
    def metric(self) -> str:
        return str(self.data["metric"])

    @property
    def n_items(self) -> int:
        return int(self.data["n_items"])

    @property
    def tile_size(self) -> int:
        return int(self.data["tile_size"])

    @property
    def max_level(self) -> int:
        return int(self.data["max_level"])

    @property
    def stored_levels(self) -> list[int]:
        """Levels stored as whole grids (0, 1, ...); deeper ones are computed on request."""
        return [int(z) for z in self.data["precomputed_levels"]]

    @property
    def kernel(self) -> Kernel:
        """The level-0 kernel in unit-square coordinates."""
        return Kernel.from_fitted(self.data["kernel"])

    @property
    def alphas(self) -> dict[int, float]:
        """α per level (METHOD.md §5)."""
        return {int(lv["z"]): float(lv["alpha"]) for lv in self.data["levels"]}

    @property
    def colour_domain(self) -> tuple[float, float]:
        lo, hi = self.data["colour_domain"]
        return float(lo), float(hi)

    @property
    def files(self) -> dict[str, dict]:
        """Relative path → {sha256, bytes} of every file of the build."""
        return self.data["files"]

    @property
    def indexes(self) -> dict[str, dict]:
        """Embedding space (image_<gen>) → its Faiss index entry {file, kind, n, d, recall_at_10, ...}."""
        return self.data["indexes"]

    @property
    def normalisation(self) -> dict:
        """{scale c, shift} taking projection outputs into the unit square: y = c·raw + shift."""
        return self.data["normalisation"]

    @property
    def detail_leaves(self) -> dict[int, set[tuple[int, int]]]:
        """Per level, the tiles (x, y) whose children add no detail (subdivision stops there)."""
        leaves = self.data["subdivision"].get("detail_leaves", {})
        return {int(z): {tuple(t) for t in tiles} for z, tiles in leaves.items()}

    @property
    def subdivide_min_points(self) -> int:
        return int(self.data["subdivision"]["min_points"])

    @property
    def mask_radius(self) -> float | None:
        """The far-mask radius, None when masking is off."""
        mask = self.data["mask"]
        return float(mask["radius"]) if mask["enabled"] else None

    def contour_settings(self) -> dict:
        """max_grid, oversample and near_margin of the build (the contour field's own settings)."""
        s = self.data["settings"]
        return {name: s.get(name, getattr(_DEFAULTS, name)) for name in ("max_grid", "oversample", "near_margin")}
