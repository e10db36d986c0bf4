"""A real `jupyter lab` server in a subprocess for the notebook-widget browser test: loopback port,
a token, a temporary root folder, and its own config, data, settings and workspace folders so that
nothing of the user's Jupyter set-up (or a kernel other than this venv's) takes part."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests

from helpers.live_server import ARTIFACTS, ROOT, free_port

KERNEL = "dkmap-venv"
# JupyterLab asks, in a toast, whether to fetch Jupyter news and check for updates; answer no up front.
QUIET_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                  {"fetchNews": "false", "checkForUpdates": False}}


class JupyterLab:
    def __init__(self, home: Path, timeout_s: float = 120):
        self.root = home / "notebooks"
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = self._environment(home)
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / f"jupyterlab-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root}",
             f"--IdentityProvider.token={self.token}", "--LabApp.extension_manager=readonly",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"jupyter lab exited with status {self.proc.returncode} (see {self.log.name})")
            try:
                if requests.get(f"{self.url}/api/status", params={"token": self.token}, timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout_s:.0f} s (see {self.log.name})")

    def _environment(self, home: Path) -> dict[str, str]:
        dirs = {name: home / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for path in [self.root, *dirs.values()]:
            path.mkdir(parents=True, exist_ok=True)
        # The kernel is this interpreter (the venv's), importing this checkout's backend.
        spec = dirs["data"] / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "DKMap (venv)", "language": "python"}))
        for name, settings in QUIET_SETTINGS.items():
            path = dirs["settings"] / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        python_path = [str(ROOT / "backend"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        return {**os.environ, "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
                "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
                "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]), "IPYTHONDIR": str(dirs["ipython"]),
                "PYTHONPATH": os.pathsep.join(python_path)}

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """A notebook of code cells on this server's venv kernel; returns the URL that opens it in the lab."""
        notebook = {
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": KERNEL, "display_name": "DKMap (venv)", "language": "python"}},
            "cells": [{"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": source} for i, source in enumerate(cells)],
        }
        (self.root / name).write_text(json.dumps(notebook))
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()
