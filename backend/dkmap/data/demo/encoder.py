"""A small CLIP-like encoder trained here: a CNN image tower and an MLP on MiniLM text embeddings.

Trained with symmetric InfoNCE on faithful (prompt, render) pairs; every batch holds each pair's
one-concept-off twin, so the nearest negatives are the hard ones.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from dkmap.device import pick_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes and training settings of the demo encoder."""

    dim: int = 128            # joint space
    width: int = 24           # channels of the first conv layer
    text_hidden: int = 512
    epochs: int = 10
    batch_pairs: int = 32     # pairs per batch; each brings its twin, so batches hold 2× this
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.07  # initial; learned
    hard_weight: float = 1.0   # weight of the calibrated pair-vs-twin term

    def to_dict(self) -> dict:
        return asdict(self)


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ImageTower(nn.Module):
    """64×64 RGB → joint space: the flattened 8×8 map keeps where things are (left of, above), its
    global average says how much of each feature there is (counts, colours, blur)."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        w = width
        self.features = nn.Sequential(*_block(3, w, 2), *_block(w, 2 * w, 2), *_block(2 * w, 4 * w, 2),
                                      *_block(4 * w, 4 * w, 1))
        self.head = nn.Sequential(nn.Linear(4 * w * 64 + 4 * w, 256), nn.ReLU(inplace=True), nn.Linear(256, dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        f = self.features(pixels)
        return self.head(torch.cat([f.flatten(1), f.mean(dim=(2, 3))], dim=1))


class TextTower(nn.Module):
    """MiniLM sentence embedding (384-d) → joint space."""

    def __init__(self, dim: int, hidden: int, in_dim: int = 384):
        super().__init__()
        # Prompts share most of their MiniLM direction; standardising makes the few dimensions that
        # tell "four" from "five" or "purple" from "blue" as large as the rest.
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("inv_std", torch.ones(in_dim))
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, dim))

    def fit_standardisation(self, emb: torch.Tensor) -> None:
        """Set the input mean and scale from training embeddings."""
        self.mean.copy_(emb.mean(0))
        self.inv_std.copy_(1.0 / (emb.std(0) + 1e-6))

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.net((emb - self.mean) * self.inv_std)


class CrossModalEncoder(nn.Module):
    """Both towers and the learned temperature of the contrastive loss."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.image = ImageTower(config.dim, config.width)
        self.text = TextTower(config.dim, config.text_hidden)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.temperature)))
        # Scale and threshold of the binary pair-vs-twin term (SigLIP-like); they make cosines comparable
        # across prompts, which a single score threshold (and so the ROC AUC) needs.
        self.pair_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.pair_bias = nn.Parameter(torch.tensor(0.0))


