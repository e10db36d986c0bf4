"""Keyword rankings on the small demo (built by the real pipeline) against its ground truth: a
selection of the prompts that ask for purple objects is told apart by "purple" under the lift
ranking, while the frequency ranking lists the corpus's common shape words first."""

from __future__ import annotations

import re

import pandas as pd
import pytest

URL = "/api/maps/demo-small/clipscore_a/selection"


@pytest.fixture(scope="module")
def demo_client(built_data_dir):
    from dkmap.server.app import create_app

    return create_app({"DATA_DIR": str(built_data_dir)}).test_client()


@pytest.fixture(scope="module")
def purple(built_data_dir):
    """Ids whose prompt asks for purple first objects (ground truth), every prompt and its id."""
    truth = pd.read_parquet(built_data_dir / "demo-small" / "demo_truth.parquet")
    truth = truth[truth["generator"] == "a"]
    items = pd.read_parquet(built_data_dir / "demo-small" / "items.parquet", columns=["id", "prompt"])
    return (truth.loc[truth["prompt.first.colour"] == "purple", "id"].tolist(), items["prompt"].tolist(),
            items["id"].tolist())


def _containing(prompts, phrase: str) -> int:
    pattern = re.compile(rf"\b{re.escape(phrase)}\b")
    return sum(bool(pattern.search(p.lower())) for p in prompts)


def _keywords(client, ids, **extra):
    res = client.post(URL, json={"ids": ids, **extra})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["keywords"]


def test_lift_ranks_the_planted_colour_first_and_frequency_ranks_common_shapes_first(demo_client, purple):
    ids, prompts, all_ids = purple
    selected = set(ids)
    lift = _keywords(demo_client, ids)  # lift is the default
    freq = _keywords(demo_client, ids, rank="frequency")
    assert lift["rank"] == "lift" and freq["rank"] == "frequency"
    assert not lift["sampled"] and lift["n_used"] == len(ids)

    top = lift["keywords"][0]
    assert top["keyword"] == "purple"
    # Every selected prompt says purple; the word's other prompts ask for purple second objects.
    assert top["in_selection"] == len(ids) == 137
    assert top["in_dataset"] == _containing(prompts, "purple") == 200
    assert top["score"] > 10

    # By frequency the first keywords are shape words found all over the corpus, near their dataset rate.
    first = freq["keywords"][:2]
    assert [k["keyword"] for k in first] == ["pentagons", "hexagons"]
    for k in first:
        assert k["in_dataset"] == _containing(prompts, k["keyword"])
        assert k["in_dataset"] / len(prompts) == pytest.approx(k["in_selection"] / len(ids), abs=0.03)
        assert abs(k["score"]) < 1
    assert "purple" not in [k["keyword"] for k in freq["keywords"][:3]]
    lift_words = [k["keyword"] for k in lift["keywords"]]
    assert "pentagons" not in lift_words and "hexagons" not in lift_words
    assert all(k["score"] > first[0]["score"] for k in lift["keywords"])
    # Both counts of every keyword are the prompts containing it, in the selection and everywhere.
    chosen = [p for i, p in zip(all_ids, prompts) if i in selected]
    for k in lift["keywords"][:5] + first:
        assert k["in_selection"] == _containing(chosen, k["keyword"])
        assert k["in_dataset"] == _containing(prompts, k["keyword"])


def test_an_unknown_ranking_is_a_400_naming_the_choices(demo_client, purple):
    res = demo_client.post(URL, json={"ids": purple[0][:3], "rank": "tfidf"})
    assert res.status_code == 400
    assert "'rank' must be one of lift, frequency, got 'tfidf'" in res.get_json()["error"]["message"]
