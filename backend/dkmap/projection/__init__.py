"""Metric-supervised projection: `DKMap(...).fit(x, m)` → FittedMap (transform, predict, save)."""

from dkmap.projection.model import DKMap, FittedMap

__all__ = ["DKMap", "FittedMap"]
