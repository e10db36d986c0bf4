"""The DKMap server a notebook kernel runs for its widgets: waitress on a free loopback port in a
daemon thread, one per data folder, framable by Jupyter pages on this machine."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from dkmap.server.app import create_app
from dkmap.server.serve import make_server

# Jupyter pages opened on this machine may frame the widget's app (CSP frame-ancestors sources).
LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*",
                 "https://localhost:*", "https://127.0.0.1:*")
_servers: dict[Path, "KernelServer"] = {}
_lock = threading.Lock()


@dataclass
class KernelServer:
    data_dir: Path
    url: str
    app: object
    _server: object
    _thread: threading.Thread

    def close(self) -> None:
        self._server.close()
        with _lock:
            _servers.pop(self.data_dir, None)


def kernel_server(data_dir: str | Path) -> KernelServer:
    """The running server over `data_dir`, started on first use."""
    root = Path(data_dir).resolve()
    with _lock:
        if root not in _servers:
            app = create_app({"DATA_DIR": str(root), "FRAME_ANCESTORS": list(LOCAL_ORIGINS)})
            server = make_server(app, host="127.0.0.1", port=0, threads=8)
            thread = threading.Thread(target=server.run, name=f"dkmap-widget-server {root.name}", daemon=True)
            thread.start()
            _servers[root] = KernelServer(root, f"http://127.0.0.1:{server.effective_port}", app, server, thread)
        return _servers[root]
