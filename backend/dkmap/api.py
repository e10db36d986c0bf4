"""The Python API for notebooks and scripts: `dkmap.ingest`, `dkmap.build` (with `dkmap.open_dataset`
and `dkmap.open_map`, which live with the formats they read). Thin adapters over the commands' own
code: `ingest` is `dkmap ingest` (dkmap.data.ingest: same validation, same atomic write), `build` is
`dkmap build`. Argument errors are TypeError / ValueError naming the argument."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np
import pandas as pd

from dkmap.data.ingest import IngestOptions, MetricSpec, ingest as _ingest
from dkmap.data.store import Dataset
from dkmap.data.tables import TableSource

Embedding = Union[str, os.PathLike, np.ndarray, None]
Metric = Union[str, MetricSpec, Mapping]


def ingest(table: TableSource, out: str | os.PathLike, *, images: str | os.PathLike | None = None,
           text_emb: Embedding = None, image_emb: Embedding = None, encoder: str | None = None,
           metrics: Sequence[Metric] = ("clipscore",), skip_missing: bool = False, name: str | None = None,
           description: str = "", progress: bool = True, wait_s: float | None = 0) -> Dataset:
    """Validate a table of (prompt, image) pairs and write it as the dataset folder `out`; return it.

    table:     a pandas DataFrame, a table file (.parquet, .arrow, .csv, .jsonl), a list of files or
               globs (shards), or a `datasets` save_to_disk folder. Columns: id, prompt, image (a path
               relative to `images`, image bytes, or a Hugging Face Image struct), optional generator and
               split, and the metric columns named in `metrics`.
    text_emb, image_emb: N×d arrays (one row per table row), .npy paths, or, when `table` is a
               DataFrame, the name of a column holding one vector per row. Or `encoder`: a CLIP model.
    metrics:   'clipscore', 'clipscore-hessel', column names, 'NAME:UNIT:higher|lower' strings,
               MetricSpec(name, unit, better) or dicts {name, unit, better}.
    Nothing is written unless everything is valid (DatasetError naming the file, row or column).
    """
    if not isinstance(table, (pd.DataFrame, str, os.PathLike, list, tuple)):
        raise TypeError(f"ingest(table=...): expected a DataFrame, a path or a list of paths, got {type(table).__name__}")
    if isinstance(table, pd.DataFrame):
        table, text_emb = _column_embedding(table, text_emb, "text_emb")
        table, image_emb = _column_embedding(table, image_emb, "image_emb")
    if isinstance(metrics, (str, MetricSpec)) or not isinstance(metrics, Sequence):
        raise TypeError(f"ingest(metrics=...): expected a list of metrics, got {metrics!r}")
    return _ingest(IngestOptions(
        table=table, images=Path(images) if images is not None else None, out=Path(out),
        text_emb=_embedding(text_emb, "text_emb"), image_emb=_embedding(image_emb, "image_emb"), encoder=encoder,
        metrics=[_metric(m) for m in metrics], skip_missing=skip_missing, name=name, description=description,
        progress=progress, wait_s=wait_s))


def build(dataset: str | os.PathLike | Dataset, metric: str, *, settings=None, progress: bool = True,
          force: bool = False, wait_s: float | None = 0):
    """Build (or reuse, when its inputs are unchanged) the map of `metric` and return it opened
    (`dkmap.open_map`). `settings`: a dkmap.config.BuildSettings or a dict of its fields."""
    from dkmap.maps.built import open_map
    from dkmap.builder import build_map

    root = dataset.root if isinstance(dataset, Dataset) else dataset
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"build(dataset=...): expected a dataset folder or a Dataset, got {type(dataset).__name__}")
    if not isinstance(metric, str):
        raise TypeError(f"build(metric=...): expected a metric name, got {type(metric).__name__}")
    return open_map(build_map(root, metric, settings=settings, progress=progress, force=force, wait_s=wait_s))


def _column_embedding(table: pd.DataFrame, emb: Embedding, arg: str) -> tuple[pd.DataFrame, Embedding]:
    """A column of per-row vectors named by `emb` becomes an N×d array (and leaves the table)."""
    if not isinstance(emb, str) or emb not in table.columns:
        return table, emb
    try:
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in table[emb]])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"ingest({arg}={emb!r}): column '{emb}' must hold one equal-length vector per row ({exc})") from None
    return table.drop(columns=[emb]), matrix


def _embedding(emb: Embedding, arg: str):
    if emb is None or isinstance(emb, np.ndarray):
        return emb
    if isinstance(emb, (str, os.PathLike)):
        return Path(emb)
    raise TypeError(f"ingest({arg}=...): expected an N×d array, a .npy path or a column name, got {type(emb).__name__}")


def _metric(m: Metric) -> MetricSpec | str:
    if isinstance(m, (str, MetricSpec)):
        return m
    if isinstance(m, Mapping):
        unknown = set(m) - {"name", "unit", "better"}
        if "name" not in m or unknown:
            raise ValueError(f"ingest(metrics=...): a metric dict has keys name, unit, better; got {sorted(m)}")
        return MetricSpec(**m)
    raise TypeError(f"ingest(metrics=...): each metric is a name, a MetricSpec or a dict, got {type(m).__name__}")
