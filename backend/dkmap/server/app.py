"""The Flask app factory: configuration, shared registry, blueprints, JSON errors, frontend files."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, abort, current_app, request, send_from_directory
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from dkmap.errors import NotFound

from dkmap.server import compare, datasets, export, histograms, items, maps, openapi, place, search, selection, sprites
from dkmap.server.errors import register_error_handlers
from dkmap.server.guards import install_guards
from dkmap.server.registry import EXTENSION_KEY, Registry
from dkmap.server.snapshot import DatasetChanged

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGED_FRONTEND = Path(__file__).resolve().parents[1] / "static"   # filled by scripts/build_wheel.sh


def default_frontend_dist() -> Path:
    """In a clone, frontend/dist (what `npm run build` updates, so a stale packaged copy never shadows
    it); installed from the wheel, the copy of it the wheel carries as dkmap/static/."""
    if (REPO_ROOT / "frontend" / "package.json").is_file():
        return REPO_ROOT / "frontend" / "dist"
    return PACKAGED_FRONTEND


DEFAULTS = {
    "DATA_DIR": "data/datasets",
    "FRONTEND_DIST": str(default_frontend_dist()),
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "TILE_CACHE_BYTES": 256 * 1024 * 1024,
    "SPRITE_CACHE_BYTES": 128 * 1024 * 1024,
    "KEYWORD_MAX_DOCS": 250,
    "SELECTION_SAMPLE": 20_000,
    "MAX_OPEN_MAPS": 8,             # built maps kept open (least recently used closed first)
    "MAP_MEMORY_BYTES": 64 << 20,   # per open map: arrays read into memory, larger ones memory-mapped
    "SEMANTIC_INDEX_MAX_BYTES": 8 << 30,  # per dataset: the index (vectors or 8-bit codes) search by meaning holds
    "ALLOWED_HOSTS": None,   # Host headers answered (name or name:port); None: any (dkmap serve sets it)
    "FRAME_ANCESTORS": None,  # CSP sources that may frame the app (the notebook widget); None: none may
}
# Routes whose bodies may be larger than MAX_CONTENT_LENGTH (uploaded images).
ENDPOINT_BODY_CAPS = {"place.place_pair": place.MAX_BODY_BYTES}
NO_FRONTEND = ("DKMap API is running, but the frontend is not built (frontend/dist is missing): run "
               "scripts/setup.sh in a clone, or install a wheel built by scripts/build_wheel.sh, then reload.\n")


class DKMapFlask(Flask):
    """Flask, answering a request again (once) when the dataset or map it read changed on disk
    meanwhile: an error caused by files replaced mid-request is never a client's 500."""

    def dispatch_request(self):
        reg = self.extensions[EXTENSION_KEY]
        for attempt in (1, 2):
            try:
                return super().dispatch_request()
            except (HTTPException, NotFound):
                raise
            except Exception as exc:
                if not isinstance(exc, DatasetChanged) and not reg.request_saw_change():
                    raise
                if attempt == 2:
                    raise exc if isinstance(exc, DatasetChanged) else DatasetChanged(
                        "the files read changed twice") from exc
                log.info("%s %s: the files changed while it was answered (%s); answering again",
                         request.method, request.path, exc)
                reg.forget_request()


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides DATA_DIR, FRONTEND_DIST, MAX_CONTENT_LENGTH, TILE_CACHE_BYTES,
    SPRITE_CACHE_BYTES (thumbnail sheets held in memory), KEYWORD_MAX_DOCS (prompts sampled for keyphrase extraction per selection), SELECTION_SAMPLE (selected
    items whose positions, ids and keyword bars a selection sends), MAX_OPEN_MAPS (built maps kept open),
    MAP_MEMORY_BYTES (per open map, arrays read into memory; larger ones memory-mapped),
    SEMANTIC_INDEX_MAX_BYTES (the memory a dataset's search-by-meaning index may hold; above it
    semantic search answers 503 naming the need), ALLOWED_HOSTS (Host headers answered,
    `name` or `name:port`; others get 400, against DNS rebinding; None answers any)."""
    app = DKMapFlask(__name__, static_folder=None)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["DEBUG"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    install_guards(app)
    app.json.sort_keys = False
    app.json.compact = True

    app.extensions[EXTENSION_KEY] = Registry(app.config["DATA_DIR"], int(app.config["TILE_CACHE_BYTES"]),
                                             int(app.config["KEYWORD_MAX_DOCS"]),
                                             int(app.config["SELECTION_SAMPLE"]),
                                             int(app.config["MAX_OPEN_MAPS"]), int(app.config["MAP_MEMORY_BYTES"]))
    register_error_handlers(app)
    app.before_request(_refuse_oversized_bodies)
    for module in (datasets, maps, selection, histograms, export, items, compare, search, place, sprites, openapi):
        app.register_blueprint(module.bp)
    _add_frontend_routes(app, Path(app.config["FRONTEND_DIST"]))
    log.info("serving datasets from %s", app.extensions[EXTENSION_KEY].data_dir)
    return app


def _refuse_oversized_bodies() -> None:
    """413 before any lookup when the declared body exceeds the cap (Werkzeug only checks on read)."""
    cap = ENDPOINT_BODY_CAPS.get(request.endpoint) or current_app.config.get("MAX_CONTENT_LENGTH")
    if request.endpoint in ENDPOINT_BODY_CAPS:
        request.max_content_length = cap
    if cap is not None and request.content_length is not None and request.content_length > cap:
        raise RequestEntityTooLarge()


def _add_frontend_routes(app: Flask, dist: Path) -> None:
    """`/` serves the built frontend's index.html, other paths its static files (safe-joined)."""

    @app.get("/")
    def index():
        if not (dist / "index.html").is_file():
            return Response(NO_FRONTEND, status=503, mimetype="text/plain")
        return send_from_directory(dist, "index.html", max_age=0)

    @app.get("/<path:filename>")
    def static_file(filename: str):
        if filename.startswith("api/"):
            _refuse_api_path(app)
        if not dist.is_dir():
            abort(404)
        return send_from_directory(dist, filename)


def _refuse_api_path(app: Flask) -> None:
    """A GET under /api/ that only this catch-all matched: 405 (with Allow) when the path is an API
    route of other methods, else 404."""
    adapter = app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            adapter.match(method=method)
            allowed.add(method)
        except HTTPException:
            pass
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed | {"OPTIONS"}))
    abort(404)
