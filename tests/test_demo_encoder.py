"""The demo's cross-modal encoder: its losses, determinism and that training aligns pairs."""

import numpy as np
import pytest
import torch

from dkmap.data.demo.corpus import make_corpus
from dkmap.data.demo.encoder import EncoderConfig, embed_images, embed_texts, info_nce, train_encoder, twin_loss

TINY = EncoderConfig(dim=16, width=8, text_hidden=64, epochs=25, batch_pairs=16, lr=3e-3)


@pytest.fixture(scope="module")
def tiny_data():
    corpus = make_corpus(4, 96, seed=1, progress=False)
    rng = np.random.default_rng(0)
    # Stand-in text features: one random unit vector per distinct prompt (no MiniLM needed here).
    text = rng.normal(size=(len(corpus.train_prompts), 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return corpus.train_pixels[0], text


def test_info_nce_prefers_aligned_pairs():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(32, 8, generator=g), dim=1)
    scale = torch.tensor(np.log(10.0))
    assert info_nce(x, x, scale) < info_nce(x, x.roll(1, 0), scale)


def test_twin_loss_wants_each_text_closer_to_its_own_image_than_to_its_twin():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(16, 8, generator=g), dim=1)
    swapped = torch.cat([x[8:], x[:8]])  # every image replaced by its twin's
    s, b = torch.tensor(np.log(10.0)), torch.tensor(0.0)
    assert twin_loss(x, x, s, b) < twin_loss(x, swapped, s, b)


def test_training_is_deterministic_and_aligns_pairs(tiny_data):
    pixels, text = tiny_data
    runs = [train_encoder(pixels, text, TINY, seed=3, device="cpu", progress=False) for _ in range(2)]
    t = [embed_texts(m, text, device="cpu") for m in runs]
    v = [embed_images(m, pixels, device="cpu") for m in runs]
    np.testing.assert_allclose(t[0], t[1], atol=1e-5)
    np.testing.assert_allclose(v[0], v[1], atol=1e-5)
    assert v[0].dtype == np.float32 and np.allclose(np.linalg.norm(v[0], axis=1), 1, atol=1e-5)
    other = embed_texts(train_encoder(pixels, text, TINY, seed=4, device="cpu", progress=False), text, device="cpu")
    assert not np.allclose(other, t[0], atol=1e-3)
    # training pairs: own image ranks first far more often than chance (1/192)
    sim = t[0] @ v[0].T
    assert (sim.argmax(axis=1) == np.arange(len(sim))).mean() > 0.1


def test_training_refuses_mismatched_inputs(tiny_data):
    pixels, text = tiny_data
    with pytest.raises(ValueError, match="same even length"):
        train_encoder(pixels[:5], text[:5], TINY, progress=False)


def test_two_layouts_of_the_same_images_train_exactly_like_one(tiny_data):
    """With several layouts each step picks one per pair; the pair and its twin stay aligned, so two
    identical layouts must give the very model that one layout gives."""
    pixels, text = tiny_data
    one = train_encoder(pixels, text, TINY, seed=3, device="cpu", progress=False)
    two = train_encoder(np.stack([pixels, pixels]), text, TINY, seed=3, device="cpu", progress=False)
    np.testing.assert_array_equal(embed_images(one, pixels, device="cpu"), embed_images(two, pixels, device="cpu"))


def test_training_draws_from_every_layout():
    corpus = make_corpus(2, 48, seed=2, progress=False, layouts=2)
    assert corpus.train_pixels.shape == (2, 96, 64, 64, 3)
    first, second = corpus.train_pixels
    # same prompts, other layouts: every image changes
    assert all(not np.array_equal(a, b) for a, b in zip(first, second))
    rng = np.random.default_rng(0)
    text = rng.normal(size=(96, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    both = train_encoder(corpus.train_pixels, text, TINY, seed=3, device="cpu", progress=False)
    only_first = train_encoder(first, text, TINY, seed=3, device="cpu", progress=False)
    assert not np.allclose(embed_images(both, first, device="cpu"), embed_images(only_first, first, device="cpu"),
                           atol=1e-3)
