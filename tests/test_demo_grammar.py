"""The demo's scene grammar: coverage, distinct and varied prompts, determinism, one-concept twins."""

import numpy as np
import pytest

from dkmap.data.demo import grammar as G
from dkmap.data.demo.generators import truth_fields


@pytest.fixture(scope="module")
def sample():
    return G.sample_prompts(4000, np.random.default_rng(7))


def test_vocabulary_is_as_large_as_the_issue_asks():
    assert len(G.SHAPES) >= 12 and len(set(G.SHAPES)) == len(G.SHAPES)
    assert len(G.COLOURS) >= 10
    assert len(G.STYLES) >= 4 and len(G.BACKGROUNDS) >= 4 and len(G.RELATIONS) >= 4


def test_every_concept_occurs(sample):
    scenes, _ = sample
    groups = [g for s in scenes for g in (s.first, s.second) if g is not None]
    assert {g.shape for g in groups} == set(G.SHAPES)
    assert {g.colour for g in groups} == set(G.COLOURS)
    assert {g.size for g in groups} == set(G.SIZES)
    assert {g.count for g in groups} == {1, 2, 3, 4, 5}
    assert {s.relation for s in scenes} == set(G.RELATIONS) | {None}
    assert {s.background for s in scenes} == set(G.BACKGROUNDS)
    assert {s.style for s in scenes} == set(G.STYLES)


def test_scenes_fit_and_stand_out(sample):
    for scene in sample[0]:
        for g in (scene.first, scene.second):
            if g is not None:
                # room for one object more, so a miscount can still be drawn
                assert g.count + 1 <= G.capacity(g.size, scene.relation)
                assert G.contrast(g.colour, scene.background) >= G.MIN_CONTRAST
        assert scene.first != scene.second


def test_twenty_thousand_distinct_prompts():
    _, texts = G.sample_prompts(20_000, np.random.default_rng(0))
    assert len(set(texts)) == 20_000


def test_prompts_name_what_the_scene_holds(sample):
    scenes, texts = sample
    for scene, text in zip(scenes[:500], texts[:500]):
        low = text.lower()
        assert scene.first.colour in low and scene.first.shape[:4] in low
        assert scene.background in low
        if scene.second is not None:
            assert scene.second.colour in low and scene.second.shape[:4] in low


def test_wording_varies_for_one_scene():
    scene = G.Scene(G.Group("star", "red", 3, "small"), "white", "flat",
                    G.Group("circle", "blue", 1, "large"), "left_of")
    rng = np.random.default_rng(0)
    texts = {G.describe(scene, rng) for _ in range(200)}
    assert len(texts) >= 30
    assert any("to the left of" in t for t in texts) and any(" left of " in t for t in texts)


def test_article_agrees_with_the_next_word():
    rng = np.random.default_rng(1)
    texts = [G.group_phrase(G.Group("circle", "orange", 1, "medium"), rng) for _ in range(60)]
    assert "an orange circle" in texts and "a orange circle" not in texts


def test_same_seed_same_prompts_other_seed_other_prompts():
    a = G.sample_prompts(300, np.random.default_rng(3))
    b = G.sample_prompts(300, np.random.default_rng(3))
    c = G.sample_prompts(300, np.random.default_rng(4))
    assert a == b
    assert a[1] != c[1]


def test_exclude_keeps_prompts_out():
    _, first = G.sample_prompts(500, np.random.default_rng(0))
    _, second = G.sample_prompts(500, np.random.default_rng(0), exclude=set(first))
    assert not set(first) & set(second)


def test_perturb_changes_exactly_one_field(sample):
    rng = np.random.default_rng(5)
    changed_fields = set()
    for scene in sample[0][:1500]:
        twin = G.perturb(scene, rng)
        before, after = truth_fields(scene), truth_fields(twin)
        diff = [k for k in before if before[k] != after[k]]
        assert len(diff) == 1, (scene, twin)
        changed_fields.add(diff[0].split(".")[-1])
    assert {"count", "colour", "shape", "size", "style", "background", "relation"} <= changed_fields


def test_concepts_name_the_prompt():
    scene = G.Scene(G.Group("star", "red", 4, "small"), "navy", "noisy", G.Group("ring", "pink", 1, "large"), "above")
    got = set(G.concepts(scene))
    assert {"count=4", "colour=red", "shape=ring", "relation", "relation=above", "style=noisy",
            "background=navy", "size=large", "count=1"} <= got


def test_bad_count_is_refused():
    with pytest.raises(ValueError, match="n must be"):
        G.sample_prompts(0, np.random.default_rng(0))
