"""`GET /api/datasets/<dataset>/search`: prompts by their words (full text) or by meaning (MiniLM)."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from dkmap.search import semantic, text
from dkmap.search.prompts import PromptError, embed_prompt
from dkmap.server.registry import registry
from dkmap.server.validation import bad_request, parse_choice, parse_int

log = logging.getLogger(__name__)

bp = Blueprint("search", __name__, url_prefix="/api/datasets/<dataset>/search")

MODES = ("text", "semantic")
FIELDS = ("rows", "ids", "prompts", "scores")
MAX_LIMIT = 100_000
MAX_OFFSET = 1_000_000_000


def text_index(reg, dataset: str) -> text.TextIndex:
    """The dataset's full-text index, opened (and built, or rebuilt when stale) once per process."""
    ds = reg.dataset(dataset)
    stamp = text.fingerprint(ds.root, ds.meta)

    def load():
        prompts = reg.prompts(dataset)
        try:
            return text.open_index(ds.root, ds.meta, prompts)
        except OSError as exc:  # a read-only dataset folder: keep the index in the temporary folder
            name = hashlib.sha256(f"{ds.root}|{stamp}".encode()).hexdigest()[:16]
            log.warning("cannot write the text index into %s (%s): using the temporary folder", ds.root, exc)
            return text.open_index(ds.root, ds.meta, prompts, path=Path(tempfile.gettempdir()) / f"dkmap-text-{name}.sqlite")

    return reg.once(("text-index", dataset, stamp), load)


def semantic_index(reg, dataset: str) -> semantic.SemanticIndex:
    """The dataset's index over its `minilm` space, opened once per process."""
    ds = reg.dataset(dataset)
    if semantic.SPACE not in ds.spaces:
        bad_request(f"dataset '{dataset}' has no '{semantic.SPACE}' space to search by meaning")
    cap = current_app.config["SEMANTIC_INDEX_MAX_BYTES"]
    return reg.once(("semantic-index", dataset), lambda: semantic.open_semantic_index(ds, cap))


def _min_score() -> float:
    raw = request.args.get("min_score")
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        bad_request(f"parameter 'min_score' must be a number in -1..1, got {raw!r}")
    if not -1.0 <= value <= 1.0:
        bad_request(f"parameter 'min_score' must be in -1..1, got {raw!r}")
    return value


def _fields() -> list[str]:
    raw = request.args.get("fields")
    if not raw:
        return list(FIELDS)
    wanted = raw.split(",")
    bad = [f for f in wanted if f not in FIELDS]
    if bad:
        bad_request(f"parameter 'fields' lists '{bad[0]}'; allowed: {', '.join(FIELDS)}")
    return wanted


@bp.get("")
def search(dataset: str):
    """One page of the prompts matching `q`, best first, and how many match in all."""
    reg = registry()
    ds = reg.dataset(dataset)
    query = request.args.get("q", "")
    mode = parse_choice("mode", request.args.get("mode"), MODES, default="text")
    limit = parse_int("limit", request.args.get("limit"), 1, MAX_LIMIT, default=20)
    offset = parse_int("offset", request.args.get("offset"), 0, MAX_OFFSET, default=0)
    fields = _fields()
    extra: dict = {}
    if mode == "text":
        try:
            hits = text_index(reg, dataset).search(query, limit, offset)
        except text.QueryError as exc:
            bad_request(f"parameter 'q': {exc}")
        count, rows, scores = hits.count, hits.rows, hits.scores
    else:
        min_score = _min_score()
        try:
            embedded = embed_prompt(query)
        except PromptError as exc:
            bad_request(f"parameter 'q': {exc}".replace("'prompt'", "the query"))
        found = semantic_index(reg, dataset).search(embedded.vector, min_score)
        count = len(found.rows)
        rows, scores = found.rows[offset:offset + limit], found.scores[offset:offset + limit]
        extra = {"min_score": min_score, "capped": found.capped, "max_results": semantic.MAX_RESULTS}
        if embedded.truncated:
            extra["warning"] = embedded.warning().replace("prompt", "query", 1)
    next_offset = offset + len(rows) if offset + len(rows) < count else None
    body = {"query": query, "mode": mode, "count": int(count), "offset": offset, "limit": limit,
            "next_offset": next_offset, **extra}
    rows = np.asarray(rows, dtype=np.int64)
    if "rows" in fields:
        body["rows"] = rows.tolist()
    if "ids" in fields:
        body["ids"] = reg.ids(dataset)[rows].tolist()
    if "prompts" in fields:
        body["prompts"] = [str(p) for p in reg.prompts(dataset)[rows]]
    if "scores" in fields:
        body["scores"] = [float(s) for s in scores]
    return jsonify(body)
