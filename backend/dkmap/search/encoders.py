"""The encoder a dataset brings for new prompts and images, when it has one.

Today that is the demo's trained cross-modal encoder (DATASET/demo_encoder.pt): prompts through
MiniLM and its text tower into space `text`, images (resized to the demo's canvas, as its renders)
through its image tower into every `image_<gen>` space. A dataset without one can only be given
embeddings (EncoderUnavailable says so).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from dkmap.search.prompts import EmbeddedPrompt, embed_prompt

log = logging.getLogger(__name__)

TEXT_SPACE = "text"


class EncoderUnavailable(RuntimeError):
    """The dataset has no encoder for prompts or images; the message says what can be given instead."""


class DemoEncoder:
    """The demo dataset's encoder, loaded from its folder."""

    def __init__(self, path: Path):
        from dkmap.data.demo.encoder import load_encoder

        self.model = load_encoder(path, device="cpu")

    def encode_prompt(self, prompt: str) -> tuple[np.ndarray, EmbeddedPrompt]:
        """The prompt's `text` embedding (unit norm) and its MiniLM embedding (with the length check)."""
        from dkmap.data.demo.encoder import embed_texts

        minilm = embed_prompt(prompt)
        return embed_texts(self.model, minilm.vector[None], device="cpu")[0], minilm

    def encode_image(self, image: Image.Image) -> np.ndarray:
        """The image's embedding (unit norm) in the demo's image spaces."""
        from dkmap.data.demo.encoder import embed_images
        from dkmap.data.demo.grammar import CANVAS
        from dkmap.data.demo.render import encoder_pixels

        if image.size != (CANVAS, CANVAS):
            image = image.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)
        pixels = np.array(encoder_pixels(image))[None]   # a writable copy: torch refuses read-only arrays
        return embed_images(self.model, pixels, device="cpu")[0]


def dataset_encoder(ds) -> DemoEncoder:
    """The encoder of dataset `ds` (EncoderUnavailable naming the dataset when it has none)."""
    from dkmap.data.demo.build import STAMP
    from dkmap.data.demo.encoder import ENCODER_FILE

    root = Path(ds.root)
    if (root / ENCODER_FILE).is_file():
        return DemoEncoder(root / ENCODER_FILE)
    if (root / STAMP).is_file():
        raise EncoderUnavailable(
            f"dataset '{ds.name}' is a demo built before its encoder was saved with it: only "
            "'features' (embeddings per space) can be placed; rebuild it (remove its folder, run dkmap demo) to "
            "place prompts and images")
    raise EncoderUnavailable(
        f"dataset '{ds.name}' has no encoder of its own (its embeddings were supplied at ingest): only "
        "'features' (embeddings per space) can be placed, not a prompt or an image")
