"""Two simulated text-to-image models that fail in different, concept-dependent ways.

Each failure mode has a rate that is a smooth function of the prompt's scene (logistic in counts and
sizes, Gaussian bumps over hue) and, when it fires, edits the scene that is then really drawn.
"""

from __future__ import annotations

import colorsys
import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dkmap.data.demo.grammar import COLOURS, SIZES, Group, Scene, capacity

log = logging.getLogger(__name__)

_SIZE_ORDINAL = {s: i for i, s in enumerate(SIZES)}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _groups(scene: Scene) -> list[str]:
    return ["first"] + (["second"] if scene.second is not None and scene.second.count > 0 else [])


def hue_degrees(colour: str) -> tuple[float, float]:
    """Hue in degrees and saturation of a named colour (greys have saturation 0)."""
    r, g, b = (c / 255.0 for c in COLOURS[colour])
    h, s, _ = colorsys.rgb_to_hsv(r, g, b)
    return 360.0 * h, s


def _bump(hue: float, centre: float, width: float) -> float:
    d = min(abs(hue - centre), 360.0 - abs(hue - centre))
    return math.exp(-d * d / (2 * width * width))


@dataclass(frozen=True)
class FailureMode:
    """One way a generator goes wrong: a per-group (or per-scene) rate and the edit it makes."""

    name: str
    description: str
    target: str  # "group": tried on each group, "scene": once per scene
    rate: Callable[[Scene, str], float]
    edit: Callable[[Scene, str, np.random.Generator], Scene]
    fields: Callable[[str], set[str]]  # truth fields the edit may change, for the given group


# ---- model A: miscounts beyond two, loses outline and blur styles -------------------------------

def _miscount_rate(scene: Scene, which: str) -> float:
    group = getattr(scene, which)
    if group.count < 3:
        return 0.0
    return 0.5 * _sigmoid(2.0 * (group.count - 3.9) + 0.6 * (group.size == "small"))


