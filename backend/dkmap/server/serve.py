"""Runs the API with waitress, a production WSGI server, bound to loopback unless told otherwise.

Waitress's own refusals (a bad request line or Content-Length, a body over its cap) answer in the
API's JSON error form with the security headers; bound to loopback, only Host headers naming this
machine are answered (DNS rebinding), others on request with `allowed_hosts`.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Sequence

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from dkmap.server.app import create_app
from dkmap.server.guards import SECURITY_HEADERS, error_json, is_loopback, loopback_hosts

log = logging.getLogger(__name__)

# Large lassos and deep tiles take up to seconds on a CPU; with few worker threads they occupy them
# all and cached tiles queue behind them (measured: BENCHMARKS.md, "API server (issue 6)").
DEFAULT_THREADS = 32
# A client has this long to send its request (waitress closes connections idle longer), and as many
# connections are accepted as the process may open files, polled (select() stops at 1024).
CHANNEL_TIMEOUT_S = 30
FILES_KEPT_FREE = 256   # descriptors left for data files, the Faiss index and logs


def connection_limit() -> int:
    """Connections the machine lets this process hold: its open-file limit (raised to the hard
    limit) less FILES_KEPT_FREE."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    soft = 65536 if soft == resource.RLIM_INFINITY else soft
    return max(100, int(soft) - FILES_KEPT_FREE)


class ServeError(RuntimeError):
    """The server could not start (e.g. its port is taken); the message says why in one line."""


class JsonErrorTask(ErrorTask):
    """Waitress's error answer, as the API's `{"error": {"code", "message"}}` JSON."""

    def execute(self):
        error = self.request.error
        body = error_json(error.code, f"{error.reason}: {error.body}")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), *SECURITY_HEADERS.items()])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask


def make_server(app, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS,
                allowed_hosts: Sequence[str] | None = None, **adjustments):
    """A waitress server for `app` (not yet running) whose own errors are JSON. Bound to loopback, it
    answers Host headers naming loopback with its port, plus `allowed_hosts` (name or name:port);
    elsewhere, any Host unless `allowed_hosts` is given. ServeError when the port is taken."""
    from waitress.server import BaseWSGIServer, create_server

    try:
        adjustments = {"channel_timeout": CHANNEL_TIMEOUT_S, "connection_limit": connection_limit(),
                       "asyncore_use_poll": True, **adjustments}
        server = create_server(app, host=host, port=port, threads=threads, ident="dkmap", **adjustments)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is already in use (is another dkmap serve running?); "
                             "stop it or choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"not allowed to bind port {port} on {host}; choose a port above 1023 with --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    servers = [s for s in [server, *getattr(server, "map", {}).values()] if isinstance(s, BaseWSGIServer)]
    for s in servers:
        s.channel_class = JsonErrorChannel
    allowed = list(allowed_hosts or [])
    if is_loopback(host):
        bound = sorted({int(s.effective_port) for s in servers}) or [port]
        allowed = [h for p in bound for h in loopback_hosts(p)] + allowed
    app.config["ALLOWED_HOSTS"] = allowed or None
    return server


def serve(data_dir: str | Path, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS,
          config: dict | None = None, allowed_hosts: Sequence[str] | None = None) -> None:
    """Serve every dataset folder under `data_dir` until interrupted."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, got {port}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    app = create_app({**(config or {}), "DATA_DIR": str(data_dir)})
    if not is_loopback(host):
        log.warning("binding to %s: the API is reachable from other machines", host)
    # Waitress buffers whole bodies before Flask sees them: cap them there too (Flask's own
    # cap, lower, answers with the JSON 413).
    body_cap = max(4 * int(app.config["MAX_CONTENT_LENGTH"]), 1 << 20)
    server = make_server(app, host=host, port=port, threads=threads, allowed_hosts=allowed_hosts,
                         max_request_body_size=body_cap)
    log.info("DKMap serving %s on http://%s:%d/ (Host headers answered: %s)", data_dir, host, port,
             ", ".join(app.config["ALLOWED_HOSTS"] or ["any"]))
    logging.basicConfig()
    server.print_listen("Serving on http://{}:{}")
    server.run()
