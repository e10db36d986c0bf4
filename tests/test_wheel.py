"""scripts/build_wheel.sh: one wheel carrying the built frontend, installed into a fresh virtual
environment outside the repo, whose `dkmap serve` serves the UI and the API.

Why the fresh venv gets its third-party packages from a .pth file: a full install of the wheel's
dependencies (torch, sentence-transformers, faiss, umap/numba, ...) copies ~1.5 GB and takes minutes,
too slow for a test (README's "From a wheel" is that full install, done by hand). The test does what
matters about the wheel itself: a venv without system site-packages and without the repo's venv,
`pip install --no-deps` of the wheel file (so `dkmap` exists there only as the wheel's files), then one
line naming the repo venv's site-packages in a .pth file, so the already-installed dependencies import.
A path line in a .pth does not run that folder's own .pth hooks, so the repo's editable install of
`dkmap` stays invisible: the test asserts `dkmap` imports from the fresh venv. `pip check` there
proves the wheel's declared dependencies are met by what it sees.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import pytest
import requests

from helpers.live_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _clean_env() -> dict:
    """The environment without anything pointing Python at the repo."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run(["bash", str(ROOT / "scripts" / "build_wheel.sh"), str(out)], cwd=ROOT,
                         env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    wheels = list(out.glob("dkmap-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    assert not (ROOT / "backend" / "dkmap" / "static").exists(), "the build's copy of the frontend was left behind"
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    res = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                         cwd=env_dir, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    # Python 3.11's venv seeds an old setuptools that would shadow the one torch requires.
    subprocess.run([str(py), "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"], env=_clean_env(),
                   capture_output=True, check=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          env=_clean_env(), capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "dkmap_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return env_dir


def test_wheel_carries_the_built_frontend(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    index = zipfile.ZipFile(wheel).read("dkmap/static/index.html").decode()
    for asset in re.findall(r'(?:src|href)="\./(assets/[^"]+)"', index):
        assert f"dkmap/static/{asset}" in names
    assert "dkmap/cli.py" in names and "dkmap/server/app.py" in names
    assert zipfile.ZipFile(wheel).read("dkmap/openapi.yaml") == (ROOT / "docs" / "openapi.yaml").read_bytes()
    assert not any(n.startswith(("tests/", "frontend/")) for n in names)


def test_installed_wheel_serves_ui_and_api(fresh_venv, tiny_data_dir, tmp_path):
    py = fresh_venv / "bin" / "python"
    where = subprocess.run(
        [str(py), "-c", "import dkmap, dkmap.server.app as a; print(dkmap.__file__); print(a.default_frontend_dist())"],
        cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, check=True).stdout.split()
    assert Path(where[0]).is_relative_to(fresh_venv), where
    assert Path(where[1]) == Path(where[0]).parent / "static"
    check = subprocess.run([str(py), "-m", "pip", "check"], env=_clean_env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(fresh_venv / "bin" / "dkmap"), "serve", "--data", str(tiny_data_dir),
                             "--port", str(port)], cwd=tmp_path, env=_clean_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if requests.get(url + "/api/datasets", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.time() < deadline, "dkmap serve from the wheel did not answer within 120 s"
            time.sleep(0.3)
        page = requests.get(url + "/", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text)
        assert any(a.endswith(".js") for a in assets)
        for asset in assets:
            res = requests.get(f"{url}/{asset}", timeout=10)
            assert res.status_code == 200 and len(res.content) > 100, asset
        datasets = requests.get(url + "/api/datasets", timeout=10).json()["datasets"]
        tiny = next(d for d in datasets if d["name"] == "tiny")
        built = [m["name"] for m in tiny["metrics"] if m["built"]]
        assert built
        info = requests.get(f"{url}/api/maps/tiny/{built[0]}", timeout=30)
        assert info.status_code == 200 and info.json()["n_items"] == 240
        described = requests.get(url + "/api/openapi.json", timeout=10).json()
        assert described["openapi"].startswith("3.") and "/api/datasets" in described["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
