"""Colouring points by a column (`colour=<column>` on the points routes): the column's value of each
point and what the legend needs, the column's range over the whole dataset (numbers) or its values
(categories), so the colours of a point never change with the view.

A column is any metric of the dataset, `split`, or a metadata column (dkmap.data.columns) of kind
number, time (milliseconds since 1970-01-01 UTC), boolean or category; free text has no colour (a
400 naming the column). Values are float64, missing ones NaN; categories are their value's index in
`values` (booleans: 0 false, 1 true).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dkmap.data.columns import TIME_MISSING
from dkmap.server.validation import bad_request

SPLIT = "split"


@dataclass(frozen=True)
class ColourColumn:
    name: str
    kind: str  # number | time | category
    info: dict  # the JSON description: {name, kind, domain: [lo, hi]} or {name, kind, values: [...]}
    source: object  # the dataset, for reading values

    def values_at(self, rows: np.ndarray) -> np.ndarray:
        return read_column(self.source, self.name, rows)


def colourable(ds) -> list[str]:
    """Names of the columns a dataset's points can be coloured by, metrics first."""
    meta = [c.name for c in ds.columns if c.kind != "text"]
    return list(ds.metrics) + [SPLIT] + [n for n in meta if n not in ds.metrics and n != SPLIT]


def _kind(ds, name: str) -> str:
    if name in ds.metrics:
        return "number"
    if name == SPLIT:
        return "category"
    kind = ds.columns[name].kind
    return {"boolean": "category"}.get(kind, kind)


def categories(ds, name: str) -> list[str]:
    """The values of a category-like column (split, a category, a boolean), in code order."""
    if name == SPLIT:
        return ["train", "test"]
    col = ds.columns[name]
    return ["false", "true"] if col.kind == "boolean" else list(col.values)


def split_codes(ds, rows: np.ndarray | None) -> np.ndarray:
    """int32 codes into `categories(ds, SPLIT)` at `rows` (all rows when None), -1 missing."""
    split = ds.items["split"].to_numpy(dtype=object)
    split = split if rows is None else split[rows]
    return np.where(split == "train", 0, np.where(split == "test", 1, -1)).astype(np.int32)


def read_column(ds, name: str, rows: np.ndarray | None) -> np.ndarray:
    """float64 values of column `name` at `rows` (all rows when None), NaN where missing."""
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    if name in ds.metrics:
        return pick(ds.metric(name)).astype(np.float64)
    if name == SPLIT:
        codes = split_codes(ds, rows)
        return np.where(codes < 0, np.nan, codes).astype(np.float64)
    col = ds.columns[name]
    raw = np.asarray(pick(col.data))
    if col.kind == "number":
        return raw.astype(np.float64)
    if col.kind == "time":
        return np.where(raw == TIME_MISSING, np.nan, raw // 1_000_000).astype(np.float64)
    return np.where(raw < 0, np.nan, raw).astype(np.float64)  # category codes, booleans 0/1 (-1 missing)


def colour_column(reg, dataset: str, name: str) -> ColourColumn:
    """The column `name` of `dataset` for colouring (400 naming it when there is none such, or it is text)."""
    ds = reg.dataset(dataset)
    if name not in ds.metrics and name != SPLIT and name not in ds.columns:
        bad_request(f"parameter 'colour': unknown column {name!r} (dataset '{dataset}' has: {', '.join(colourable(ds))})")
    if name in ds.columns and name not in ds.metrics and ds.columns[name].kind == "text":
        bad_request(f"parameter 'colour': column {name!r} is free text, which has no colour scale; "
                    f"choose one of: {', '.join(colourable(ds))}")

    def describe() -> dict:
        kind = _kind(ds, name)
        if kind == "category":
            return {"name": name, "kind": kind, "values": categories(ds, name)}
        values = read_column(ds, name, None)
        finite = values[np.isfinite(values)]
        domain = [float(finite.min()), float(finite.max())] if len(finite) else [0.0, 0.0]
        return {"name": name, "kind": kind, "domain": domain}

    info = reg.once(("colour-column", dataset, name), describe)
    return ColourColumn(name, info["kind"], info, ds)
