"""Map builds: `build_map(dataset, metric, settings, engine="local" | "dask")` (dkmap.builder.driver)
and its stages, one module each: projection, contour (levels and sampling), indexes (Faiss),
reuse (the up-to-date rule), stages (timings); rows and dask_rows are the engines' row sources."""

from dkmap.builder.driver import ENGINES, build_map, coerce_settings

__all__ = ["ENGINES", "build_map", "coerce_settings"]
