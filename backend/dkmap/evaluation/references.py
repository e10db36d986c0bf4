"""Reference methods for the suite: an autoencoder map with a contour, and a direct regressor.

The autoencoder is the DKMap paper's other family of unsupervised maps (fitted on train ∪ test
like the other baselines, then the best of KDE and IDW over the train points). The direct
regressor predicts the metric from the full features; it is no map, and shows how much any 2-D
map loses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dkmap.evaluation import baselines, metrics
from dkmap.projection.network import AgreementFeatures, unit_blocks

AE_STEPS = 1500
AE_BATCH = 256


def autoencoder_positions(x: np.ndarray, seed: int) -> np.ndarray:
    """2-D codes of an MLP autoencoder D → 256 → 64 → 2 → 64 → 256 → D (MSE reconstruction)."""
    x_t = torch.from_numpy(np.asarray(x, dtype=np.float32))
    x_t = (x_t - x_t.mean(0)) / x_t.std(0).clamp_min(1e-6)
    d = x_t.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU(),
                                nn.Linear(64, 2))
        decoder = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 256), nn.ReLU(),
                                nn.Linear(256, d))
        optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(AE_STEPS):
            batch = x_t[torch.randint(len(x_t), (min(AE_BATCH, len(x_t)),), generator=generator)]
            loss = (decoder(encoder(batch)) - batch).pow(2).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            return encoder(x_t).double().numpy()


def autoencoder_map(split, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Test predictions and test positions of the autoencoder map, its better regressor chosen
    on the test error like the classic baselines' best."""
    both = np.concatenate([split.x_train, split.x_test])
    positions = autoencoder_positions(both, seed)
    pos_train, pos_test = positions[:len(split.x_train)], positions[len(split.x_train):]
    preds = [baselines.regress(r, pos_test, pos_train, split.m_train) for r in ("kde", "idw")]
    best = min(preds, key=lambda p: metrics.mae(p, split.m_test))
    return best, pos_test


def direct_regressor(split, seed: int, agreement: bool = False) -> tuple[np.ndarray, None]:
    """An MLP regressor of the metric on the full features (early stopping on 10 % of train);
    with `agreement`, on the same text-image products the DKMap network sees as well."""
    from sklearn.neural_network import MLPRegressor

    def features(x: np.ndarray) -> np.ndarray:
        if not agreement:
            return x
        with torch.no_grad():
            return AgreementFeatures(x.shape[1], blocks)(torch.from_numpy(x)).numpy()

    blocks = unit_blocks(split.x_train)
    mean, std = split.m_train.mean(), split.m_train.std() or 1.0
    model = MLPRegressor(hidden_layer_sizes=(256, 128), early_stopping=True, max_iter=200,
                         random_state=seed)
    model.fit(features(split.x_train), (split.m_train - mean) / std)
    return model.predict(features(split.x_test)) * std + mean, None


REFERENCES: dict[str, Callable] = {
    "autoencoder": autoencoder_map,
    "direct": direct_regressor,
    "direct-agreement": lambda split, seed: direct_regressor(split, seed, agreement=True),
}
