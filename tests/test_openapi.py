"""docs/openapi.yaml: served at /api/openapi.json, and describing exactly the routes the app has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dkmap.server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SPEC_FILE = ROOT / "docs" / "openapi.yaml"
# Flask answers these on every route by itself; they are not part of the described API.
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every rule of the app, `<conv:name>` written `{name}`."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(method, path) for method in rule.methods - AUTOMATIC_METHODS}
    return routes


def spec_routes(spec: dict) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(m.upper(), path) for path, item in spec["paths"].items() for m in item if m in methods}


def test_every_route_is_described_and_nothing_else(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path)})
    spec = yaml.safe_load(SPEC_FILE.read_text())
    routes, described = app_routes(app), spec_routes(spec)
    assert routes - described == set(), "routes missing from docs/openapi.yaml"
    assert described - routes == set(), "docs/openapi.yaml describes routes the app does not have"
    assert ("GET", "/api/maps/{dataset}/{metric}/contour/{z}/{x}/{y}") in routes
    assert len(routes) == 20


def test_every_path_parameter_is_declared():
    spec = yaml.safe_load(SPEC_FILE.read_text())
    refs = spec["components"]["parameters"]
    for path, item in spec["paths"].items():
        for method, op in ((m, o) for m, o in item.items() if m != "parameters"):
            params = [refs[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                      for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            assert "200" in op["responses"], (method, path)


def test_served_as_json_equal_to_the_yaml(tmp_path):
    client = create_app({"DATA_DIR": str(tmp_path)}).test_client()
    res = client.get("/api/openapi.json")
    assert res.status_code == 200
    assert res.mimetype == "application/json"
    assert res.get_json() == yaml.safe_load(SPEC_FILE.read_text())
    assert res.headers["X-Content-Type-Options"] == "nosniff"
