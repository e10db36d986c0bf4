"""The built map folder DATASET/maps/<metric>/: its layout, its `Manifest`, and `BuiltMap` (open_map).

    >>> m = dkmap.open_map("data/datasets/demo/maps/clipscore_a")
    >>> m.transform(features)      # N×2 positions of new items in the unit square
    >>> m.predict(positions)       # the map's level-0 estimate there
    >>> m.tile(z, x, y)            # T×T contour values, NaN where masked
"""

from dkmap.maps.layout import is_built, manifest_path, map_dir
from dkmap.maps.manifest import FORMAT, Manifest, MapError

__all__ = ["BuiltMap", "FORMAT", "Manifest", "MapError", "is_built", "manifest_path", "map_dir", "open_built",
           "open_map"]


def __getattr__(name: str):
    # Lazy: dkmap.contour.store (which BuiltMap uses) itself imports the layout and manifest from here.
    if name in ("BuiltMap", "open_map", "open_built"):
        from dkmap.maps import built

        return getattr(built, name)
    raise AttributeError(f"module 'dkmap.maps' has no attribute {name!r}")
