"""Parses and checks request parameters; every failure aborts with 400 naming the parameter."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from flask import abort, request

MAX_POLYGON_VERTICES = 1000
MAX_SELECTION_IDS = 100_000


def bad_request(message: str):
    """Abort the request with 400 and `message`."""
    abort(400, description=message)


def parse_int(name: str, raw: str | None, lo: int, hi: int, default: int | None = None) -> int:
    """`raw` as an int in [lo, hi]; `default` when absent (400 if required and missing)."""
    if raw is None or raw == "":
        if default is None:
            bad_request(f"parameter '{name}' is required (an integer in {lo}..{hi})")
        return default
    try:
        value = int(raw, 10)
    except (TypeError, ValueError):
        bad_request(f"parameter '{name}' must be an integer in {lo}..{hi}, got {raw!r}")
    if not lo <= value <= hi:
        bad_request(f"parameter '{name}' must be in {lo}..{hi}, got {value}")
    return value


def body_int(body: dict[str, Any], name: str, lo: int, hi: int, default: int) -> int:
    """JSON field `name` as an int in [lo, hi]; `default` when absent."""
    raw = body.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int):
        bad_request(f"field '{name}' must be an integer in {lo}..{hi}, got {raw!r}")
    if not lo <= raw <= hi:
        bad_request(f"field '{name}' must be in {lo}..{hi}, got {raw}")
    return raw


def parse_choice(name: str, raw: str | None, allowed: Iterable[str], default: str | None = None) -> str:
    """`raw` if it is one of `allowed`; `default` when absent."""
    allowed = list(allowed)
    if raw is None or raw == "":
        if default is None:
            bad_request(f"parameter '{name}' is required (one of {', '.join(allowed)})")
        return default
    if raw not in allowed:
        bad_request(f"parameter '{name}' must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def parse_bbox(raw: str | None) -> tuple[float, float, float, float]:
    """`x0,y0,x1,y1` as four finite floats with x0 <= x1 and y0 <= y1; the unit square if absent."""
    if raw is None or raw == "":
        return (0.0, 0.0, 1.0, 1.0)
    parts = raw.split(",")
    if len(parts) != 4:
        bad_request(f"parameter 'bbox' must be x0,y0,x1,y1 (four numbers), got {raw!r}")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        bad_request(f"parameter 'bbox' must be x0,y0,x1,y1 (four numbers), got {raw!r}")
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        bad_request(f"parameter 'bbox' must hold finite numbers, got {raw!r}")
    if x0 > x1 or y0 > y1:
        bad_request(f"parameter 'bbox' needs x0 <= x1 and y0 <= y1, got {raw!r}")
    return (x0, y0, x1, y1)


def body_bbox(raw: Any) -> tuple[float, float, float, float]:
    """JSON field 'bbox', [x0, y0, x1, y1], checked as `parse_bbox` checks the parameter."""
    if not isinstance(raw, list) or len(raw) != 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        bad_request(f"field 'bbox' must be [x0, y0, x1, y1] (four numbers), got {raw!r}"[:300])
    try:
        x0, y0, x1, y1 = (float(v) for v in raw)
    except OverflowError:
        x0 = math.inf
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        bad_request(f"field 'bbox' must hold finite numbers, got {raw!r}"[:300])
    if x0 > x1 or y0 > y1:
        bad_request(f"field 'bbox' needs x0 <= x1 and y0 <= y1, got {raw!r}")
    return (x0, y0, x1, y1)


def json_body() -> dict[str, Any]:
    """The request's JSON object (400 if the body is not a JSON object)."""
    if not request.is_json:
        bad_request("the request body must be JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        bad_request("the request body must be a JSON object")
    return body


def parse_polygon(raw: Any, max_vertices: int = MAX_POLYGON_VERTICES) -> np.ndarray:
    """A list of [x, y] pairs as a float64 (n, 2) array with 3 <= n <= max_vertices, all finite."""
    if not isinstance(raw, list):
        bad_request("field 'polygon' must be a list of [x, y] pairs")
    if not 3 <= len(raw) <= max_vertices:
        bad_request(f"field 'polygon' must have 3 to {max_vertices} vertices, got {len(raw)}")
    for i, vertex in enumerate(raw):
        if (not isinstance(vertex, list) or len(vertex) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vertex)):
            bad_request(f"field 'polygon' vertex {i} must be a pair of numbers [x, y], got {vertex!r}")
        try:
            finite = math.isfinite(float(vertex[0])) and math.isfinite(float(vertex[1]))
        except OverflowError:
            finite = False
        if not finite:
            bad_request(f"field 'polygon' vertex {i} must hold finite numbers, got {vertex!r}")
    poly = np.asarray(raw, dtype=np.float64)
    distinct = distinct_vertices(poly)
    if len(distinct) < 3:
        bad_request(f"field 'polygon' needs at least 3 distinct vertices (after merging repeated ones), "
                    f"got {len(distinct)}")
    if polygon_area(distinct) == 0.0:
        bad_request("field 'polygon' encloses no area (its vertices are collinear or too close together)")
    return poly


def distinct_vertices(poly: np.ndarray) -> np.ndarray:
    """`poly` without vertices equal to the one before them (the last compared with the first)."""
    keep = np.any(poly != np.roll(poly, 1, axis=0), axis=1)
    return poly[keep] if keep.any() else poly[:1]


def polygon_area(poly: np.ndarray) -> float:
    """Absolute shoelace area, relative to the first vertex (so offsets do not cancel digits)."""
    d = poly - poly[0]
    return abs(float(np.sum(d[:-1, 0] * d[1:, 1] - d[1:, 0] * d[:-1, 1]))) / 2.0


def parse_row_list(raw: Any, n_items: int, max_rows: int = MAX_SELECTION_IDS) -> np.ndarray:
    """A non-empty list of at most `max_rows` item rows, each in 0..n_items-1, as int64."""
    if not isinstance(raw, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        bad_request("field 'rows' must be a list of integer item rows")
    if not 1 <= len(raw) <= max_rows:
        bad_request(f"field 'rows' must hold 1 to {max_rows} rows, got {len(raw)}")
    bad = next((v for v in raw if not 0 <= v < n_items), None)
    if bad is not None:
        bad_request(f"field 'rows' holds row {bad}, outside 0..{n_items - 1}")
    return np.asarray(raw, dtype=np.int64)


def parse_id_list(raw: Any, max_ids: int = MAX_SELECTION_IDS) -> list[str]:
    """A non-empty list of at most `max_ids` item ids (strings)."""
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        bad_request("field 'ids' must be a list of item id strings")
    if not 1 <= len(raw) <= max_ids:
        bad_request(f"field 'ids' must hold 1 to {max_ids} ids, got {len(raw)}")
    return raw
