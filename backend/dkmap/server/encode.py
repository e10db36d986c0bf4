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
