"""Turns every error into the API's JSON shape `{"error": {"code", "message"}}`: the one place where
domain errors (`dkmap.errors`) become HTTP statuses."""

from __future__ import annotations

import logging

from pathlib import Path

from flask import Flask, current_app, has_app_context, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from dkmap.errors import NotFound, Unavailable
from dkmap.server.snapshot import DatasetChanged

log = logging.getLogger(__name__)


def error_response(code: int, message: str):
    """A JSON error body with its status code; server folders in the message are left out."""
    response = jsonify({"error": {"code": int(code), "message": error_message(message)}})
    response.status_code = int(code)
    return response


def error_message(message: str) -> str:
    """`message` as a client may read it: server folders left out."""
    return _without_paths(str(message))


def register_error_handlers(app: Flask) -> None:
    """Install handlers so no 4xx/5xx ever answers with HTML or a traceback."""

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        cap = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, f"request body too large: the limit is {cap} bytes")

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return error_response(404, str(exc))

    @app.errorhandler(Unavailable)
    def _unavailable(exc: Unavailable):
        return error_response(503, str(exc))

    @app.errorhandler(DatasetChanged)
    def _changed(exc: DatasetChanged):
        response = error_response(503, f"{exc}; the dataset changed on disk (re-ingested or rebuilt) "
                                       "while this request was answered: retry it")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = exc.code or 500
        message = exc.description or exc.name
        if code == 404 and message == _default_description(404):
            message = f"no such endpoint: {request.path}"
        elif code == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        response = error_response(code, message)
        if code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)   # required on a 405 (RFC 9110)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Log the traceback on the server; the client only learns that it failed.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError.description)


def _without_paths(message: str) -> str:
    if not has_app_context():
        return message
    from dkmap.server.guards import scrub_paths

    config = current_app.config
    folders = [config.get("DATA_DIR"), config.get("FRONTEND_DIST"), Path(__file__).resolve().parents[3]]
    folders = [f for f in folders if f]
    return scrub_paths(message, [*map(str, folders), *(str(Path(f).resolve()) for f in folders)])


def _default_description(code: int) -> str:
    from werkzeug.exceptions import default_exceptions

    return default_exceptions[code].description
