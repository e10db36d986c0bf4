"""A dataset's metadata columns (the input table's extra columns): typing and the on-disk format.

Every extra column gets one of five kinds, recorded in dataset.yaml under `columns`:
`number` (int64 when whole and complete, else float64 with NaN for missing), `boolean` (int8: 0, 1,
-1 missing), `time` (int64 nanoseconds since 1970-01-01 UTC, INT64_MIN missing), `category`
(int32 codes into a value list, -1 missing) and `text` (free text, an Arrow IPC file). Numeric
kinds are `.npy` files, memory-mapped on read, so a filter over millions of rows is one vectorised
pass over a column array. Files are named by position (`columns/c<k>.*`), never by column name, so
no name can reach outside the folder.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from dkmap.atomic import sha256_file
from dkmap.data.store import DatasetError

log = logging.getLogger(__name__)

FOLDER = "columns"
KINDS = ("number", "boolean", "time", "category", "text")
# Strings with at most this many distinct values (and repeats on average) are categories, else free text.
CATEGORY_MAX_VALUES = 1000
CATEGORY_LISTED = 50   # most frequent values GET /api/datasets lists per category column
TIME_MISSING = np.iinfo(np.int64).min
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class ColumnError(DatasetError):
    """A metadata column cannot be typed or stored; the message names the column."""


def infer_kind(values: pd.Series) -> str:
    """The kind of a column from its values (see the module docstring)."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values.dtype) or (len(present) and present.map(type).isin([bool, np.bool_]).all()):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return "time"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "number"
    if len(present) == 0:
        return "category"
    if present.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64))).all():
        return "time"
    text = present.astype(str)
    if text.str.match(_DATE_LIKE).all():
        return "time"
    distinct = text.nunique()
    if distinct <= CATEGORY_MAX_VALUES and distinct * 2 <= len(text):
        return "category"
    return "text"


def _as_utc_ns(values: pd.Series, name: str) -> np.ndarray:
    """Nanoseconds since the epoch in UTC (naive times taken as UTC); NaT is INT64_MIN, as numpy's."""
    try:
        stamps = pd.to_datetime(values, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise ColumnError(f"column '{name}': not readable as times ({exc})") from None
    naive = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return naive.view(np.int64).copy()


def _encode(values: pd.Series, kind: str, name: str) -> tuple[dict[str, Any], dict]:
    """The arrays (suffix -> array or bytes) and the yaml entry storing one column."""
    missing = values.isna().to_numpy()
    if kind == "number":
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna().to_numpy() & ~missing
        if bad.any():
            raise ColumnError(f"column '{name}': value {values.iloc[int(np.argmax(bad))]!r} at row "
                              f"{int(np.argmax(bad))} is not a number")
        arr = numeric.to_numpy(dtype=np.float64)
        if not np.isfinite(arr[~missing]).all():
            raise ColumnError(f"column '{name}': holds inf (use an empty cell for a missing value)")
        whole = not missing.any() and np.all(arr == np.round(arr)) and np.abs(arr).max(initial=0) < 2**53
        if pd.api.types.is_integer_dtype(values.dtype) or whole:
            if not missing.any():
                return {".npy": values.to_numpy(dtype=np.int64) if pd.api.types.is_integer_dtype(values.dtype)
                        else arr.astype(np.int64)}, {"dtype": "int64"}
        return {".npy": arr}, {"dtype": "float64"}
    if kind == "boolean":
        arr = np.full(len(values), -1, dtype=np.int8)
        arr[~missing] = values[~missing].astype(bool).to_numpy().astype(np.int8)
        return {".npy": arr}, {}
    if kind == "time":
        return {".npy": _as_utc_ns(values, name)}, {"unit": "ns", "timezone": "UTC"}
    if kind == "category":
        text = values.astype(object).where(~values.isna(), None)
        cats = pd.Categorical([None if v is None else str(v) for v in text])
        order = pd.Series(cats).value_counts()   # most frequent first: the list a checklist shows
        cats = cats.reorder_categories(list(order.index))
        return ({".npy": cats.codes.astype(np.int32),
                 ".values.json": json.dumps(list(map(str, cats.categories)), ensure_ascii=False).encode()},
                {"n_values": int(len(cats.categories))})
    if kind == "text":
        import pyarrow as pa

        arr = pa.array([None if m else str(v) for v, m in zip(values.tolist(), missing)], type=pa.large_string())
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, pa.schema([("text", pa.large_string())])) as writer:
            writer.write_table(pa.table({"text": arr}))
        return {".arrow": sink.getvalue().to_pybytes()}, {}
    raise ColumnError(f"column '{name}': kind must be one of {', '.join(KINDS)}, got {kind!r}")


