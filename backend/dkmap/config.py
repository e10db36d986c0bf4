"""Settings as dataclasses with defaults; each stage reads its own block."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BuildSettings:
    """Settings of one map build (`dkmap build`); all of them go into the manifest and the reuse key."""

    # projection (METHOD.md §2-3); training may use a sample of the train items. epochs=None is
    # DKMap's automatic step budget; `projection` holds DKMap's other settings (lam, steps, …).
    epochs: int | None = None
    batch_size: int = 1000
    hidden: int | None = None
    seed: int = 0
    train_max: int = 200_000
    projection: dict[str, Any] = field(default_factory=dict)
    # unit square: bounding box scaled into [margin, 1 - margin], aspect ratio kept
    margin: float = 0.02
    # contour pyramid (METHOD.md §4-5)
    tile_size: int = 256
    max_grid: int = 2048
    max_level: int = 10
    oversample: int | None = None   # lattice nodes per cell side (odd); None: from the kernel width
    near_margin: int | None = None
    mask_enabled: bool = True
    mask_radius: float = 0.02
    # α refinement (METHOD.md §5): α_k = α_{k-1} + (growth - 1)·α_{k-1} while MSE_vl ≤ MSE_vl(α_0) + ε
    alpha_growth: float = 1.8
    refine_tolerance: float = 0.02
    refine_val_fraction: float = 0.1
    refine_val_max: int = 1000
    # subdivision stop rule
    subdivide_min_points: int = 8
    subdivide_detail_tol: float = 1e-3
    # overlay sampling (METHOD.md §6)
    bluenoise_radius0: float = 1.0 / 48.0
    # faiss
    index_exact_max: int = 200_000
    index_pq: bool = False
    # an IVF index searches the fewest lists reaching this recall@10 on held-out queries
    index_target_recall: float = 0.95

    def __post_init__(self) -> None:
        positive_ints = ("batch_size", "train_max", "tile_size", "max_grid", "refine_val_max",
                         "index_exact_max", "subdivide_min_points")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BuildSettings.{name} must be a positive int, got {value!r}")
        self.projection_model()   # validates the projection's settings once, by DKMap's own rules
        if self.tile_size & (self.tile_size - 1):
            raise ValueError(f"BuildSettings.tile_size must be a power of two, got {self.tile_size}")
        if self.max_grid < self.tile_size:
            raise ValueError(f"BuildSettings.max_grid ({self.max_grid}) must be ≥ tile_size "
                             f"({self.tile_size})")
        if self.oversample is not None and (not isinstance(self.oversample, int)
                                            or self.oversample < 1 or self.oversample % 2 == 0):
            raise ValueError(f"BuildSettings.oversample must be None or an odd int ≥ 1 (cell centres "
                             f"on the lattice), got {self.oversample}")
        if not 0 <= self.max_level <= 20:
            raise ValueError(f"BuildSettings.max_level must be in 0..20, got {self.max_level}")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError(f"BuildSettings.margin must be in [0, 0.5), got {self.margin}")
        if self.alpha_growth <= 1.0:
            raise ValueError(f"BuildSettings.alpha_growth must be > 1, got {self.alpha_growth}")
        if self.refine_tolerance < 0:
            raise ValueError(f"BuildSettings.refine_tolerance must be ≥ 0, got {self.refine_tolerance}")
        if not 0.0 < self.refine_val_fraction < 1.0:
            raise ValueError(f"BuildSettings.refine_val_fraction must be in (0, 1), "
                             f"got {self.refine_val_fraction}")
        if self.mask_radius <= 0:
            raise ValueError(f"BuildSettings.mask_radius must be > 0, got {self.mask_radius}")
        if not 0.0 < self.index_target_recall <= 1.0:
            raise ValueError(f"BuildSettings.index_target_recall must be in (0, 1], "
                             f"got {self.index_target_recall}")
        if self.bluenoise_radius0 <= 0:
            raise ValueError(f"BuildSettings.bluenoise_radius0 must be > 0, "
                             f"got {self.bluenoise_radius0}")

    def projection_model(self):
        """The DKMap estimator these settings describe (ValueError naming a bad or unknown key)."""
        from dkmap.projection import DKMap

        if not isinstance(self.projection, dict):
            raise ValueError(f"BuildSettings.projection must be a dict of DKMap settings, got "
                             f"{type(self.projection).__name__}")
        top = {"epochs": self.epochs, "batch_size": self.batch_size, "hidden": self.hidden,
               "seed": self.seed}
        allowed = {f.name for f in dataclasses.fields(DKMap)} - set(top) - {"device"}
        clash = sorted(set(self.projection) & (set(top) | {"device"}))
        if clash:
            raise ValueError(f"BuildSettings.projection must not set {clash}: they are BuildSettings "
                             f"fields of their own (or chosen at run time)")
        unknown = sorted(set(self.projection) - allowed)
        if unknown:
            raise ValueError(f"unknown projection settings {unknown}; allowed: {sorted(allowed)}")
        return DKMap(**top, **self.projection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "BuildSettings":
        """Settings from a plain dict (YAML/CLI); unknown keys are an error naming them."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown build settings {unknown}; allowed: {sorted(known)}")
        return cls(**values)
