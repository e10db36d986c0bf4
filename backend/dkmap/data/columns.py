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


def _numbers(values: pd.Series, missing: np.ndarray, name: str, row0: int) -> np.ndarray:
    """float64 values of a number column (NaN where missing); a ColumnError names a bad cell or inf."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna().to_numpy() & ~missing
    if bad.any():
        at = int(np.argmax(bad))
        raise ColumnError(f"column '{name}': value {values.iloc[at]!r} at row {row0 + at} is not a number")
    arr = numeric.to_numpy(dtype=np.float64)
    if not np.isfinite(arr[~missing]).all():
        raise ColumnError(f"column '{name}': holds inf (use an empty cell for a missing value)")
    return arr


class _Stored:
    """One column being written: its kind, file stem, missing count and what its chunks left on disk."""

    def __init__(self, out: Path, stem: str, name: str, kind: str, declared: bool):
        if kind not in KINDS:
            raise ColumnError(f"column '{name}': kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.out, self.stem, self.name, self.kind, self.declared = out, stem, name, kind, declared
        self.missing = 0
        self.rows = 0
        # number: int64 while every chunk is whole integers with nothing missing, else float64
        self.dtype = np.dtype(np.int64 if kind in ("number", "time") else np.int8 if kind == "boolean" else np.int32)
        self.exact_ints = True
        self.raw = None if kind == "text" else open(out / f".{stem}.raw", "wb")
        self.values: dict[str, int] = {}     # category value -> code in order of first appearance
        self.counts = np.zeros(0, dtype=np.int64)
        self.arrow = None

    def append(self, values: pd.Series) -> None:
        missing = values.isna().to_numpy()
        self.missing += int(missing.sum())
        kind, name = self.kind, self.name
        if kind == "number":
            arr = _numbers(values, missing, name, self.rows)
            ints = not missing.any() and (pd.api.types.is_integer_dtype(values.dtype) or (
                np.all(arr == np.round(arr)) and np.abs(arr).max(initial=0) < 2**53))
            if self.exact_ints and not ints:
                self._to_float()
            out = arr if not self.exact_ints else (
                values.to_numpy(dtype=np.int64) if pd.api.types.is_integer_dtype(values.dtype) else arr.astype(np.int64))
        elif kind == "boolean":
            out = np.full(len(values), -1, dtype=np.int8)
            out[~missing] = values[~missing].astype(bool).to_numpy().astype(np.int8)
        elif kind == "time":
            out = _as_utc_ns(values, name)
        elif kind == "category":
            out = self._codes(values, missing)
        else:
            self._append_text(values, missing)
            out = None
        if out is not None:
            self.raw.write(np.ascontiguousarray(out, dtype=self.dtype).tobytes())
        self.rows += len(values)

    def _to_float(self) -> None:
        """The int64 rows written so far become float64 (a later chunk has missing or fractional values)."""
        self.raw.close()
        path = self.out / f".{self.stem}.raw"
        done = np.fromfile(path, dtype=np.int64).astype(np.float64)
        self.raw = open(path, "wb")
        self.raw.write(done.tobytes())
        self.dtype, self.exact_ints = np.dtype(np.float64), False

    def _codes(self, values: pd.Series, missing: np.ndarray) -> np.ndarray:
        text = values.astype(object).where(~missing, None)
        local, uniques = pd.factorize(pd.Series([None if v is None else str(v) for v in text], dtype=object))
        to_global = np.array([self.values.setdefault(value, len(self.values)) for value in uniques],
                             dtype=np.int32)
        if not self.declared and len(self.values) > CATEGORY_MAX_VALUES:
            raise ColumnError(f"column '{self.name}': over {CATEGORY_MAX_VALUES} distinct values after the first "
                              "chunk typed it as a category; declare it as text")
        codes = np.where(local < 0, -1, to_global[np.maximum(local, 0)] if len(to_global) else -1).astype(np.int32)
        counts = np.zeros(len(self.values), dtype=np.int64)
        counts[:len(self.counts)] = self.counts
        self.counts = counts + np.bincount(codes[codes >= 0], minlength=len(self.values))
        return codes

    def _append_text(self, values: pd.Series, missing: np.ndarray) -> None:
        import pyarrow as pa

        arr = pa.array([None if m else str(v) for v, m in zip(values.tolist(), missing)], type=pa.large_string())
        if self.arrow is None:
            self.arrow = pa.ipc.new_file(str(self.out / f"{self.stem}.arrow"),
                                         pa.schema([("text", pa.large_string())]))
        self.arrow.write_table(pa.table({"text": arr}))

    def close(self) -> None:
        """Give up: close the open files and remove the raw rows (the folder itself is the caller's)."""
        if self.raw is not None:
            self.raw.close()
            (self.out / f".{self.stem}.raw").unlink(missing_ok=True)
        if self.arrow is not None:
            self.arrow.close()

    def finish(self) -> tuple[list[Path], dict]:
        """Write the final files; returns them and the column's dataset.yaml extras."""
        if self.kind == "text":
            if self.arrow is None:
                self._append_text(pd.Series([], dtype=object), np.zeros(0, dtype=bool))
            self.arrow.close()
            return [self.out / f"{self.stem}.arrow"], {}
        self.raw.close()
        raw_path = self.out / f".{self.stem}.raw"
        raw = np.memmap(raw_path, dtype=self.dtype, mode="r") if self.rows else np.zeros(0, self.dtype)
        path = self.out / f"{self.stem}.npy"
        files, extra = [path], {}
        remap = None
        if self.kind == "category":
            names = list(self.values)
            # most frequent first (the list a checklist shows), ties by value
            order = sorted(range(len(names)), key=lambda i: (-int(self.counts[i]), names[i]))
            remap = np.empty(len(order), dtype=np.int32)
            remap[order] = np.arange(len(order), dtype=np.int32)
            values_path = self.out / f"{self.stem}.values.json"
            values_path.write_bytes(json.dumps([names[i] for i in order], ensure_ascii=False).encode())
            files.append(values_path)
            extra = {"n_values": len(names)}
        elif self.kind == "number":
            extra = {"dtype": "int64" if self.exact_ints else "float64"}
        elif self.kind == "time":
            extra = {"unit": "ns", "timezone": "UTC"}
        out = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=(self.rows,))
        for start in range(0, self.rows, CHUNK_ROWS):
            part = np.asarray(raw[start:start + CHUNK_ROWS])
            if remap is not None:
                part = np.where(part < 0, -1, remap[np.maximum(part, 0)]).astype(np.int32)
            out[start:start + len(part)] = part
        out.flush()
        del out, raw
        raw_path.unlink()
        return files, extra


