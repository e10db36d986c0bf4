"""Shared fixtures: a small built demo dataset, a real server process on loopback, a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_build_settings():
    """Build settings small enough for the test suite: few epochs, small tiles, few levels."""
    from dkmap.config import BuildSettings

    return BuildSettings(epochs=4, batch_size=500, tile_size=64, max_grid=256, max_level=5)


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory) -> Path:
    """A DATA_DIR holding the small demo dataset with every metric's map built by the real pipeline."""
    from dkmap.data.demo.build import build_demo
    from dkmap.data.store import open_dataset
    from dkmap.pipeline import build_map

    data_dir = tmp_path_factory.mktemp("data")
    root = build_demo(data_dir, size="small", seed=0, progress=False)
    for metric in open_dataset(root).metrics:
        build_map(root, metric, settings=small_build_settings(), progress=False)
    return data_dir


class LiveServer:
    """`dkmap serve` in a subprocess on 127.0.0.1, stopped at the end of the session."""

    def __init__(self, data_dir: Path, *options: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / f"server-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dkmap.cli", "serve", "--data", str(data_dir), "--port", str(self.port), *options],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dkmap serve exited with status {self.proc.returncode}")
            try:
                if requests.get(self.url + "/api/datasets", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("dkmap serve did not answer within 120 s")

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=kw.pop("timeout", 60), **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.url + path, timeout=kw.pop("timeout", 120), **kw)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def live_server(built_data_dir) -> LiveServer:
    server = LiveServer(built_data_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; a missing browser is a failure, never a skip."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: scripts/test.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh 1400×900 page; console errors are collected on `page.console_errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()


@pytest.fixture
def screenshot(page, request):
    """Save a named screenshot of the current page under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
