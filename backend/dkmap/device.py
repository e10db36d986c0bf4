"""Chooses the torch device once: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

import functools
import logging

import torch

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _default_device() -> torch.device:
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    log.info("torch device: %s", device)
    return device


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """Return `preferred` as a torch.device, or cuda when available, else cpu."""
    if preferred is None or preferred == "auto":
        return _default_device()
    device = torch.device(preferred)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no GPU")
    return device
