"""The tiny dataset with a metadata column of every kind, each with missing values, for the filter,
histogram and export tests: `typed_table()` is the table ingested, also the pandas reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.tiny import DATASET, N_ITEMS, tiny_build_settings, write_tiny_dataset

MODELS = [f"model-{k:02d}" for k in range(15)]   # more than the 12 values a histogram lists


def typed_table(n: int = N_ITEMS, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    guidance = np.round(rng.uniform(1, 12, n), 2)
    guidance[rng.random(n) < 0.1] = np.nan
    weights = np.linspace(3, 1, len(MODELS))
    model = rng.choice(MODELS, n, p=weights / weights.sum()).astype(object)
    model[rng.random(n) < 0.1] = None
    nsfw = np.where(rng.random(n) < 0.3, True, False).astype(object)
    nsfw[rng.random(n) < 0.1] = None
    made = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 60, n), unit="s"))
    made[rng.random(n) < 0.1] = pd.NaT
    note = pd.Series([f"Note {i}: {'Sunny' if i % 3 else 'rainy'} day number {i * 7}" for i in range(n)], dtype=object)
    note[rng.random(n) < 0.1] = None
    return pd.DataFrame({"guidance": guidance, "steps": rng.integers(10, 60, n), "model": model,
                         "nsfw": nsfw, "made": made, "note": note})


def build_typed(data_dir: Path) -> Path:
    """DATA_DIR/tiny with `typed_table()` as its metadata and the clip_a map built."""
    from dkmap.builder import build_map

    write_tiny_dataset(data_dir / DATASET, columns=typed_table())
    build_map(data_dir / DATASET, "clip_a", settings=tiny_build_settings(), progress=False)
    return data_dir


def reference(data_dir: Path) -> pd.DataFrame:
    """The served table as pandas sees it: items (id, prompt, split, metrics) and the typed columns,
    times as ms since the epoch (NaN missing)."""
    items = pd.read_parquet(Path(data_dir) / DATASET / "items.parquet")
    table = typed_table()
    out = items[["id", "prompt", "split", "clip_a", "clip_b", "diff_ab"]].reset_index(drop=True).copy()
    for name in table.columns:
        out[name] = table[name].to_numpy()
    made = table["made"]
    out["made_ms"] = table["made"].map(lambda t: np.nan if pd.isna(t) else float(t.value // 1_000_000)).to_numpy(float)
    return out
