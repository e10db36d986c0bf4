# %% [markdown]
# # DKMap from a notebook
# A table in memory (prompts, images as bytes, embeddings as arrays, two scores) becomes a dataset
# folder, a built map, and answers: where items lie, what the map estimates, a selection.
# Run as a script or paste the cells into Jupyter; `tests/test_api_python.py` runs it.

# %%
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import dkmap

work = Path(tempfile.mkdtemp(prefix="dkmap-example-"))
rng = np.random.default_rng(0)


def png(rgb):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), rgb).save(buf, format="PNG")
    return buf.getvalue()


n, d = 150, 16
text = rng.normal(size=(n, d)).astype(np.float32)
image = (text + rng.normal(size=(n, d))).astype(np.float32)
cos = (text * image).sum(1) / np.linalg.norm(text, axis=1) / np.linalg.norm(image, axis=1)
frame = pd.DataFrame({
    "id": [f"item-{i}" for i in range(n)],
    "prompt": [f"a {c} {s}" for c, s in zip(rng.choice(["red", "blue", "green"], n), rng.choice(["cat", "house", "boat"], n))],
    "image": [png(tuple(int(v) for v in rng.integers(0, 255, 3))) for _ in range(n)],
    "text_vec": list(text),          # one vector per row: ingest stacks the column
    "aesthetic": 5 + cos,
})

# %% Ingest: same validation and atomic write as `dkmap ingest`
ds = dkmap.ingest(frame, work / "data" / "example", text_emb="text_vec", image_emb=image,
                  metrics=["clipscore", {"name": "aesthetic", "unit": "score", "better": "higher"}], progress=False)
print(ds.n, "items;", "metrics:", list(ds.metrics))

# %% Build one map (small settings keep it quick), then read it back
m = dkmap.build(ds, "aesthetic", settings={"epochs": 3, "tile_size": 32, "max_grid": 64, "max_level": 2},
                progress=False)
same = dkmap.open_map(work / "data" / "example" / "maps" / "aesthetic")
print("positions", m.positions.shape, "kernel", m.kernel)

# %% New items go where the build put its own; the map estimates the metric there
xy = m.transform(dkmap.open_dataset(work / "data" / "example").features("aesthetic")[:5])
estimate = m.predict(xy)
print(np.round(estimate, 3))
