"""`GET /api/openapi.json`: the OpenAPI description of this API (docs/openapi.yaml), read once.

The one owner of where the description lives: in a clone, docs/openapi.yaml (what is edited, so a
stale copy never shadows it); installed from the wheel, the copy scripts/build_wheel.sh puts at
dkmap/openapi.yaml."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml
from flask import Blueprint, Response

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGED_SPEC = Path(__file__).resolve().parents[1] / "openapi.yaml"   # filled by scripts/build_wheel.sh

bp = Blueprint("openapi", __name__, url_prefix="/api")


def spec_path() -> Path:
    """docs/openapi.yaml in a clone, else the copy inside the installed package."""
    if (REPO_ROOT / "docs" / "openapi.yaml").is_file():
        return REPO_ROOT / "docs" / "openapi.yaml"
    return PACKAGED_SPEC


@lru_cache(maxsize=1)
def spec() -> dict:
    """The description as a dict (parsed once per process)."""
    with open(spec_path(), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def _spec_json() -> bytes:
    return json.dumps(spec(), separators=(",", ":")).encode()


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3 document of every route, as JSON."""
    return Response(_spec_json(), mimetype="application/json")
