"""`/api/datasets/<dataset>/compare/spec`: where two embedding spaces of the same items disagree."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from dkmap.server.ops.spec import spec as spec_of
from dkmap.server.registry import registry
from dkmap.server.validation import bad_request, parse_int

log = logging.getLogger(__name__)

bp = Blueprint("compare", __name__, url_prefix="/api/datasets/<dataset>/compare")

MAX_K = 50
SAMPLE_PROMPTS = 5


def _space(ds, name: str, raw: str | None) -> str:
    """A known embedding space of the dataset (400 naming the allowed ones otherwise)."""
    allowed = ["image"] + ds.spaces
    if not raw:
        bad_request(f"parameter '{name}' is required (one of {', '.join(allowed)})")
    try:
        return ds.resolve_space(raw)
    except KeyError:
        bad_request(f"parameter '{name}' must be one of {', '.join(allowed)}, got {raw!r}")


@bp.get("/spec")
def spec(dataset: str):
    """SPEC-diff of spaces x and y and the top k clusters (computed once per process, then cached)."""
    reg = registry()
    ds = reg.dataset(dataset)
    x = _space(ds, "x", request.args.get("x"))
    y = _space(ds, "y", request.args.get("y"))
    if x == y:
        bad_request(f"parameters 'x' and 'y' must name different spaces, both are {x!r}")
    k = parse_int("k", request.args.get("k"), 1, MAX_K, default=10)
    result = spec_of(reg, dataset, x, y, k)
    prompts = ds.items["prompt"]
    ids = reg.ids(dataset)
    clusters = [
        {"eigenvalue": float(c.eigenvalue), "side": c.side,
         "ids": ids[c.rows].tolist(), "rows": c.rows.tolist(), "weights": c.weights.tolist(),
         "size": int(len(c.rows)),
         "sample_prompts": [str(prompts.iat[int(r)]) for r in c.rows[:SAMPLE_PROMPTS]]}
        for c in result.clusters
    ]
    return jsonify({"x": x, "y": y, "k": len(clusters), "spec_diff": result.spec_diff, "clusters": clusters})