def _to_input(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)
    return x.contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch and ask for deterministic kernels; restore the flags afterwards.

    Runs repeat to the last bit on the same machine and thread count, and to float tolerance across
    thread counts (the demo build uses every core: one thread made it 1.4–1.5× slower)."""
    was = torch.are_deterministic_algorithms_enabled()
    cudnn_flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags


def info_nce(text: torch.Tensor, image: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of matched rows of L2-normalised `text` and `image`."""
    logits = logit_scale.exp().clamp(max=100.0) * text @ image.T
    target = torch.arange(len(text), device=text.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def twin_loss(text: torch.Tensor, image: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Binary loss: each text matches its own image and not its twin's (batch = originals, then twins)."""
    half = len(text) // 2
    twin = torch.cat([torch.arange(half, 2 * half), torch.arange(0, half)]).to(text.device)
    pos = (text * image).sum(1)
    neg = torch.cat([(text * image[twin]).sum(1), (image * text[twin]).sum(1)])
    s = scale.exp().clamp(max=100.0)
    return 0.5 * (F.softplus(-(s * pos + bias)).mean() + F.softplus(s * neg + bias).mean())


def train_encoder(pixels: np.ndarray, text_emb: np.ndarray, config: EncoderConfig = EncoderConfig(),
                  seed: int = 0, device: str | torch.device | None = None,
                  progress: bool = True) -> CrossModalEncoder:
    """Train on rows [0, M) (originals) and [M, 2M) (their twins): row i and i+M share a batch.

    pixels is (2M, H, W, 3), or (V, 2M, H, W, 3) for V layouts of every prompt: each step draws one
    layout per pair (the twin keeps its original's), so the image tower sees V× more images for the
    same prompts and the same MiniLM cost."""
    pixels = pixels if pixels.ndim == 5 else pixels[None]
    if pixels.ndim != 5 or pixels.shape[-1] != 3:
        raise ValueError(f"pixels must be (2M, H, W, 3) or (V, 2M, H, W, 3) uint8, got shape {pixels.shape}")
    n_views, n_rows = pixels.shape[:2]
    if n_rows != len(text_emb) or n_rows % 2:
        raise ValueError(f"pixels and text_emb must have the same even length (originals then twins), "
                         f"got {n_rows} and {len(text_emb)}")
    device = pick_device(device)
    m = n_rows // 2
    with deterministic(seed):
        model = CrossModalEncoder(config).to(device)
        model.image.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps_per_epoch = max(1, m // config.batch_pairs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch,
                                                    pct_start=0.15)
        texts = torch.from_numpy(np.ascontiguousarray(text_emb, dtype=np.float32)).to(device)
        model.text.fit_standardisation(texts)
        order_rng = np.random.default_rng(seed)
        view_rng = np.random.default_rng([seed, 1])
        bar = tqdm(total=config.epochs * steps_per_epoch, desc="train encoder", unit="step", disable=not progress)
        model.train()
        for epoch in range(config.epochs):
            perm = order_rng.permutation(m)
            for step in range(steps_per_epoch):
                pairs = perm[step * config.batch_pairs:(step + 1) * config.batch_pairs]
                rows = np.concatenate([pairs, pairs + m])
                views = np.tile(view_rng.integers(n_views, size=len(pairs)), 2) if n_views > 1 else 0
                t = F.normalize(model.text(texts[rows]), dim=1)
                v = F.normalize(model.image(_to_input(pixels[views, rows], device)), dim=1)
                loss = info_nce(t, v, model.logit_scale)
                if config.hard_weight:
                    loss = loss + config.hard_weight * twin_loss(t, v, model.pair_scale, model.pair_bias)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        bar.close()
    model.eval()
    return model


@torch.no_grad()
def embed_images(model: CrossModalEncoder, pixels: np.ndarray, batch_size: int = 512,
                 device: str | torch.device | None = None) -> np.ndarray:
    """L2-normalised float32 image embeddings (N × dim) of encoder-size uint8 pixels."""
    device = pick_device(device)
    model = model.to(device).eval()
    out = [F.normalize(model.image(_to_input(pixels[i:i + batch_size], device)), dim=1).cpu()
           for i in range(0, len(pixels), batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


@torch.no_grad()
def embed_texts(model: CrossModalEncoder, text_emb: np.ndarray, batch_size: int = 4096,
                device: str | torch.device | None = None) -> np.ndarray:
    """L2-normalised float32 text embeddings (N × dim) from MiniLM embeddings."""
    device = pick_device(device)
    model = model.to(device).eval()
    x = torch.from_numpy(np.ascontiguousarray(text_emb, dtype=np.float32))
    out = [F.normalize(model.text(x[i:i + batch_size].to(device)), dim=1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


ENCODER_FILE = "demo_encoder.pt"   # in the demo dataset folder: what places new prompts and images


def encoder_bytes(model: CrossModalEncoder) -> bytes:
    """The trained encoder (its config and weights) as the bytes of ENCODER_FILE."""
    import io

    buf = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": 1, "config": model.config.to_dict(), "state": state}, buf)
    return buf.getvalue()


def load_encoder(path, device: str | torch.device | None = None) -> CrossModalEncoder:
    """The encoder saved by `encoder_bytes`, in eval mode (ValueError naming the file if unreadable)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = CrossModalEncoder(EncoderConfig(**saved["config"]))
        model.load_state_dict(saved["state"])
    except (OSError, KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: not a saved demo encoder ({exc})") from exc
    return model.to(pick_device(device)).eval()
