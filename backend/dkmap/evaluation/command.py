"""`dkmap evaluate`: load a split (dataset + metric, or an .npz), run the methods, print and save."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from dkmap.evaluation.report import Split, check_methods, evaluate, format_table

log = logging.getLogger(__name__)

NPZ_KEYS = ("x_train", "m_train", "x_test", "m_test")
# Baseline results of suite sets are kept here (they do not depend on DKMap's settings).
DEFAULT_SUITE_CACHE = Path("data/cache/suite")


def load_npz(path: str | Path) -> Split:
    """A split from an .npz holding x_train, m_train, x_test, m_test."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"npz file {path} does not exist")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in NPZ_KEYS if k not in data]
        if missing:
            raise ValueError(f"{path} lacks arrays {missing}; it needs {list(NPZ_KEYS)}")
        arrays = {k: np.asarray(data[k]) for k in NPZ_KEYS}
    return Split(x_train=arrays["x_train"].astype(np.float32),
                 m_train=arrays["m_train"].astype(np.float64),
                 x_test=arrays["x_test"].astype(np.float32),
                 m_test=arrays["m_test"].astype(np.float64))


def load_dataset_split(dataset_dir: str | Path, metric: str) -> Split:
    """A split from a dataset folder: the metric's features and values, by the stored split."""
    from dkmap.data.store import open_dataset

    ds = open_dataset(dataset_dir)
    x = np.asarray(ds.features(metric), dtype=np.float32)
    m = np.asarray(ds.metric(metric), dtype=np.float64)
    train = np.asarray(ds.is_train, dtype=bool)
    if train.all() or not train.any():
        raise ValueError(f"dataset {dataset_dir} needs both train and test items to evaluate")
    return Split(x_train=x[train], m_train=m[train], x_test=x[~train], m_test=m[~train])


def run_evaluate(dataset_dir: str | Path | None = None, metric: str | None = None,
                 npz: str | Path | None = None, methods: list[str] | None = None,
                 settings: dict | None = None, seed: int = 0, json_out: str | Path | None = None,
                 progress: bool = True) -> list[dict]:
    """Evaluate the methods on one split, print the table to stdout, optionally write JSON.

    Give either dataset_dir and metric, or npz. settings: DKMap settings for the DKMap variants
    (validated by DKMap before any data is read). Returns the rows (as written to JSON).
    """
    from dkmap.projection import DKMap

    if (npz is None) == (dataset_dir is None):
        raise ValueError("give either dataset_dir (with metric) or npz, not both or neither")
    if dataset_dir is not None and not metric:
        raise ValueError("metric is required with dataset_dir")
    settings = dict(settings or {})
    DKMap(**settings)
    methods = check_methods(methods)
    split = load_npz(npz) if npz is not None else load_dataset_split(dataset_dir, metric)
    log.info("evaluating on %d train and %d test items, D=%d", len(split.x_train),
             len(split.x_test), split.x_train.shape[1])
    rows = evaluate(split, methods=methods, settings=settings, seed=seed, progress=progress)
    print(format_table(rows))
    if json_out is not None:
        write_json(json_out, rows)
    return rows


def run_suite_command(suite: str, settings: dict | None = None, seed: int = 0,
                      json_out: str | Path | None = None, compare_old: bool = False,
                      only: list[str] | None = None,
                      cache_dir: str | Path | None = DEFAULT_SUITE_CACHE) -> list[dict]:
    """`dkmap evaluate --suite NAME`: every set of the suite at the given settings (default: the
    defaults), optionally beside the old defaults; prints the table and the medians."""
    from dkmap.evaluation.suite import OLD_DEFAULTS, format_suite, run_suite, suite_specs
    from dkmap.projection import DKMap

    settings = dict(settings or {})
    DKMap(**settings)
    specs = suite_specs(suite)
    unknown = sorted(set(only or []) - set(specs))
    if unknown:
        raise ValueError(f"unknown sets {unknown} in suite {suite!r}; choose from {sorted(specs)}")
    variants = {"defaults" if not settings else "given": settings}
    if compare_old:
        variants["old defaults"] = OLD_DEFAULTS
    rows = run_suite(suite, variants, cache_dir=None if cache_dir is None else Path(cache_dir),
                     seed=seed, only=only)
    print(format_suite(rows))
    if json_out is not None:
        write_json(json_out, rows)
    return rows


def write_json(path: str | Path, rows: list[dict]) -> None:
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(rows, indent=2, allow_nan=False) + "\n")
    tmp.replace(out)
