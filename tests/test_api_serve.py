"""`dkmap.server.serve.serve`: waitress on loopback, bodies capped before they reach the app."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_data_dir):
    port = free_port()
    code = f"from dkmap.server.serve import serve; serve({str(tiny_data_dir)!r}, port={port}, threads=2)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            requests.get(url + "/api/datasets", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_serves_the_api_with_waitress_on_loopback(served):
    r = requests.get(served + "/api/datasets", timeout=30)
    assert r.status_code == 200 and r.headers["Server"] == "dkmap"
    assert [d["name"] for d in r.json()["datasets"]] == ["tiny"]


@pytest.mark.parametrize("size", [300 * 1024, 8 << 20])
def test_oversized_bodies_are_refused(served, size):
    # 300 KiB passes waitress (cap 1 MiB) and meets Flask's JSON 413; 8 MiB is refused by waitress.
    body = b'{"polygon": [' + b"[0.5, 0.5]," * (size // 11) + b"[0, 0]]}"
    r = requests.post(served + "/api/maps/tiny/clip_a/selection", data=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
    if size < 1 << 20:
        assert "request body too large" in r.json()["error"]["message"]


@pytest.mark.parametrize("port, threads, needle", [(70000, 8, "port must be in 0..65535"),
                                                    (5000, 0, "threads must be >= 1")])
def test_bad_arguments_are_refused(port, threads, needle):
    from dkmap.server.serve import serve

    with pytest.raises(ValueError, match=needle):
        serve("data/datasets", port=port, threads=threads)