def _miscount(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    group = getattr(scene, which)
    most = capacity(group.size, scene.relation)
    options = [c for c in (group.count - 2, group.count - 1, group.count + 1, group.count + 2) if 1 <= c <= most]
    return scene.replace(**{which: dataclasses.replace(group, count=int(options[int(rng.integers(len(options)))]))})


def _style_rate(scene: Scene, which: str) -> float:
    sizes = [_SIZE_ORDINAL[getattr(scene, w).size] for w in _groups(scene)]
    base = {"outlined": 0.15, "blurred": 0.3}.get(scene.style)
    return 0.0 if base is None else base + 0.2 * float(np.mean(sizes))


# How far each shape is from a plain blob: the more intricate, the likelier A simplifies it.
_INTRICACY = {"star": 1.0, "heart": 0.9, "crescent": 0.9, "arrow": 0.8, "cross": 0.7, "ring": 0.5,
              "hexagon": 0.2, "pentagon": 0.2, "diamond": 0.2, "triangle": 0.1, "square": 0.0, "circle": 0.0}
_SIMPLER = {"star": "pentagon", "heart": "circle", "crescent": "circle", "arrow": "square", "cross": "square",
            "ring": "circle", "hexagon": "circle", "pentagon": "circle", "diamond": "square", "triangle": "square"}


def _simplify_rate(scene: Scene, which: str) -> float:
    group = getattr(scene, which)
    if group.shape not in _SIMPLER:
        return 0.0
    return 0.4 * _sigmoid(5.0 * (_INTRICACY[group.shape] - 0.75) - 0.8 * _SIZE_ORDINAL[group.size] + 0.8)


def _simplify(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    group = getattr(scene, which)
    return scene.replace(**{which: dataclasses.replace(group, shape=_SIMPLER[group.shape])})


def _lose_style(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    return scene.replace(style="flat")


# ---- model B: swaps certain colour pairs, drops the second object, shrinks crowds of large objects --

COLOUR_SWAPS = {"purple": "blue", "blue": "purple", "pink": "purple", "orange": "yellow",
                "yellow": "orange", "red": "orange", "brown": "orange"}


def _swap_rate(scene: Scene, which: str) -> float:
    colour = getattr(scene, which).colour
    if colour not in COLOUR_SWAPS:
        return 0.0
    hue, weight = hue_degrees(colour)
    return weight * (0.7 * _bump(hue, 280.0, 35.0) + 0.45 * _bump(hue, 40.0, 18.0))


def _swap_colour(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    group = getattr(scene, which)
    return scene.replace(**{which: dataclasses.replace(group, colour=COLOUR_SWAPS[group.colour])})


def _drop_rate(scene: Scene, which: str) -> float:
    if scene.second is None:
        return 0.0
    second = scene.second
    vertical = scene.relation in ("above", "below")
    return 0.8 * _sigmoid(1.2 * vertical - 0.7 * (second.count - 1) + 0.8 * (second.size == "small") - 0.6)


def _drop_second(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    return scene.replace(second=dataclasses.replace(scene.second, count=0))


def _shrink_rate(scene: Scene, which: str) -> float:
    group = getattr(scene, which)
    if group.size != "large":
        return 0.0
    total = sum(getattr(scene, w).count for w in _groups(scene))
    return 0.75 * _sigmoid(1.3 * (total - 3.5))


def _shrink(scene: Scene, which: str, rng: np.random.Generator) -> Scene:
    group = getattr(scene, which)
    return scene.replace(**{which: dataclasses.replace(group, size="medium")})


MODES: dict[str, FailureMode] = {m.name: m for m in (
    FailureMode("miscount", "draws one or two objects too many or too few when asked for three or more",
                "group", _miscount_rate, _miscount, lambda w: {f"{w}.count"}),
    FailureMode("shape_simplified", "draws intricate shapes (stars, hearts, crescents…) as plainer ones, "
                "small ones most often", "group", _simplify_rate, _simplify, lambda w: {f"{w}.shape"}),
    FailureMode("style_lost", "draws outlined and blurred styles as flat fills", "scene",
                _style_rate, _lose_style, lambda w: {"style"}),
    FailureMode("colour_swap", "swaps purple/blue, pink→purple, orange/yellow, red/brown→orange",
                "group", _swap_rate, _swap_colour, lambda w: {f"{w}.colour"}),
    FailureMode("drop_second", "leaves out the second object of a spatial relation", "scene",
                _drop_rate, _drop_second, lambda w: {"second.count"}),
    FailureMode("shrink", "draws crowds of large objects at medium size", "group",
                _shrink_rate, _shrink, lambda w: {f"{w}.size"}),
)}


@dataclass(frozen=True)
class Generator:
    """A simulated model: a name and the failure modes it suffers from."""

    name: str
    description: str
    modes: tuple[str, ...]


GENERATORS: dict[str, Generator] = {
    "a": Generator("a", "model A: miscounts beyond two, simplifies intricate shapes, loses outline/blur styles",
                   ("miscount", "shape_simplified", "style_lost")),
    "b": Generator("b", "model B: swaps certain colours, drops second objects, shrinks large crowds",
                   ("colour_swap", "drop_second", "shrink")),
}


def get_generator(name: str) -> Generator:
    """The generator registered as `name`; ValueError listing the valid names otherwise."""
    try:
        return GENERATORS[name]
    except KeyError:
        raise ValueError(f"generator must be one of {sorted(GENERATORS)}, got {name!r}") from None


def failure_rates(generator: str, scene: Scene) -> dict[str, float]:
    """Probability of each (mode, group) failure of `generator` on the prompt `scene`."""
    gen = get_generator(generator)
    out = {}
    for mode_name in gen.modes:
        mode = MODES[mode_name]
        for which in (_groups(scene) if mode.target == "group" else ["first"]):
            key = f"{mode_name}:{which}" if mode.target == "group" else mode_name
            out[key] = mode.rate(scene, which)
    return out


def apply_failures(generator: str, scene: Scene, rng: np.random.Generator) -> tuple[Scene, list[str]]:
    """The scene `generator` really draws for the prompt `scene`, and the failures that fired."""
    truth, fired = scene, []
    rates = failure_rates(generator, scene)
    # Draw every decision first, so one mode's outcome never shifts another's decision.
    draws = rng.random(len(rates))
    for (key, p), u in zip(rates.items(), draws):
        if u < p:
            mode_name, _, which = key.partition(":")
            truth = MODES[mode_name].edit(truth, which or "first", rng)
            fired.append(key)
    return truth, fired


def truth_fields(scene: Scene) -> dict[str, object]:
    """A scene flattened into columns (missing second group → count 0, other fields empty)."""
    out: dict[str, object] = {"background": scene.background, "style": scene.style,
                              "relation": scene.relation or ""}
    for which in ("first", "second"):
        group: Group | None = getattr(scene, which)
        out[f"{which}.shape"] = group.shape if group else ""
        out[f"{which}.colour"] = group.colour if group else ""
        out[f"{which}.count"] = group.count if group else 0
        out[f"{which}.size"] = group.size if group else ""
    return out


def scene_from_fields(fields: dict) -> Scene:
    """Inverse of truth_fields: rebuild a Scene from its flattened columns."""
    groups = {}
    for which in ("first", "second"):
        shape = fields[f"{which}.shape"]
        groups[which] = (Group(shape, fields[f"{which}.colour"], int(fields[f"{which}.count"]), fields[f"{which}.size"])
                         if shape else None)
    return Scene(groups["first"], fields["background"], fields["style"], groups["second"],
                 fields["relation"] or None)
