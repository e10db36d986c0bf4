"""The one conftest: the tiny built dataset with the Flask app and test client over it (most API
tests), a waitress server in a thread over it (tests of HTTP itself), the small built demo dataset
with `dkmap serve` in a subprocess (end-to-end and browser tests), and a real browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.live_server import ARTIFACTS, LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def demo_build_settings():
    """Build settings of the demo maps for the browser tests: few epochs, small tiles, few levels."""
    from dkmap.config import BuildSettings

    return BuildSettings(epochs=4, batch_size=500, tile_size=64, max_grid=256, max_level=5)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A DATA_DIR holding the tiny dataset (helpers.tiny) with the maps of BUILT_METRICS built."""
    from helpers.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(scope="session")
def app(tiny_data_dir):
    """The Flask app over the tiny DATA_DIR."""
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(tiny_data_dir)})


@pytest.fixture
def client(app):
    """Flask's test client of `app`: requests without a socket."""
    return app.test_client()


@pytest.fixture(scope="module")
def api(tiny_data_dir):
    """A real waitress server over the tiny DATA_DIR, one per test module (helpers.api_server)."""
    from helpers.api_server import start_server

    running, server = start_server(tiny_data_dir)
    yield running
    server.close()


@pytest.fixture(scope="session")
def typed_data_dir(tmp_path_factory) -> Path:
    """A DATA_DIR holding the tiny dataset with a metadata column of every kind (helpers.typed)."""
    from helpers.typed import build_typed

    return build_typed(tmp_path_factory.mktemp("typed-data"))


@pytest.fixture(scope="session")
def typed_client(typed_data_dir):
    """A test client of the app over `typed_data_dir`."""
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(typed_data_dir)}).test_client()


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory) -> Path:
    """A DATA_DIR holding the small demo dataset with every metric's map built by the real pipeline."""
    from dkmap.data.demo.build import build_demo
    from dkmap.data.store import open_dataset
    from dkmap.builder import build_map

    data_dir = tmp_path_factory.mktemp("data")
    root = build_demo(data_dir, size="small", seed=0, progress=False)
    for metric in open_dataset(root).metrics:
        build_map(root, metric, settings=demo_build_settings(), progress=False)
    return data_dir


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