def write_columns(folder: Path, table: pd.DataFrame, kinds: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Store every column of `table` (one row per item, in item order) under `folder/columns/`.

    Returns the dataset.yaml entry `{name: {kind, file, ...}}` and `{relative path: sha256}`."""
    kinds = dict(kinds or {})
    meta: dict[str, dict] = {}
    checksums: dict[str, str] = {}
    if table is None or not len(table.columns):
        return meta, checksums
    out = Path(folder) / FOLDER
    out.mkdir(exist_ok=True)
    for k, name in enumerate(table.columns):
        if not isinstance(name, str) or not name.strip():
            raise ColumnError(f"column name {name!r}: column names must be non-empty strings")
        values = table[name].reset_index(drop=True)
        kind = kinds.get(name) or infer_kind(values)
        files, extra = _encode(values, kind, name)
        stem = f"c{k}"
        for suffix, data in files.items():
            path = out / f"{stem}{suffix}"
            if isinstance(data, np.ndarray):
                np.save(path, np.ascontiguousarray(data))
            else:
                path.write_bytes(data)
            checksums[f"{FOLDER}/{path.name}"] = sha256_file(path)
        meta[name] = {"kind": kind, "file": stem, "missing": int(values.isna().sum()), **extra}
    log.info("stored %d metadata columns: %s", len(meta), ", ".join(f"{n} ({m['kind']})" for n, m in meta.items()))
    return meta, checksums


@dataclass
class Column:
    """One stored column, read lazily: `data` is the memory-mapped array (codes for categories,
    an Arrow array for text), `values` the category list."""

    name: str
    kind: str
    info: dict
    root: Path
    _data: Any = None
    _values: list | None = None

    @property
    def data(self):
        if self._data is None:
            base = self.root / FOLDER / self.info["file"]
            if self.kind == "text":
                import pyarrow as pa

                source = pa.memory_map(str(base) + ".arrow", "r")
                self._data = pa.ipc.open_file(source).read_all().column("text")
            else:
                self._data = np.load(str(base) + ".npy", mmap_mode="r")
        return self._data

    @property
    def values(self) -> list[str]:
        if self.kind != "category":
            raise TypeError(f"column '{self.name}' is {self.kind}, not a category")
        if self._values is None:
            path = self.root / FOLDER / (self.info["file"] + ".values.json")
            self._values = json.loads(path.read_text())
        return self._values

    def decoded(self, rows: np.ndarray) -> pd.Series:
        """The column's values at `rows` in their own type (None/NaN/NaT where missing)."""
        if self.kind == "text":
            return pd.Series(self.data.take(rows).to_pylist(), dtype=object)
        raw = np.asarray(self.data[rows])
        if self.kind == "number":
            return pd.Series(raw)
        if self.kind == "boolean":
            return pd.Series(pd.array(np.where(raw < 0, None, raw == 1).tolist(), dtype="boolean"))
        if self.kind == "time":
            out = pd.to_datetime(np.where(raw == TIME_MISSING, np.datetime64("NaT"), raw.astype("datetime64[ns]")))
            return pd.Series(out).dt.tz_localize("UTC")
        cats = np.asarray(self.values + [None], dtype=object)
        return pd.Series(cats[np.where(raw < 0, len(self.values), raw)], dtype=object)


class Columns:
    """The metadata columns of a dataset folder, in stored order; each array opened on first use."""

    def __init__(self, root: Path, meta: dict | None) -> None:
        self._columns = {name: Column(name, info["kind"], info, Path(root)) for name, info in (meta or {}).items()}

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __iter__(self):
        return iter(self._columns.values())

    def __len__(self) -> int:
        return len(self._columns)

    @property
    def names(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, name: str) -> Column:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"unknown column '{name}' (metadata columns: {', '.join(self._columns) or 'none'})") from None

    def describe(self) -> list[dict]:
        """`[{name, kind, ...}]` as GET /api/datasets lists them (categories with their value count)."""
        out = []
        for c in self:
            entry = {"name": c.name, "kind": c.kind, **{k: v for k, v in c.info.items() if k != "file"}}
            if c.kind == "category":
                entry["values"] = c.values[:CATEGORY_LISTED]
            out.append(entry)
        return out


def item_metadata(table: pd.DataFrame, names: Sequence[str], ids: Sequence[str],
                  generators: Sequence[str], generator_column: str = "generator") -> pd.DataFrame:
    """One row per item (in `ids` order) of the extra columns `names` of an input table.

    With several generators the table has a row per (id, generator): a column equal across an id's
    rows is kept once; one that differs (a seed per model, say) becomes `<name>_<generator>` per
    generator."""
    index = pd.Index(ids)
    out = pd.DataFrame(index=index)
    if generator_column not in table.columns or len(generators) == 1:
        first = table.drop_duplicates("id").set_index("id")
        for name in names:
            out[name] = first[name].reindex(index)
        return out.reset_index(drop=True)
    per_gen = {g: table[table[generator_column].astype(str) == g].set_index("id") for g in generators}
    for name in names:
        cols = {g: per_gen[g][name].reindex(index) for g in generators}
        first = cols[generators[0]]
        same = all(_equal(first, cols[g]) for g in generators[1:])
        if same:
            out[name] = first
        else:
            for g in generators:
                out[f"{name}_{g}"] = cols[g]
    return out.reset_index(drop=True)


def _equal(a: pd.Series, b: pd.Series) -> bool:
    both_missing = a.isna().to_numpy() & b.isna().to_numpy()
    return bool(np.all(both_missing | (a.to_numpy() == b.to_numpy())))


def check_names(names: Iterable[str], reserved: Iterable[str]) -> None:
    """ColumnError when a metadata column would share a name with a built-in column or metric."""
    clash = sorted(set(names) & set(reserved))
    if clash:
        raise ColumnError(f"metadata columns {clash} share names with the dataset's own columns or metrics; "
                          "rename them in the table or leave them out with --drop-columns")
