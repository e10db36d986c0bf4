"""`dkmap.widget(map_or_dataset)`: the DKMap app inside JupyterLab / Jupyter Notebook (anywidget).

The kernel serves the app and the API (dkmap.notebook.server); the widget shows it in an iframe and the app
reports its state back. `w.selection` is a DataFrame of the lassoed items (id, prompt, metrics, x, y),
narrowed to the keyword bars chosen (among the items the app samples, as the app counts them);
`w.select(ids)` highlights items; `w.view` reads the dataset, metric, mode and zoom and sets metric
and mode. The app and the notebook must run on the same machine (the iframe loads from loopback).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterable

import anywidget
import numpy as np
import pandas as pd
import traitlets

from dkmap.data.store import Dataset, open_dataset
from dkmap.maps.built import BuiltMap
from dkmap.notebook.server import kernel_server

MODES = ("scatter", "contour", "overlay")
ID_PAGE = 100_000


class DKMapWidget(anywidget.AnyWidget):
    _esm = Path(__file__).with_name("widget.js")
    _url = traitlets.Unicode().tag(sync=True)
    _token = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(640).tag(sync=True)
    _ui = traitlets.Dict().tag(sync=True)                 # the app's state, as its bridge reports it
    _highlight_rows = traitlets.List().tag(sync=True)
    _highlight_label = traitlets.Unicode("selected in Python").tag(sync=True)
    _view_request = traitlets.Dict().tag(sync=True)

    def __init__(self, dataset_root: Path, metric: str | None, height: int = 640):
        self._server = kernel_server(dataset_root.parent)
        self._dataset = open_dataset(dataset_root)
        self._name = dataset_root.name
        token = secrets.token_urlsafe(12)
        fragment = f"dataset={self._name}&mode=overlay&embed={token}" + (f"&metric={metric}" if metric else "")
        super().__init__(_url=f"{self._server.url}/#{fragment}", _token=token, height=height)
        self._selection = self._empty()
        self._selection_key = None
        self.observe(self._on_ui, names="_ui")

    # ---- reading the app ---------------------------------------------------------------------------
    @property
    def selection(self) -> pd.DataFrame:
        """The lassoed (and keyword-filtered) items: id, prompt, metric columns, x, y on the map."""
        return self._selection

    @property
    def view(self) -> dict:
        """{dataset, metric, mode, zoom: {k, x, y}} as the app shows it (empty before it has loaded)."""
        ui = self._ui
        return {k: ui.get(k) for k in ("dataset", "metric", "mode", "zoom")} if ui else {}

    @view.setter
    def view(self, value: dict) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"view: expected a dict with metric and/or mode, got {type(value).__name__}")
        unknown = set(value) - {"metric", "mode"}
        if unknown:
            raise ValueError(f"view: only metric and mode can be set, got {sorted(unknown)}")
        if "mode" in value and value["mode"] not in MODES:
            raise ValueError(f"view: mode must be one of {MODES}, got {value['mode']!r}")
        if "metric" in value and value["metric"] not in self._dataset.metrics:
            raise ValueError(f"view: unknown metric {value['metric']!r} (dataset '{self._name}' has: "
                             f"{', '.join(self._dataset.metrics)})")
        self._view_request = {**value, "_n": secrets.token_hex(4)}   # a new dict each time, so it syncs

    def select(self, ids: Iterable[str], label: str = "selected in Python") -> None:
        """Highlight the items `ids` on the map (KeyError naming an unknown id); `select([])` clears."""
        if isinstance(ids, str):
            raise TypeError("select(ids): expected a list of ids, got one string")
        rows = [self._dataset.row_of(str(i)) for i in ids]
        self._highlight_label = label
        self._highlight_rows = rows

    # ---- the selection -----------------------------------------------------------------------------
    def _on_ui(self, change) -> None:
        ui = change["new"] or {}
        key = (ui.get("metric"), repr(ui.get("polygon")), repr(ui.get("filteredRows")))
        if key == self._selection_key:
            return
        self._selection_key = key
        self._selection = self._compute(ui.get("metric"), ui.get("polygon"), ui.get("filteredRows"))

    def _compute(self, metric, polygon, filtered_rows) -> pd.DataFrame:
        if not metric or not polygon:
            return self._empty()
        rows = self._rows_in(metric, polygon)
        if filtered_rows is not None:
            rows = rows[np.isin(rows, np.asarray(filtered_rows, dtype=np.int64))]
        items = self._dataset.items
        out = items.iloc[rows][["id", "prompt", *self._dataset.metrics]].reset_index(drop=True)
        from dkmap.maps.built import open_built

        positions = np.asarray(open_built(self._dataset.root, metric, verify=False).positions)[rows]
        return out.assign(x=positions[:, 0], y=positions[:, 1])

    def _rows_in(self, metric: str, polygon: list) -> np.ndarray:
        """Rows inside the lasso, exactly, from the API's own selection endpoint (in process)."""
        client = self._server.app.test_client()
        rows, offset = [], 0
        while offset is not None:
            res = client.post(f"/api/maps/{self._name}/{metric}/selection/ids",
                              json={"polygon": polygon, "offset": offset, "limit": ID_PAGE},
                              headers={"Host": self._server.url.split("//")[1]})
            if res.status_code != 200:
                raise RuntimeError(f"selection of map {self._name}/{metric}: {res.get_json()['error']['message']}")
            page = res.get_json()
            rows.extend(page["rows"])
            offset = page["next_offset"]
        return np.asarray(rows, dtype=np.int64)

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("id", "prompt") else np.float64)
                             for c in ["id", "prompt", *self._dataset.metrics, "x", "y"]})


def widget(map_or_dataset: BuiltMap | Dataset | str | os.PathLike, metric: str | None = None,
           height: int = 640) -> DKMapWidget:
    """The DKMap app for a built map (`dkmap.open_map`), a dataset (`dkmap.open_dataset`, shown on
    `metric` or its first built map) or the folder of either, served from this kernel."""
    if isinstance(map_or_dataset, BuiltMap):
        return DKMapWidget(map_or_dataset.root.resolve().parents[1], metric or map_or_dataset.metric, height)
    if isinstance(map_or_dataset, Dataset):
        return DKMapWidget(map_or_dataset.root.resolve(), metric, height)
    if isinstance(map_or_dataset, (str, os.PathLike)):
        path = Path(map_or_dataset).resolve()
        if (path / "dataset.yaml").is_file():
            return DKMapWidget(path, metric, height)
        if path.parent.name == "maps" and (path.parents[1] / "dataset.yaml").is_file():
            return DKMapWidget(path.parents[1], metric or path.name, height)
        raise ValueError(f"widget(map_or_dataset={str(map_or_dataset)!r}): not a dataset folder or a built map folder")
    raise TypeError(f"widget(map_or_dataset=...): expected a BuiltMap, a Dataset or a folder, got "
                    f"{type(map_or_dataset).__name__}")