CHUNK_ROWS = 1 << 20


class ColumnsWriter:
    """Stores metadata columns given in row chunks (a sharded dataset's shards, or one whole table)
    under `folder/columns/`, with one chunk in memory at a time. A column's kind is declared in
    `kinds` or inferred from the first chunk; `finish` returns the dataset.yaml entry
    `{name: {kind, file, ...}}` and `{relative path: sha256}`."""

    def __init__(self, folder: Path, kinds: dict[str, str] | None = None):
        self.out = Path(folder) / FOLDER
        self.kinds = dict(kinds or {})
        self.names: list[str] | None = None
        self._columns: list[_Stored] = []

    def append(self, chunk: pd.DataFrame) -> None:
        names = list(chunk.columns)
        if self.names is None:
            for name in names:
                if not isinstance(name, str) or not name.strip():
                    raise ColumnError(f"column name {name!r}: column names must be non-empty strings")
            self.names = names
            if names:
                self.out.mkdir(parents=True, exist_ok=True)
            try:
                for k, name in enumerate(names):
                    values = chunk[name].reset_index(drop=True)
                    kind = self.kinds.get(name) or infer_kind(values)
                    self._columns.append(_Stored(self.out, f"c{k}", name, kind, name in self.kinds))
            except BaseException:
                self.close()
                raise
        elif names != self.names:
            self.close()
            raise ColumnError(f"metadata columns must be {self.names} in every chunk, got {names}")
        try:
            for column in self._columns:
                column.append(chunk[column.name].reset_index(drop=True))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Abandon the columns written so far (a bad chunk, or the dataset being written failed)."""
        for column in self._columns:
            column.close()

    def finish(self) -> tuple[dict, dict]:
        meta: dict[str, dict] = {}
        checksums: dict[str, str] = {}
        for column in self._columns:
            files, extra = column.finish()
            for path in files:
                checksums[f"{FOLDER}/{path.name}"] = sha256_file(path)
            meta[column.name] = {"kind": column.kind, "file": column.stem, "missing": column.missing, **extra}
        if meta:
            log.info("stored %d metadata columns: %s", len(meta),
                     ", ".join(f"{n} ({m['kind']})" for n, m in meta.items()))
        return meta, checksums


def write_columns(folder: Path, table: pd.DataFrame, kinds: dict[str, str] | None = None) -> tuple[dict, dict]:
    """Store every column of `table` (one row per item, in item order) under `folder/columns/`.

    Returns the dataset.yaml entry `{name: {kind, file, ...}}` and `{relative path: sha256}`."""
    if table is None or not len(table.columns):
        return {}, {}
    writer = ColumnsWriter(folder, kinds)
    writer.append(table)
    return writer.finish()


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
