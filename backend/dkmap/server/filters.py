"""Filter expressions over a dataset's columns: parsing (400 naming the column and the problem) and
vectorised evaluation, shared by selection, points, histograms and export.

A filter list is ANDed; each entry is one of
  {"column": C, "range": [lo, hi]}            numbers and times (ms since 1970 UTC or ISO-8601), inclusive
  {"column": C, "in": [v, ..., null], "other": false}   categories, booleans, split (null: missing;
                                              "other": true also matches every value outside the top
                                              TOP_VALUES, the histogram's "other" bucket)
  {"column": C, "contains": "text"}           case-insensitive substring: text, category, split, prompt
Columns are the dataset's metrics, `split`, `prompt` and its metadata columns (dkmap.data.columns).

Decoded columns (float64 with NaN, category codes, Arrow text) are loaded once per dataset version;
the whole-dataset mask of a filter list, and of each filter in it, is kept in a small LRU per version,
so the same filters asked again with another view or lasso cost one gather, and a list that changes
one filter computes that one only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from dkmap.lru import LRUCache
from dkmap.server.colouring import SPLIT, categories, read_column, split_codes
from dkmap.server.validation import bad_request

PROMPT = "prompt"
MAX_FILTERS = 32
MAX_IN_VALUES = 1000
MAX_CONTAINS = 200
TOP_VALUES = 12          # category values listed on their own; the rest are the "other" bucket
MASK_CACHE_BYTES = 256 << 20
OPS = ("range", "in", "contains")


@dataclass(frozen=True)
class Filter:
    column: str
    op: str        # range | in | contains
    arg: Any       # (lo, hi) | (values tuple, other) | lowered text

    def key(self) -> list:
        return [self.column, self.op, self.arg]


@dataclass(frozen=True)
class Filters:
    """A parsed filter list (possibly empty): `mask` evaluates it over a dataset's columns."""

    items: tuple[Filter, ...]

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def key(self) -> str:
        return json.dumps([f.key() for f in self.items], separators=(",", ":"))

    @property
    def columns(self) -> set[str]:
        return {f.column for f in self.items}

    def without(self, column: str) -> "Filters":
        return Filters(tuple(f for f in self.items if f.column != column))


NO_FILTERS = Filters(())


class ColumnSource:
    """One dataset's columns as filters read them: kinds, decoded arrays (cached per version)."""

    def __init__(self, reg, dataset: str) -> None:
        self.reg = reg
        self.dataset = dataset
        self.ds = reg.dataset(dataset)
        self.n = self.ds.n  # not len(ds.ids): that converts every id (~0.1 s a request at 1M items)

    def names(self) -> list[str]:
        meta = [c.name for c in self.ds.columns if c.name not in self.ds.metrics and c.name != SPLIT]
        return list(self.ds.metrics) + [SPLIT, PROMPT] + meta

    def kind(self, name: str) -> str | None:
        """number | time | boolean | category | text (prompt is text, split a category); None if unknown."""
        if name in self.ds.metrics:
            return "number"
        if name == SPLIT:
            return "category"
        if name == PROMPT:
            return "text"
        if name in self.ds.columns:
            return self.ds.columns[name].kind
        return None

    def values(self, name: str) -> list:
        """Every value of a category-like column, most frequent first (split: train, test)."""
        return categories(self.ds, name)

    def numeric(self, name: str) -> np.ndarray:
        """float64 over all rows, NaN missing (times in ms since the epoch)."""
        return self.reg.once(("filter-numeric", self.dataset, name), lambda: read_column(self.ds, name, None))

    def codes(self, name: str) -> np.ndarray:
        """int32 codes into `values(name)` over all rows, -1 missing."""
        def load():
            if name == SPLIT:
                return split_codes(self.ds, None)
            return np.asarray(self.ds.columns[name].data, dtype=np.int32)
        return self.reg.once(("filter-codes", self.dataset, name), load)

    def text(self, name: str):
        """The column as one Arrow string array (prompt included)."""
        import pyarrow as pa

        def load():
            if name == PROMPT:
                return pa.array(self.reg.prompts(self.dataset), type=pa.large_string())
            return self.ds.columns[name].data.combine_chunks()
        return self.reg.once(("filter-text", self.dataset, name), load)

    def masks(self):
        return self.reg.once(("filter-masks", self.dataset), lambda: LRUCache(MASK_CACHE_BYTES, lambda a: a.nbytes))


