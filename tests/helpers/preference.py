"""A small table shaped like a public text-to-image preference set (HPD / ImageReward style, long):
one row per prompt × image, two images per prompt as PNG bytes in the Hugging Face `Image` layout,
a preference label and model scores, plus supplied embeddings in which the scores are planted."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

SIDES = ("left", "right")
SUBJECTS = ["a cat", "a castle", "a bowl of fruit", "a robot", "a lighthouse", "a dragon", "a forest path",
            "a city street"]
STYLES = ["in watercolour", "as a pencil sketch", "at sunset", "in neon light", "in the snow"]


def png(rgb: tuple[int, int, int], mark: int) -> bytes:
    img = Image.new("RGB", (12, 12), rgb)
    img.putpixel((mark % 12, (mark // 12) % 12), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def preference_table(n_prompts: int = 120, dim: int = 16, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(table, text embeddings, image embeddings), rows in the table's order."""
    rng = np.random.default_rng(seed)
    rows, text, image = [], [], []
    for i in range(n_prompts):
        prompt = f"{SUBJECTS[i % len(SUBJECTS)]} {STYLES[(i // len(SUBJECTS)) % len(STYLES)]} #{i}"
        t = rng.normal(size=dim)
        scores = {}
        for k, side in enumerate(SIDES):
            v = t + (0.5 + k) * rng.normal(size=dim)
            cos = float(t @ v / np.linalg.norm(t) / np.linalg.norm(v))
            scores[side] = cos
            text.append(t)
            image.append(v)
            rows.append({"id": f"pair-{i:04d}", "prompt": prompt, "generator": side,
                         "image": {"bytes": png(tuple(int(c) for c in rng.integers(0, 255, 3)), i), "path": None},
                         "hpsv2": 0.2 + 0.1 * cos, "pickscore": 20 + 2 * cos, "rank": 0.0})
        preferred = max(SIDES, key=scores.get)
        for row in rows[-2:]:
            row["rank"] = 1.0 if row["generator"] == preferred else 2.0   # 1 = preferred: lower is better
    return pd.DataFrame(rows), np.array(text, dtype=np.float32), np.array(image, dtype=np.float32)
