"""A small real dataset with built maps, and a real waitress server on loopback, for the API tests.

Built once per test process (module-level cache), because several test files share it and pytest
would otherwise run a session fixture imported into two modules twice.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from PIL import Image

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "yellow": (240, 200, 20)}
SHAPES = ["star", "circle", "square", "triangle"]
PLACES = ["on a table", "in the sky", "under water", "near a tree"]
GENERATORS = ["a", "b"]
N_ITEMS = 240
DIM = 16
DATASET = "tiny"


def _prompt(i: int, rng: np.random.Generator) -> tuple[str, str, str]:
    colour = list(COLOURS)[i % len(COLOURS)]
    shape = SHAPES[(i // len(COLOURS)) % len(SHAPES)]
    place = PLACES[int(rng.integers(len(PLACES)))]
    return f"a {colour} {shape} {place}", colour, shape


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def _png(colour: tuple[int, int, int], i: int) -> bytes:
    img = Image.new("RGB", (8, 8), colour)
    img.putpixel((i % 8, (i // 8) % 8), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_tiny_dataset(out: Path, n: int = N_ITEMS, seed: int = 0) -> Path:
    """A dataset of `n` colour/shape prompts, two generators, real MiniLM prompt embeddings."""
    from dkmap.data.encoders import embed_prompts_minilm
    from dkmap.data.store import write_dataset

    rng = np.random.default_rng(seed)
    prompts, colours, shapes = zip(*(_prompt(i, rng) for i in range(n)))
    colour_vec = {c: rng.normal(size=DIM) for c in COLOURS}
    shape_vec = {s: rng.normal(size=DIM) for s in SHAPES}
    semantic = np.stack([colour_vec[c] + shape_vec[s] for c, s in zip(colours, shapes)])
    text = _unit(semantic + 0.3 * rng.normal(size=(n, DIM)))
    image_a = _unit(semantic + 0.6 * rng.normal(size=(n, DIM)))
    image_b = _unit(semantic + 1.2 * rng.normal(size=(n, DIM)))
    items = pd.DataFrame({
        "id": [f"item-{i:04d}" for i in range(n)],
        "prompt": list(prompts),
        "split": np.where(rng.random(n) < 0.8, "train", "test"),
        "image_a": [f"a/{i:04d}.png" for i in range(n)],
        "image_b": [f"b/{i:04d}.png" for i in range(n)],
    })
    items["clip_a"] = 100 * (text * image_a).sum(axis=1)
    items["clip_b"] = 100 * (text * image_b).sum(axis=1)
    items["diff_ab"] = items["clip_b"] - items["clip_a"]
    sources = {}
    for i, c in enumerate(colours):
        sources[f"a/{i:04d}.png"] = _png(COLOURS[c], i)
        sources[f"b/{i:04d}.png"] = _png(tuple(255 - v for v in COLOURS[c]), i)
    metrics = {
        "clip_a": {"description": "CLIPScore of a", "unit": "100·cos", "generators": ["a"], "kind": "score"},
        "clip_b": {"description": "CLIPScore of b", "unit": "100·cos", "generators": ["b"], "kind": "score"},
        "diff_ab": {"description": "b minus a", "unit": "100·cos", "generators": ["a", "b"], "kind": "difference"},
    }
    embeddings = {"text": text, "image_a": image_a, "image_b": image_b,
                  "minilm": embed_prompts_minilm(list(prompts))}
    write_dataset(out, name=DATASET, description="tiny API test dataset", items=items,
                  embeddings=embeddings, image_sources=sources, generators=GENERATORS, metrics=metrics)
    return out


@dataclass
class ApiServer:
    """A running server: its base URL and the data folder it serves."""

    url: str
    data_dir: Path
    app: object

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=60, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.url + path, timeout=60, **kw)


_CACHE: dict[str, object] = {}
_LOCK = threading.Lock()


def small_build_settings():
    """Tiny tiles so z 0..2 are precomputed and z 3..4 computed on request; few epochs."""
    from dkmap.config import BuildSettings

    return BuildSettings(epochs=3, batch_size=128, tile_size=32, max_grid=128, max_level=4)


BUILT_METRICS = ("clip_a", "diff_ab")  # clip_b is left unbuilt on purpose


def tiny_data_dir() -> Path:
    """A temporary DATA_DIR holding the tiny dataset with maps of BUILT_METRICS (real pipeline)."""
    from dkmap.pipeline import build_map

    with _LOCK:
        if "data_dir" not in _CACHE:
            root = Path(tempfile.mkdtemp(prefix="dkmap-api-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            write_tiny_dataset(root / DATASET)
            for metric in BUILT_METRICS:
                build_map(root / DATASET, metric, settings=small_build_settings(), progress=False)
            _CACHE["data_dir"] = root
        return _CACHE["data_dir"]


class ServerHandle:
    """Stops a waitress server running in a thread, closing its sockets from its own loop."""

    def __init__(self, server, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    def close(self) -> None:
        from waitress import wasyncore

        # Closing from another thread races select(); a trigger thunk runs inside the loop.
        try:
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        except OSError:
            # The trigger pipe was found closed already (EBADF) in about 1 of 6 runs of the API tests, after
            # every response of the test had arrived; cause not found (cf. Pylons/waitress#468). Close here.
            wasyncore.close_all(self.server._map, ignore_all=True)
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()


def start_server(data_dir: Path, config: dict | None = None) -> tuple[ApiServer, ServerHandle]:
    """Start waitress on 127.0.0.1 with a free port in a daemon thread; return it and its handle."""
    from waitress.server import create_server

    from dkmap.server.app import create_app

    app = create_app({"DATA_DIR": str(data_dir), **(config or {})})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = ApiServer(url=f"http://127.0.0.1:{server.effective_port}", data_dir=data_dir, app=app)
    return running, ServerHandle(server, thread)


@pytest.fixture(scope="module")
def api() -> ApiServer:
    """A real server over the tiny dataset, one per test module."""
    running, server = start_server(tiny_data_dir())
    yield running
    server.close()


def error_of(response: requests.Response) -> dict:
    """The `error` object of an API error response (checks its shape and code)."""
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == response.status_code
    return body["error"]