def source_of(reg, dataset: str) -> ColumnSource:
    return ColumnSource(reg, dataset)


# ---- parsing ------------------------------------------------------------------------------------

def _number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def _time_ms(raw: Any, where: str) -> float:
    if _number(raw):
        return float(raw)
    if isinstance(raw, str):
        try:
            stamp = datetime.fromisoformat(raw.strip())
        except ValueError:
            bad_request(f"{where}: {raw!r} is not an ISO-8601 time (e.g. 2024-01-31 or 2024-01-31T12:00:00Z)")
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return float((stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _MS)
    bad_request(f"{where}: bounds of a time column are ms since 1970 UTC or ISO-8601 strings, got {raw!r}")


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)


def _parse_one(source: ColumnSource, raw: Any, i: int) -> Filter:
    if not isinstance(raw, dict):
        bad_request(f"filters[{i}] must be an object {{\"column\": ..., and one of {', '.join(OPS)}}}, got {raw!r}")
    name = raw.get("column")
    if not isinstance(name, str):
        bad_request(f"filters[{i}]: 'column' must be a column name, got {name!r}")
    kind = source.kind(name)
    if kind is None:
        bad_request(f"filters[{i}]: unknown column {name!r} (dataset '{source.dataset}' has: {', '.join(source.names())})")
    ops = [op for op in OPS if op in raw]
    allowed = {"column", *ops, *(("other",) if ops == ["in"] else ())}
    extra = sorted(set(raw) - allowed)
    if len(ops) != 1 or extra:
        bad_request(f"filter on column {name!r}: needs exactly one of {', '.join(OPS)}"
                    + (f" (unexpected: {', '.join(extra)})" if extra else ""))
    op = ops[0]
    where = f"filter on column {name!r}"
    if op == "range":
        if kind not in ("number", "time"):
            bad_request(f"{where}: 'range' needs a number or time column, {name!r} is {kind}")
        bounds = raw["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            bad_request(f"{where}: 'range' must be [lo, hi], got {bounds!r}")
        if kind == "time":
            lo, hi = (_time_ms(b, where) for b in bounds)
        else:
            if not all(_number(b) for b in bounds):
                bad_request(f"{where}: 'range' must hold two numbers, got {bounds!r}")
            lo, hi = (float(b) for b in bounds)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad_request(f"{where}: 'range' must hold finite numbers, got {bounds!r}")
        if lo > hi:
            bad_request(f"{where}: 'range' needs lo <= hi, got {bounds!r}")
        return Filter(name, op, (lo, hi))
    if op == "in":
        if kind not in ("category", "boolean"):
            bad_request(f"{where}: 'in' needs a category or boolean column, {name!r} is {kind}")
        values, other = raw["in"], raw.get("other", False)
        if not isinstance(other, bool):
            bad_request(f"{where}: 'other' must be true or false, got {other!r}")
        if not isinstance(values, list) or not (1 if not other else 0) <= len(values) <= MAX_IN_VALUES:
            bad_request(f"{where}: 'in' must be a list of 1 to {MAX_IN_VALUES} values (or empty with "
                        f"\"other\": true), got {values!r}"[:400])
        want = bool if kind == "boolean" else str
        bad = next((v for v in values if v is not None and not (type(v) is want)), None)
        if bad is not None:
            bad_request(f"{where}: 'in' values of a {kind} column are "
                        f"{'true, false' if kind == 'boolean' else 'strings'} or null, got {bad!r}")
        if kind == "boolean":
            values = [None if v is None else ("true" if v else "false") for v in values]
        return Filter(name, op, (tuple(sorted(set(values), key=lambda v: (v is None, v or ""))), other))
    if kind not in ("text", "category"):
        bad_request(f"{where}: 'contains' needs a text or category column (or prompt), {name!r} is {kind}")
    text = raw["contains"]
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_CONTAINS:
        bad_request(f"{where}: 'contains' must be a string of 1 to {MAX_CONTAINS} characters, got {text!r}"[:400])
    return Filter(name, op, text.lower())


def parse_filters(source: ColumnSource, raw: Any, where: str = "field 'filters'") -> Filters:
    """A filter list from JSON (None: no filters); 400 naming the column and the problem."""
    if raw is None:
        return NO_FILTERS
    if not isinstance(raw, list):
        bad_request(f"{where} must be a list of filters, got {type(raw).__name__}")
    if len(raw) > MAX_FILTERS:
        bad_request(f"{where} holds {len(raw)} filters, at most {MAX_FILTERS}")
    return Filters(tuple(_parse_one(source, f, i) for i, f in enumerate(raw)))


def parse_filter_arg(source: ColumnSource, raw: str | None) -> Filters:
    """The `filters` query parameter (URL-encoded JSON)."""
    if raw is None or raw == "":
        return NO_FILTERS
    try:
        decoded = json.loads(raw)
    except ValueError:
        bad_request("parameter 'filters' must be a JSON list of filters")
    return parse_filters(source, decoded, "parameter 'filters'")


# ---- evaluation ---------------------------------------------------------------------------------

def _allowed_codes(source: ColumnSource, f: Filter) -> np.ndarray:
    """A lookup table over codes: entry c for value c, the last one (index -1) for missing."""
    values = source.values(f.column)
    table = np.zeros(len(values) + 1, dtype=bool)
    if f.op == "contains":
        table[:-1] = [f.arg in str(v).lower() for v in values]
        return table
    wanted, other = f.arg
    index = {v: i for i, v in enumerate(values)}
    for v in wanted:
        if v is None:
            table[-1] = True
        elif v in index:
            table[index[v]] = True
    if other:
        table[TOP_VALUES:len(values)] = True
    return table


def filter_mask(source: ColumnSource, f: Filter, rows: np.ndarray | None) -> np.ndarray:
    """Boolean mask of one filter over `rows` (all rows when None)."""
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    kind = source.kind(f.column)
    if f.op == "range":
        values = pick(source.numeric(f.column))
        lo, hi = f.arg
        return (values >= lo) & (values <= hi)
    if kind in ("category", "boolean"):
        return _allowed_codes(source, f)[pick(source.codes(f.column))]
    import pyarrow as pa
    import pyarrow.compute as pc

    text = source.text(f.column)
    if rows is not None:
        text = text.take(pa.array(rows))
    found = pc.match_substring(text, f.arg, ignore_case=True)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def _combine(source: ColumnSource, filters: Filters, rows: np.ndarray | None) -> np.ndarray:
    """The AND of the filters over `rows`; over all rows, each filter's own mask comes from the cache,
    so moving one brush of several recomputes that filter only (a substring over 20M prompts takes
    seconds, a range a few tens of milliseconds)."""
    n = source.n if rows is None else len(rows)
    out = np.ones(n, dtype=bool)
    for f in filters.items:
        if rows is None:
            key = "one:" + json.dumps(f.key(), separators=(",", ":"))
            out &= source.masks().get_or_compute(key, lambda f=f: filter_mask(source, f, None))
        else:
            out &= filter_mask(source, f, rows)
    return out


def evaluate(source: ColumnSource, filters: Filters, rows: np.ndarray | None = None) -> np.ndarray:
    """Which of `rows` (all rows when None) pass every filter. The whole-dataset mask is computed
    (and cached) when asked for, when already cached, or when `rows` cover a large part of the data;
    a small view or lasso is evaluated over its own rows only."""
    if not filters:
        return np.ones(source.n if rows is None else len(rows), dtype=bool)
    cache = source.masks()
    whole = cache.get(filters.key)
    if whole is None and (rows is None or len(rows) * 8 >= source.n):
        whole = cache.get_or_compute(filters.key, lambda: _combine(source, filters, None))
    if whole is not None:
        return whole if rows is None else whole[rows]
    return _combine(source, filters, rows)


def apply(source: ColumnSource, filters: Filters, rows: np.ndarray | None) -> np.ndarray:
    """`rows` (all rows, ascending, when None) that pass every filter, in their given order."""
    mask = evaluate(source, filters, rows)
    return np.flatnonzero(mask) if rows is None else rows[mask]
