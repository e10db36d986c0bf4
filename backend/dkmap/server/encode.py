"""Fast JSON text for large numeric arrays (printf formatting beats json.dumps of Python lists).

`%.9g` round-trips float32 exactly; non-finite values become JSON null.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

FLOAT32_FMT = "%.9g"
FLOAT64_FMT = "%.10g"


def _finite_or_nan(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, np.nan) if not np.isfinite(a).all() else a


def float_list(a: np.ndarray, fmt: str = FLOAT32_FMT) -> str:
    """A 1-D float array as a JSON list (NaN/inf as null)."""
    a = _finite_or_nan(np.asarray(a).ravel())
    if a.size == 0:
        return "[]"
    text = ((fmt + ",") * a.size)[:-1] % tuple(a.tolist())
    return "[" + text.replace("nan", "null") + "]"


def float_grid(a: np.ndarray, fmt: str = FLOAT32_FMT) -> str:
    """A 2-D float array as a JSON list of rows (NaN/inf as null)."""
    a = _finite_or_nan(np.asarray(a))
    if a.ndim != 2:
        raise ValueError(f"float_grid needs a 2-D array, got shape {a.shape}")
    row_fmt = "[" + ",".join([fmt] * a.shape[1]) + "]"
    body = ",".join(row_fmt % tuple(r) for r in a.tolist())
    return "[" + body.replace("nan", "null") + "]"


def int_list(a: np.ndarray) -> str:
    """A 1-D integer array as a JSON list."""
    a = np.asarray(a).ravel()
    return "[" + ",".join(map(str, a.tolist())) + "]"


def obj(fields: dict[str, Any], raw: dict[str, str] | None = None) -> str:
    """A JSON object from plain `fields` (json.dumps) followed by `raw` fields (pre-encoded JSON text)."""
    parts = [json.dumps(k) + ":" + json.dumps(v, allow_nan=False, separators=(",", ":"))
             for k, v in fields.items()]
    parts += [json.dumps(k) + ":" + v for k, v in (raw or {}).items()]
    return "{" + ",".join(parts) + "}"


def as_printed(a: np.ndarray, digits: int = 10) -> np.ndarray:
    """float64 equal to float("%.{digits}g" % v) for each v: what a JSON reader gets from FLOAT64_FMT
    text, computed without formatting. Non-finite values pass through.

    m = rint(v·10^p) is the decimal's integer mantissa; m / 10^p is then one correctly rounded
    division of exact doubles, i.e. the nearest double to the decimal. Where v·10^p lies too near a
    half (rounding of the product may differ from printf's exact decimal) or the exponent guess is
    off, the value is formatted after all."""
    a = np.asarray(a, dtype=np.float64).ravel()
    out = a.copy()
    sel = np.flatnonzero(np.isfinite(a) & (a != 0))
    v = a[sel]
    p = (digits - 1 - np.floor(np.log10(np.abs(v)))).astype(np.int64)
    ok = np.abs(p) <= 22
    pw = 10.0 ** np.abs(np.where(ok, p, 0))
    scaled = np.where(p >= 0, v * pw, v / pw)
    m = np.rint(scaled)
    frac = np.abs(scaled - np.trunc(scaled))
    ok &= (np.abs(frac - 0.5) > 1e-6) & (np.abs(scaled) >= 10.0 ** (digits - 1)) & (np.abs(scaled) < 10.0 ** digits)
    out[sel] = np.where(p >= 0, m / pw, m * pw)
    fmt = f"%.{digits}g"
    for i in sel[~ok]:
        out[i] = float(fmt % a[i])
    return out
