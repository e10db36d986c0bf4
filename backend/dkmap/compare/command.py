"""`dkmap compare spec`: SPEC between two stored embedding spaces of a dataset, as a table and JSON."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence, TextIO

from dkmap.compare.spec import spec, spec_clusters_json

log = logging.getLogger(__name__)

_PROMPT_WIDTH = 60
_EXAMPLES = 2  # prompts shown per cluster in the table


def _embedding(ds: Any, space: str, parameter: str) -> tuple[str, Any]:
    """The stored space name (the alias `image` resolved) and its memory-mapped matrix."""
    try:
        return ds.resolve_space(space), ds.embedding(space)
    except KeyError as exc:
        raise ValueError(f"{parameter}: {exc.args[0]}") from None


def _write_json(path: Path, payload: dict) -> None:
    """Write JSON next to `path` and rename it into place, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_spec_table(payload: dict, prompts: Sequence[str], id_rows: dict[str, int], x_space: str,
                      y_space: str, examples: int = _EXAMPLES) -> str:
    """A short text table: one line per cluster (eigenvalue, side, size) and its strongest prompts.

    `id_rows` maps the item ids shown (the first `examples` of each cluster) to their rows."""
    width = max(len(x_space), len(y_space), 6)
    lines = [f"SPEC {x_space} vs {y_space}: spec_diff = {payload['spec_diff']:.4g}",
             f"{'#':>3}  {'eigenvalue':>11}  {'groups':<{width}}  {'size':>5}  strongest prompts"]
    for rank, cluster in enumerate(payload["clusters"], start=1):
        space = x_space if cluster["side"] == "x" else y_space
        shown = [prompts[id_rows[i]] for i in cluster["ids"][:examples]]
        shown = [p if len(p) <= _PROMPT_WIDTH else p[:_PROMPT_WIDTH - 1] + "…" for p in shown]
        head = f"{rank:>3}  {cluster['eigenvalue']:>11.4g}  {space:<{width}}  {len(cluster['ids']):>5}  "
        lines.append(head + (shown[0] if shown else ""))
        lines.extend(" " * len(head) + p for p in shown[1:])
    return "\n".join(lines)


def run_spec(dataset_dir: str | os.PathLike, x_space: str, y_space: str, k: int = 10, kernel: str = "cosine",
             json_out: str | os.PathLike | None = None, *, n_fourier: int = 256,
             bandwidth: float | Sequence[float] | None = None, seed: int = 0, progress: bool = True,
             out: TextIO | None = sys.stdout) -> dict:
    """SPEC of spaces `x_space` vs `y_space` (text, image, image_<gen>, minilm) of a dataset.

    Prints a short table to `out` (None: silent), writes `json_out` when given, and returns the
    JSON dict `{"spec_diff", "clusters": [{"eigenvalue", "side", "ids", "weights"}]}`."""
    from dkmap.data.store import open_dataset

    ds = open_dataset(dataset_dir)
    x_name, x = _embedding(ds, x_space, "x_space")
    y_name, y = _embedding(ds, y_space, "y_space")
    result = spec(x, y, k=k, kernel=kernel, n_fourier=n_fourier, bandwidth=bandwidth, seed=seed,
                  progress=progress)
    payload = spec_clusters_json(result, ds.ids)
    if json_out is not None:
        _write_json(Path(json_out), payload)
        log.info("wrote SPEC clusters to %s", json_out)
    if out is not None:
        ids = [str(i) for i in ds.ids]
        rows = {ids[r]: int(r) for c in result.clusters for r in c.rows[:_EXAMPLES]}
        print(format_spec_table(payload, ds.prompts, rows, x_name, y_name), file=out)
    return payload
