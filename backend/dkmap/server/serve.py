"""Runs the API with waitress, a production WSGI server, bound to loopback unless told otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

from dkmap.server.app import create_app

log = logging.getLogger(__name__)

# Large lassos and deep tiles take up to seconds on a CPU; with few worker threads they occupy them
# all and cached tiles queue behind them (measured: BENCHMARKS.md, "API server (issue 6)").
DEFAULT_THREADS = 32


def serve(data_dir: str | Path, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS,
          config: dict | None = None) -> None:
    """Serve every dataset folder under `data_dir` until interrupted."""
    import waitress

    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, got {port}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    app = create_app({**(config or {}), "DATA_DIR": str(data_dir)})
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding to %s: the API is reachable from other machines", host)
    log.info("DKMap serving %s on http://%s:%d/", data_dir, host, port)
    # Waitress buffers whole bodies before Flask sees them: cap them there too (Flask's own
    # cap, lower, answers with the JSON 413).
    body_cap = max(4 * int(app.config["MAX_CONTENT_LENGTH"]), 1 << 20)
    waitress.serve(app, host=host, port=port, threads=threads, ident="dkmap",
                   max_request_body_size=body_cap)
