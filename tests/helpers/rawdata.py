"""Writes small raw inputs for `dkmap ingest`: images, a table and supplied embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

COLOURS = [(220, 30, 30), (30, 30, 220), (30, 200, 30), (240, 200, 20)]
PROMPTS = ["a red star", "a blue circle", "two green square", "a red circle on blue",
           "three blue star", "a green star left of a red square"]


def make_raw(root: Path, n: int = 6, generators: tuple[str, ...] = ("a",), d: int = 8, seed: int = 0,
             fmt: str = "csv", with_metric: bool = False) -> dict:
    """Write images, a table and supplied embeddings; return their paths and the arrays."""
    rng = np.random.default_rng(seed)
    images = root / "images"
    rows = []
    for i in range(n):
        for g in generators:
            rel = f"{g}/img_{i}.png"
            (images / g).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (24, 24), COLOURS[(i + len(g)) % len(COLOURS)]).save(images / rel)
            row = {"id": f"p{i}", "prompt": PROMPTS[i % len(PROMPTS)] + f" #{i}", "image": rel}
            if len(generators) > 1:
                row["generator"] = g
            if with_metric:
                row["hps"] = float(rng.normal())
            rows.append(row)
    table = pd.DataFrame(rows)
    path = root / f"items.{fmt}"
    if fmt == "csv":
        table.to_csv(path, index=False)
    elif fmt == "parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_json(path, orient="records", lines=True)
    per_prompt = rng.normal(size=(n, d)).astype(np.float32)
    text = per_prompt[[int(i[1:]) for i in table["id"]]]  # one text vector per prompt, repeated per generator
    image = rng.normal(size=(len(table), d)).astype(np.float32)
    np.save(root / "text.npy", text)
    np.save(root / "image.npy", image)
    return {"table": path, "images": images, "text": text, "image": image, "frame": table,
            "text_path": root / "text.npy", "image_path": root / "image.npy"}
