"""DKMap: metric-supervised maps of text-to-image alignment."""

__version__ = "0.1.0"
