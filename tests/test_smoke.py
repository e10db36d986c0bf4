"""Foundation smoke tests: `dkmap serve` answers on loopback, and the page lists the datasets."""

from __future__ import annotations

import pytest

from dkmap.data.ingest import IngestOptions, ingest
from helpers.live_server import LiveServer
from helpers.rawdata import make_raw


@pytest.fixture(scope="module")
def ingested_server(tmp_path_factory):
    """A real server over a freshly ingested two-generator dataset with no maps built yet."""
    raw_dir = tmp_path_factory.mktemp("raw")
    data_dir = tmp_path_factory.mktemp("smoke-data")
    raw = make_raw(raw_dir, n=8, generators=("a", "b"))
    ingest(IngestOptions(table=raw["table"], images=raw["images"], out=data_dir / "tiny",
                         text_emb=raw["text_path"], image_emb=raw["image_path"],
                         description="eight prompts, two generators", progress=False))
    server = LiveServer(data_dir)
    yield server
    server.stop()


def test_api_lists_the_ingested_dataset(ingested_server):
    res = ingested_server.get("/api/datasets")
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/json")
    (entry,) = res.json()["datasets"]
    assert entry["name"] == "tiny" and entry["n_items"] == 8
    assert entry["generators"] == ["a", "b"]
    assert entry["description"] == "eight prompts, two generators"
    metrics = {m["name"]: m for m in entry["metrics"]}
    assert set(metrics) == {"clipscore_a", "clipscore_b", "clipscore_diff"}
    assert metrics["clipscore_diff"]["kind"] == "difference"
    assert not any(m["built"] for m in metrics.values())


def test_api_unknown_route_is_json_404(ingested_server):
    res = ingested_server.get("/api/maps/nope/clipscore")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == 404 and "nope" in res.json()["error"]["message"]


@pytest.mark.browser
def test_page_shows_the_dataset_list(ingested_server, page, screenshot):
    page.goto(ingested_server.url + "/")
    page.wait_for_selector("select[name=dataset] option[value=tiny]", state="attached", timeout=30_000)
    page.wait_for_selector("text=eight prompts, two generators", timeout=30_000)
    screenshot("dataset-list")
    assert page.eval_on_selector("select[name=dataset]", "el => [...el.options].map(o => o.value)") == ["tiny"]
    assert page.console_errors == []
