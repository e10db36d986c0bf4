"""Rendering and the simulated models' failures: each failure really changes the picture."""

import numpy as np
import pytest
from scipy import ndimage

from dkmap.data.demo import generators as M
from dkmap.data.demo import grammar as G
from dkmap.data.demo.render import CANVAS, ENCODER_SIZE, encoder_pixels, layout, png_bytes, render


def _components(img, colour: str) -> int:
    mask = (np.asarray(img) == np.array(G.COLOURS[colour], dtype=np.uint8)).all(axis=2)
    return int(ndimage.label(mask, structure=np.ones((3, 3)))[1])


def _has_colour(img, colour: str) -> bool:
    return _components(img, colour) > 0


def _scene(**kw):
    base = dict(first=G.Group("star", "purple", 4, "medium"), background="white", style="flat",
                second=G.Group("circle", "orange", 2, "small"), relation="above")
    base.update(kw)
    return G.Scene(**base)


def test_render_is_deterministic_and_seed_dependent():
    scene = _scene()
    assert png_bytes(render(scene, 3)) == png_bytes(render(scene, 3))
    assert png_bytes(render(scene, 3)) != png_bytes(render(scene, 4))
    img = render(scene, 3)
    assert img.size == (CANVAS, CANVAS) and img.mode == "RGB"
    assert encoder_pixels(img).shape == (ENCODER_SIZE, ENCODER_SIZE, 3)


@pytest.mark.parametrize("shape", G.SHAPES)
def test_each_object_is_drawn_as_many_times_as_asked(shape):
    for count in (1, 3, 5):
        for size in G.SIZES:
            if count <= G.capacity(size, None):
                scene = G.Scene(G.Group(shape, "red", count, size), "white", "flat")
                assert _components(render(scene, count), "red") == count, (shape, count, size)


def test_relation_puts_groups_in_their_halves():
    for relation, axis, first_low in (("left_of", 1, True), ("right_of", 1, False),
                                      ("above", 0, True), ("below", 0, False)):
        img = np.asarray(render(_scene(relation=relation, style="flat"), 0))
        first = np.argwhere((img == G.COLOURS["purple"]).all(axis=2))[:, axis].mean()
        second = np.argwhere((img == G.COLOURS["orange"]).all(axis=2))[:, axis].mean()
        assert (first < second) == first_low, relation


def test_styles_look_different():
    scene = _scene()
    arrays = {s: np.asarray(render(scene.replace(style=s), 1), dtype=float) for s in G.STYLES}
    for a in G.STYLES:
        for b in G.STYLES:
            if a < b:
                assert np.abs(arrays[a] - arrays[b]).mean() > 0.5, (a, b)


def test_layout_refuses_groups_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit"):
        layout(G.Group("star", "red", 4, "large"), "left_of", "first", np.random.default_rng(0))


def _changed(before, after) -> set[str]:
    a, b = M.truth_fields(before), M.truth_fields(after)
    return {k for k in a if a[k] != b[k]}


@pytest.mark.parametrize("mode_name", sorted(M.MODES))
def test_each_failure_changes_exactly_its_fields_and_the_picture(mode_name):
    mode = M.MODES[mode_name]
    scenes, _ = G.sample_prompts(800, np.random.default_rng(11))
    tried = 0
    for i, scene in enumerate(scenes):
        if tried >= 40:
            break
        whichs = ["first", "second"] if mode.target == "group" else ["first"]
        for which in whichs:
            if getattr(scene, which) is None or mode.rate(scene, which) <= 0:
                continue
            failed = mode.edit(scene, which, np.random.default_rng(i))
            assert _changed(scene, failed) == mode.fields(which)
            assert png_bytes(render(failed, i)) != png_bytes(render(scene, i))
            tried += 1
    assert tried >= 20


def test_miscount_draws_the_wrong_number():
    scene = G.Scene(G.Group("heart", "green", 4, "medium"), "white", "flat")
    for seed in range(10):
        failed = M.MODES["miscount"].edit(scene, "first", np.random.default_rng(seed))
        assert failed.first.count in (2, 3, 5, 6)
        assert _components(render(failed, seed), "green") == failed.first.count


def test_colour_swap_and_drop_second_show_in_pixels():
    scene = _scene()
    swapped = M.MODES["colour_swap"].edit(scene, "first", np.random.default_rng(0))
    img = render(swapped, 2)
    assert not _has_colour(img, "purple") and _has_colour(img, "blue")
    dropped = M.MODES["drop_second"].edit(scene, "first", np.random.default_rng(0))
    img = render(dropped, 2)
    assert not _has_colour(img, "orange") and _components(img, "purple") == 4


def test_rates_vary_smoothly_with_the_concept():
    counts = [M.MODES["miscount"].rate(G.Scene(G.Group("star", "red", c, "medium"), "white", "flat"), "first")
              for c in range(1, 6)]
    assert counts[0] == counts[1] == 0 and 0 < counts[2] < counts[3] < counts[4] < 1
    swap = {c: M.MODES["colour_swap"].rate(_scene(first=G.Group("star", c, 1, "medium")), "first") for c in G.COLOURS}
    assert max(swap, key=swap.get) == "purple"
    assert swap["grey"] == swap["black"] == swap["white"] == 0.0
    assert 0 < swap["blue"] < swap["purple"] and 0 < swap["pink"] < swap["purple"]
    drops = [M.MODES["drop_second"].rate(_scene(second=G.Group("ring", "red", c, "medium")), "first") for c in (1, 2, 3)]
    assert drops[0] > drops[1] > drops[2] > 0


def test_generators_fail_at_their_rates_and_differently():
    scenes, _ = G.sample_prompts(3000, np.random.default_rng(2))
    for gen in M.GENERATORS:
        fired = []
        expected = 0.0
        for i, scene in enumerate(scenes):
            truth, modes = M.apply_failures(gen, scene, np.random.default_rng([gen == "a", i]))
            assert (truth != scene) == bool(modes)
            fired.append(len(modes))
            expected += sum(M.failure_rates(gen, scene).values())
        assert abs(sum(fired) - expected) < 4 * np.sqrt(expected)
        assert 0.2 < np.mean(np.array(fired) > 0) < 0.6
    assert not set(M.GENERATORS["a"].modes) & set(M.GENERATORS["b"].modes)


def test_failures_are_deterministic_given_the_seed():
    scene = _scene()
    runs = [M.apply_failures("b", scene, np.random.default_rng(5)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_truth_fields_round_trip():
    scenes, _ = G.sample_prompts(200, np.random.default_rng(4))
    for scene in scenes:
        assert M.scene_from_fields(M.truth_fields(scene)) == scene


def test_unknown_generator_is_refused():
    with pytest.raises(ValueError, match="generator must be one of"):
        M.get_generator("c")
