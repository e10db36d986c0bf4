"""The scene grammar of the demo corpus: what a scene holds, how to sample one and how to word it."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "pentagon", "diamond", "heart",
          "cross", "ring", "crescent", "arrow")
COLOURS = {
    "red": (220, 40, 40), "orange": (245, 140, 30), "yellow": (240, 220, 40), "green": (50, 160, 60),
    "teal": (20, 150, 150), "blue": (40, 80, 220), "purple": (130, 50, 180), "pink": (245, 130, 190),
    "brown": (130, 80, 40), "black": (20, 20, 20), "white": (250, 250, 250), "grey": (128, 128, 128),
}
BACKGROUNDS = {
    "white": (255, 255, 255), "black": (0, 0, 0), "light grey": (212, 212, 212), "cream": (245, 235, 205),
    "sky blue": (175, 212, 240), "mint": (195, 240, 210), "navy": (20, 30, 85), "dark grey": (62, 62, 62),
}
SIZES = ("small", "medium", "large")
RELATIONS = ("left_of", "right_of", "above", "below")
STYLES = ("flat", "outlined", "noisy", "blurred", "shadowed")
MAX_COUNT = 5
# Objects must stand out from the background: RGB distance at least this.
MIN_CONTRAST = 110.0

_PLURAL = {"cross": "crosses"}
_NUMBER_WORDS = {1: ("a", "one", "a single"), 2: ("two", "a pair of", "2"), 3: ("three", "3"),
                 4: ("four", "4"), 5: ("five", "5"), 6: ("six", "6"), 7: ("seven", "7")}
_SIZE_WORDS = {"small": ("small", "tiny", "little"), "medium": ("", "", "medium", "medium-sized"),
               "large": ("large", "big", "huge")}
_RELATION_WORDS = {"left_of": ("left of", "to the left of", "on the left of"),
                   "right_of": ("right of", "to the right of", "on the right of"),
                   "above": ("above", "over"), "below": ("below", "under", "beneath")}
_BACKGROUND_WORDS = ("on a {bg} background", "against a {bg} background", "on {bg}",
                     "with a {bg} backdrop", "in front of a {bg} background")
_STYLE_PREFIX = {
    "flat": ("a flat illustration of", "flat vector art of", "a simple flat drawing of"),
    "outlined": ("an outline drawing of", "line art of", "an outlined sketch of"),
    "noisy": ("a noisy image of", "a grainy picture of", "a noisy render of"),
    "blurred": ("a blurry picture of", "an out-of-focus image of", "a blurred render of"),
    "shadowed": ("a drop-shadow illustration of", "a shaded drawing of", "an illustration with shadows of"),
}
_STYLE_SUFFIX = {
    "flat": ("flat style", "flat colours"), "outlined": ("outlined", "outline style", "drawn as outlines"),
    "noisy": ("noisy", "with film grain", "grainy"), "blurred": ("blurred", "out of focus", "blurry"),
    "shadowed": ("with drop shadows", "shadowed", "casting shadows"),
}


@dataclass(frozen=True)
class Group:
    """`count` objects of one shape, colour and size."""

    shape: str
    colour: str
    count: int
    size: str


@dataclass(frozen=True)
class Scene:
    """One or two groups (the second placed by `relation` to the first) on a background, in a style."""

    first: Group
    background: str
    style: str
    second: Group | None = None
    relation: str | None = None

    def replace(self, **changes) -> "Scene":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


CANVAS = 128
MARGIN = 4
# Side of the grid cell one object occupies, and the object's radius, in pixels of the canvas.
CELL = {"small": 24, "medium": 30, "large": 40}
RADIUS = {"small": 7, "medium": 11, "large": 16}


def region(relation: str | None, which: str) -> tuple[float, float, float, float]:
    """Box (x0, y0, x1, y1) a group is placed in: the canvas, or the half its relation gives it."""
    lo, hi, mid = MARGIN, CANVAS - MARGIN, CANVAS / 2
    if relation is None:
        return (lo, lo, hi, hi)
    first_box = {"left_of": (lo, lo, mid, hi), "right_of": (mid, lo, hi, hi),
                 "above": (lo, lo, hi, mid), "below": (lo, mid, hi, hi)}[relation]
    other = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above"}[relation]
    return first_box if which == "first" else region(other, "first")


def grid_shape(size: str, relation: str | None) -> tuple[int, int]:
    """Columns and rows of object cells in a group's region."""
    x0, y0, x1, y1 = region(relation, "first")
    return int((x1 - x0) // CELL[size]), int((y1 - y0) // CELL[size])


def capacity(size: str, relation: str | None) -> int:
    """Most objects of `size` that fit the region a group gets (whole canvas or half of it)."""
    cols, rows = grid_shape(size, relation)
    return cols * rows


def contrast(colour: str, background: str) -> float:
    """RGB distance between an object colour and a background."""
    return float(np.linalg.norm(np.subtract(COLOURS[colour], BACKGROUNDS[background], dtype=float)))


def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _sample_group(rng: np.random.Generator, background: str, relation: str | None) -> Group:
    while True:
        colour = _choice(rng, tuple(COLOURS))
        if contrast(colour, background) < MIN_CONTRAST:
            continue
        size = _choice(rng, SIZES)
        count = int(rng.integers(1, MAX_COUNT + 1))
        # One spare place so that a miscount by one can still be drawn.
        if count + 1 <= capacity(size, relation):
            return Group(_choice(rng, SHAPES), colour, count, size)


def sample_scene(rng: np.random.Generator, relation_rate: float = 0.5) -> Scene:
    """A random scene: every object, colour, count, size, relation, background and style can occur."""
    background = _choice(rng, tuple(BACKGROUNDS))
    style = _choice(rng, STYLES)
    if rng.random() >= relation_rate:
        return Scene(_sample_group(rng, background, None), background, style)
    relation = _choice(rng, RELATIONS)
    first = _sample_group(rng, background, relation)
    second = _sample_group(rng, background, relation)
    while second == first:
        second = _sample_group(rng, background, relation)
    return Scene(first, background, style, second, relation)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def group_phrase(group: Group, rng: np.random.Generator) -> str:
    """E.g. 'three small red stars', 'an orange circle'."""
    number = _choice(rng, _NUMBER_WORDS[group.count])
    size = _choice(rng, _SIZE_WORDS[group.size])
    noun = group.shape if group.count == 1 else _PLURAL.get(group.shape, group.shape + "s")
    words = [w for w in (size, group.colour, noun) if w]
    if number == "a":
        number = _article(words[0])
    return " ".join([number] + words)


def describe(scene: Scene, rng: np.random.Generator) -> str:
    """A prompt for `scene`, with wording drawn at random from several phrasings."""
    body = group_phrase(scene.first, rng)
    if scene.second is not None and scene.second.count > 0:
        body += f" {_choice(rng, _RELATION_WORDS[scene.relation])} {group_phrase(scene.second, rng)}"
    background = _choice(rng, _BACKGROUND_WORDS).format(bg=scene.background)
    form = int(rng.integers(3))
    if form == 0:
        text = f"{_choice(rng, _STYLE_PREFIX[scene.style])} {body} {background}"
    elif form == 1:
        text = f"{body} {background}, {_choice(rng, _STYLE_SUFFIX[scene.style])}"
    else:
        text = f"{body}, {scene.background} background, {scene.style} style"
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text


def sample_prompts(n: int, rng: np.random.Generator, exclude: set[str] | None = None) -> tuple[list[Scene], list[str]]:
    """`n` scenes with distinct prompts (none of them in `exclude`)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of prompts, got {n}")
    seen = set(exclude or ())
    scenes, texts = [], []
    while len(texts) < n:
        scene = sample_scene(rng)
        text = describe(scene, rng)
        if text in seen:
            continue
        seen.add(text)
        scenes.append(scene)
        texts.append(text)
    return scenes, texts


def concepts(scene: Scene) -> list[str]:
    """Named concepts a scene's prompt asks for, e.g. 'count=4', 'colour=purple', 'relation=above'."""
    out = [f"background={scene.background}", f"style={scene.style}"]
    for group in (scene.first, scene.second):
        if group is None:
            continue
        out += [f"shape={group.shape}", f"colour={group.colour}", f"count={group.count}", f"size={group.size}"]
    if scene.relation is not None:
        out += ["relation", f"relation={scene.relation}"]
    return sorted(set(out))


# Counting and attribute binding are what a small encoder learns last, so their twins come most often.
_PERTURB_WEIGHTS = {"count": 0.3, "colour": 0.14, "shape": 0.12, "size": 0.08, "style": 0.12,
                    "background": 0.04, "drop": 0.1, "relation": 0.1}


def perturb(scene: Scene, rng: np.random.Generator) -> Scene:
    """A minimally different scene (one concept changed): the hard negative of contrastive training.

    A second group with count 0 stands for a relation whose second object is missing."""
    kinds, weights = zip(*_PERTURB_WEIGHTS.items())
    while True:
        kind = kinds[int(rng.choice(len(kinds), p=weights))]
        which = "first" if scene.second is None or rng.random() < 0.5 else "second"
        group: Group = getattr(scene, which)
        if kind == "count" and group.count > 0:
            count = group.count + _choice(rng, (-2, -1, -1, 1, 1, 2))
            if 1 <= count <= min(capacity(group.size, scene.relation), MAX_COUNT + 1):
                return scene.replace(**{which: dataclasses.replace(group, count=count)})
        elif kind == "colour":
            colour = _choice(rng, tuple(COLOURS))
            if colour != group.colour and contrast(colour, scene.background) >= MIN_CONTRAST:
                return scene.replace(**{which: dataclasses.replace(group, colour=colour)})
        elif kind == "shape":
            shape = _choice(rng, SHAPES)
            if shape != group.shape:
                return scene.replace(**{which: dataclasses.replace(group, shape=shape)})
        elif kind == "size":
            size = _choice(rng, SIZES)
            if size != group.size and group.count <= capacity(size, scene.relation):
                return scene.replace(**{which: dataclasses.replace(group, size=size)})
        elif kind == "style":
            style = _choice(rng, STYLES)
            if style != scene.style:
                return scene.replace(style=style)
        elif kind == "background":
            bg = _choice(rng, tuple(BACKGROUNDS))
            groups = [g for g in (scene.first, scene.second) if g is not None]
            if bg != scene.background and all(contrast(g.colour, bg) >= MIN_CONTRAST for g in groups):
                return scene.replace(background=bg)
        elif kind == "drop" and scene.second is not None and scene.second.count > 0:
            # The first group stays where the relation put it; only the second one is missing.
            return scene.replace(second=dataclasses.replace(scene.second, count=0))
        elif kind == "relation" and scene.second is not None and scene.second.count > 0:
            flipped = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above"}
            return scene.replace(relation=flipped[scene.relation])
