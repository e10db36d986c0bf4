"""Defences of the HTTP surface: security headers, the Host check, bounded JSON parsing, and
path-free error messages. Installed on the app by `install_guards`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

# The built frontend loads its module scripts, styles, worker and images from this origin only;
# D3 writes inline style properties; the favicon is a data: URI and the canvas may export blob: URLs.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested deeper than Python's recursion limit is a 400, not a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise BadRequest("the request body's JSON is nested too deeply") from None


def is_loopback(host: str) -> bool:
    """Whether `host` (as given to `dkmap serve --host`) names this machine's loopback interface."""
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def loopback_hosts(port: int) -> list[str]:
    """Host headers a browser sends to a server bound to loopback on `port`."""
    names = [f"{name}:{port}" for name in LOOPBACK_NAMES]
    return names + list(LOOPBACK_NAMES) if port == 80 else names


def _split_host(value: str) -> tuple[str, str | None]:
    """('name', 'port' or None) of a Host header or an ALLOWED_HOSTS entry, lower-cased."""
    value = value.strip().lower()
    match = re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]]*)(?::(\d+))?", value)
    if match is None:
        return value, None
    return match.group(1), match.group(2)


def host_allowed(header: str, allowed: Iterable[str]) -> bool:
    """Whether a Host header matches an entry: `name:port` exactly, or `name` with any port."""
    name, port = _split_host(header)
    for entry in allowed:
        want_name, want_port = _split_host(entry)
        if name == want_name and (want_port is None or want_port == port):
            return True
    return False


def scrub_paths(message: str, paths: Iterable[str | Path]) -> str:
    """`message` with the given server folders (and anything absolute below them) left out."""
    for path in sorted({str(p) for p in paths if str(p) not in ("", "/")}, key=len, reverse=True):
        message = re.sub(re.escape(path) + r"[^\s'\")]*", "<server path>", message)
    return message


def install_guards(app: Flask) -> None:
    """Bounded JSON, the Host check (when ALLOWED_HOSTS is set) and security headers on every answer."""
    app.json = BoundedJSONProvider(app)

    @app.before_request
    def _check_host():
        allowed = app.config.get("ALLOWED_HOSTS")
        if allowed and not host_allowed(request.host, allowed):
            raise BadRequest(f"Host header {request.host!r} is not allowed: this server answers to "
                             f"{', '.join(allowed)} (add names with dkmap serve --allowed-host NAME[:PORT])")

    headers = dict(SECURITY_HEADERS)
    ancestors = app.config.get("FRAME_ANCESTORS")
    if ancestors:   # the notebook widget's server is framed by the Jupyter page (dkmap.widget)
        del headers["X-Frame-Options"]
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "frame-ancestors 'none'", "frame-ancestors " + " ".join(ancestors))

    @app.after_request
    def _headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def error_json(code: int, message: str) -> bytes:
    """The API's error body `{"error": {"code", "message"}}` as bytes."""
    return json.dumps({"error": {"code": int(code), "message": message}}).encode()
