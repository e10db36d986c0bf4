"""`dkmap.server.serve.serve`: waitress on loopback, bodies capped before they reach the app, its own
refusals in the API's JSON form, Host headers checked (DNS rebinding), a busy port said in one line."""

from __future__ import annotations

import json
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
    code = (f"from dkmap.server.serve import serve; serve({str(tiny_data_dir)!r}, port={port}, threads=2, "
            "allowed_hosts=['proxy.example', 'other.example:8443'])")
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
    assert r.headers["Content-Type"] == "application/json"
    error = r.json()["error"]
    assert error["code"] == 413
    if size < 1 << 20:
        assert "request body too large" in error["message"]
    else:  # refused by waitress itself, before the app: the same JSON form and headers
        assert "Request Entity Too Large" in error["message"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def raw_request(url: str, data: bytes) -> tuple[str, dict, bytes]:
    """Send raw bytes to the server; its status line, headers and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}, body


@pytest.mark.parametrize("request_bytes, needle", [
    (b"POST /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", "Content-Length is invalid"),
    (b"POST /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n", "Content-Length is invalid"),
    (b"NOT AN HTTP REQUEST\r\n\r\n", "Bad Request"),
    (b"GET /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n", "Bad Request"),
])
def test_waitress_rejections_come_as_json(served, request_bytes, needle):
    status, headers, body = raw_request(served, request_bytes)
    assert status.split()[1] == "400", status
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff" and "content-security-policy" in headers
    error = json.loads(body)["error"]
    assert error["code"] == 400 and needle in error["message"]


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("LOCALHOST:{port}", True), ("[::1]:{port}", True),
    ("proxy.example", True), ("proxy.example:1234", True),          # configured: any port
    ("other.example:8443", True), ("other.example:9999", False),    # configured with its port
    ("evil.example:{port}", False), ("evil.example", False), ("127.0.0.1:1", False), ("localhost", False),
    ("localhost.evil.example:{port}", False), ("", False),
])
def test_host_header_is_checked_when_bound_to_loopback(served, host, ok):
    port = served.rsplit(":", 1)[1]
    r = requests.get(served + "/api/datasets", headers={"Host": host.format(port=port)}, timeout=30)
    if ok:
        assert r.status_code == 200
    else:
        assert r.status_code == 400
        error = r.json()["error"]
        assert "is not allowed" in error["message"] and "--allowed-host" in error["message"]


def test_serve_on_a_busy_port_is_one_line(served, tiny_data_dir):
    port = served.rsplit(":", 1)[1]
    proc = subprocess.run([sys.executable, "-m", "dkmap.cli", "serve", "--data", str(tiny_data_dir),
                           "--port", port], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]


@pytest.mark.parametrize("port, threads, needle", [(70000, 8, "port must be in 0..65535"),
                                                    (5000, 0, "threads must be >= 1")])
def test_bad_arguments_are_refused(port, threads, needle):
    from dkmap.server.serve import serve

    with pytest.raises(ValueError, match=needle):
        serve("data/datasets", port=port, threads=threads)


def test_150_idle_half_sent_connections_do_not_block_a_normal_request(served):
    port = int(served.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(150):   # waitress's default connection limit is 100
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\n")   # headers never finished
            idle.append(sock)
        r = requests.get(served + "/api/datasets", timeout=10)
        assert r.status_code == 200 and [d["name"] for d in r.json()["datasets"]] == ["tiny"]
    finally:
        for sock in idle:
            sock.close()


def test_the_server_bounds_how_long_a_client_may_take_and_holds_many_connections():
    from dkmap.server.serve import CHANNEL_TIMEOUT_S, connection_limit

    assert CHANNEL_TIMEOUT_S <= 60
    assert connection_limit() > 100
