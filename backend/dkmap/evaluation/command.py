"""`dkmap evaluate`: load a split (dataset + metric, or an .npz), run the methods, print and save."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from dkmap.evaluation.report import Split, check_methods, evaluate, format_table

log = logging.getLogger(__name__)

NPZ_KEYS = ("x_train", "m_train", "x_test", "m_test")


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
                 epochs: int | None = None, seed: int = 0, json_out: str | Path | None = None,
                 progress: bool = True, hidden: int | None = None, lam: float | None = None) -> list[dict]:
    """Evaluate the methods on one split, print the table to stdout, optionally write JSON.

    Give either dataset_dir and metric, or npz. Returns the rows (as written to JSON).
    """
    if (npz is None) == (dataset_dir is None):
        raise ValueError("give either dataset_dir (with metric) or npz, not both or neither")
    if dataset_dir is not None and not metric:
        raise ValueError("metric is required with dataset_dir")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if hidden is not None and (not isinstance(hidden, int) or hidden < 2):
        raise ValueError(f"hidden must be an integer >= 2, got {hidden!r}")
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam)
                            or lam < 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    methods = check_methods(methods)
    split = load_npz(npz) if npz is not None else load_dataset_split(dataset_dir, metric)
    log.info("evaluating on %d train and %d test items, D=%d", len(split.x_train),
             len(split.x_test), split.x_train.shape[1])
    rows = evaluate(split, methods=methods, epochs=epochs, seed=seed, progress=progress, hidden=hidden, lam=lam)
    print(format_table(rows))
    if json_out is not None:
        out = Path(json_out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(rows, indent=2, allow_nan=False) + "\n")
        tmp.replace(out)
    return rows
