"""DKMap: metric-supervised maps of text-to-image alignment."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import dkmap` stays light: the Python API (README "Python API").
    if name == "open_map":
        from dkmap.maps.built import open_map

        return open_map
    if name == "open_dataset":
        from dkmap.data.store import open_dataset

        return open_dataset
    if name in ("ingest", "build"):
        from dkmap import api

        return getattr(api, name)
    if name == "MetricSpec":
        from dkmap.data.ingest import MetricSpec

        return MetricSpec
    if name == "widget":
        from dkmap.notebook import widget

        return widget
    raise AttributeError(f"module 'dkmap' has no attribute {name!r}")
