"""Lasso keywords (dkmap.keywords) with real KeyBERT and the real MiniLM model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dkmap.data.encoders import embed_prompts_minilm
from dkmap.keywords import MIN_SUPPORT, PRIOR_PROMPTS, KeywordExtractor, PhraseFrequencies, histogram_bins, lift_scores

DRAGONS = [
    "a red dragon flying over a medieval castle at sunset",
    "a dragon sleeping on a pile of gold coins in a cave",
    "a knight in shining armour fighting a dragon",
    "an ancient castle on a cliff, a dragon circling the towers",
    "a baby dragon hatching from a glowing egg",
    "a stone castle in the mountains covered in snow",
    "a green dragon breathing fire over a village",
    "a knight riding a horse towards a dark castle",
    "a dragon skeleton in a desert, dramatic lighting",
    "a princess on the balcony of a castle at night",
    "a dragon and a knight resting by a campfire",
    "a golden dragon statue in a temple garden",
]
KITCHENS = [
    "a cup of coffee on a wooden kitchen table",
    "fresh croissants and espresso in a sunny cafe",
    "a tabby kitten sleeping next to a teapot",
]


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w\w+", text.lower()))


@pytest.fixture(scope="module")
def extractor() -> KeywordExtractor:
    return KeywordExtractor()


@pytest.fixture(scope="module")
def dragon_emb() -> np.ndarray:
    return embed_prompts_minilm(DRAGONS)


def test_keywords_come_from_the_selected_prompts(extractor, dragon_emb):
    result = extractor.extract(DRAGONS, dragon_emb, top_k=8)
    words = [k["keyword"] for k in result.keywords]
    assert 1 <= len(words) <= 8
    counts = [k["count"] for k in result.keywords]
    assert counts == sorted(counts, reverse=True)
    kitchen_words = set().union(*map(_tokens, KITCHENS)) - set().union(*map(_tokens, DRAGONS))
    for kw in result.keywords:
        parts = kw["keyword"].split()
        having = [p for p in DRAGONS if set(parts) <= _tokens(p)]
        assert having, f"{kw['keyword']!r} is in no selected prompt"
        assert 1 <= kw["count"] <= len(having)
        assert not set(parts) & kitchen_words
    # "dragon" is in 8 of the 12 prompts and names their subject: KeyBERT ranks it first.
    assert words[0] == "dragon" and counts[0] >= 5
    assert not result.sampled and result.n_used == result.n_selected == len(DRAGONS)
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()
    assert set(result.to_dict()) == {"keywords", "rank", "sampled", "n_used", "n_selected", "n_scored"}


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (1, 3)])
def test_keyphrases_equal_keybert_on_the_same_embeddings(extractor, dragon_emb, ngram_range):
    from keybert import KeyBERT
    from sklearn.feature_extraction.text import CountVectorizer

    docs = DRAGONS + KITCHENS
    doc_emb = np.concatenate([dragon_emb, embed_prompts_minilm(KITCHENS)]).astype(np.float32)
    vocab = CountVectorizer(ngram_range=ngram_range, stop_words="english").fit(docs).get_feature_names_out()
    want = KeyBERT(model=extractor.model).extract_keywords(
        docs, vectorizer=CountVectorizer(ngram_range=ngram_range, stop_words="english"), top_n=5,
        doc_embeddings=doc_emb, word_embeddings=extractor.phrase_embeddings(vocab))
    got = extractor.keyphrases(docs, doc_emb, ngram_range)
    assert [[p for p, _ in per_doc] for per_doc in got] == [[p for p, _ in per_doc] for per_doc in want]
    for mine, theirs in zip(got, want):
        np.testing.assert_allclose([c for _, c in mine], [c for _, c in theirs], atol=1e-4)  # KeyBERT rounds
    assert max(map(len, got)) == 5 and min(map(len, got)) >= 1  # fewer only where a prompt has fewer candidates


def test_keyword_counts_are_numbers_of_prompts_with_the_keyphrase(extractor, dragon_emb):
    by_hand: dict[str, int] = {}
    for phrases in extractor.keyphrases(DRAGONS, dragon_emb):
        for phrase, _ in phrases:
            by_hand[phrase] = by_hand.get(phrase, 0) + 1
    want = sorted(by_hand.items(), key=lambda kv: (-kv[1], kv[0]))
    result = extractor.extract(DRAGONS, dragon_emb, top_k=len(want))
    assert [(k["keyword"], k["count"]) for k in result.keywords] == want


def test_every_selected_item_falls_in_exactly_one_bar(extractor, dragon_emb):
    result = extractor.extract(DRAGONS, dragon_emb, top_k=5)
    sims = result.similarities
    assert sims.shape == (len(DRAGONS), len(result.keywords))
    for j, kw in enumerate(result.keywords):
        bins, bin_of = kw["bins"], np.asarray(kw["bin_of"])
        assert len(bins) == 10 and bin_of.shape == (len(DRAGONS),)
        assert [b["count"] for b in bins] == [b["sample_count"] for b in bins] == np.bincount(bin_of, minlength=10).tolist()
        assert bins[0]["lo"] == pytest.approx(sims.min()) and bins[-1]["hi"] == pytest.approx(sims.max())
        for left, right in zip(bins, bins[1:]):
            assert left["hi"] == pytest.approx(right["lo"])
        for i, b in enumerate(bin_of):
            assert bins[b]["lo"] - 1e-6 <= sims[i, j] <= bins[b]["hi"] + 1e-6


def test_a_sample_scales_bar_counts_to_its_population(extractor, dragon_emb):
    result = extractor.extract(DRAGONS, dragon_emb, top_k=5, population=1200)
    assert result.n_selected == 1200 and result.n_scored == len(DRAGONS)
    for kw in result.keywords:
        sample_counts = np.bincount(kw["bin_of"], minlength=10)
        assert [b["sample_count"] for b in kw["bins"]] == sample_counts.tolist()
        assert [b["count"] for b in kw["bins"]] == [c * 100 for c in sample_counts]  # 1200 / 12 prompts


def test_similarities_are_computed_in_the_stored_space(extractor, dragon_emb):
    # Stored rows that are NOT the prompts' own embeddings: rolled by one.
    stored = np.roll(dragon_emb, 1, axis=0).astype(np.float16)
    result = extractor.extract(DRAGONS, stored, top_k=3)
    keyword = result.keywords[0]["keyword"]
    vec = extractor.model.encode([keyword])[0]
    vec = vec / np.linalg.norm(vec)
    row = np.asarray(stored[4], dtype=np.float64)
    by_hand = float(row @ vec / np.linalg.norm(row))
    assert result.similarities[4, 0] == pytest.approx(by_hand, abs=1e-5)
    own = float(dragon_emb[4] @ vec)
    assert abs(own - by_hand) > 1e-3  # the prompt's own embedding would give another value
    bar = result.keywords[0]["bins"][result.keywords[0]["bin_of"][4]]
    assert bar["lo"] - 1e-6 <= by_hand <= bar["hi"] + 1e-6


def test_large_selections_are_sampled_for_extraction_only(extractor):
    prompts = [f"{p} number {i}" for i, p in enumerate(DRAGONS * 5)]
    emb = embed_prompts_minilm(prompts)
    result = extractor.extract(prompts, emb, top_k=5, max_docs=20, seed=3)
    assert result.sampled and result.n_used == 20 and result.n_selected == len(prompts)
    assert all(1 <= k["count"] <= 20 for k in result.keywords)
    for kw in result.keywords:
        assert len(kw["bin_of"]) == len(prompts) and sum(b["count"] for b in kw["bins"]) == len(prompts)
    again = extractor.extract(prompts, emb, top_k=5, max_docs=20, seed=3)
    assert again.to_dict() == result.to_dict()
    whole = extractor.extract(prompts, emb, top_k=5, max_docs=len(prompts))
    assert not whole.sampled and whole.n_used == len(prompts)


def test_phrase_embeddings_are_cached_model_embeddings(extractor):
    phrases = ["castle", "red dragon", "castle"]
    first = extractor.phrase_embeddings(phrases)
    direct = extractor.model.encode(phrases, normalize_embeddings=True)
    np.testing.assert_allclose(first, direct, atol=1e-5)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert "red dragon" in extractor._cache
    np.testing.assert_array_equal(extractor.phrase_embeddings(["red dragon"])[0], first[1])


def test_cache_is_bounded_and_keeps_the_recent_phrases(extractor):
    small = KeywordExtractor(model=extractor.model, cache_size=3)
    phrases = ["castle", "knight", "dragon egg", "gold coins", "campfire"]
    got = small.phrase_embeddings(phrases)
    assert list(small._cache) == phrases[-3:]
    np.testing.assert_allclose(got, extractor.phrase_embeddings(phrases), atol=1e-6)


def test_concurrent_requests_agree_with_a_serial_one(extractor, dragon_emb):
    from concurrent.futures import ThreadPoolExecutor

    want = extractor.extract(DRAGONS, dragon_emb, top_k=5).to_dict()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: extractor.extract(DRAGONS, dragon_emb, top_k=5).to_dict(), range(4)))
    assert all(r == want for r in results)


def test_small_and_degenerate_selections(extractor, dragon_emb):
    one = extractor.extract(DRAGONS[:1], dragon_emb[:1], top_k=3)
    assert 1 <= len(one.keywords) <= 3 and all(k["count"] == 1 for k in one.keywords)
    assert all(sum(b["count"] for b in k["bins"]) == 1 for k in one.keywords)
    empty = extractor.extract([], np.empty((0, 384), dtype=np.float32))
    assert empty.to_dict() == {"keywords": [], "rank": "frequency", "sampled": False, "n_used": 0, "n_selected": 0,
                               "n_scored": 0}
    stop = extractor.extract(["the and of", "a an the"], dragon_emb[:2])
    assert stop.keywords == [] and stop.n_selected == 2


def test_histogram_bins_edges_and_assignment():
    sims = np.array([0.0, 0.1, 0.25, 0.5, 0.99, 1.0])
    bins, bin_of = histogram_bins(sims, 0.0, 1.0, 4)
    assert [(b["lo"], b["hi"]) for b in bins] == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]
    assert bin_of.tolist() == [0, 0, 1, 2, 3, 3] and [b["count"] for b in bins] == [2, 1, 1, 2]


@pytest.mark.parametrize("kwargs, match", [
    ({"top_k": 0}, "top_k must be a positive integer"),
    ({"max_docs": 0}, "max_docs must be a positive integer"),
    ({"ngram_range": (2, 1)}, "ngram_range"),
    ({"population": 5}, "population must be an integer of at least the 12 prompts"),
    ({"population": 12.5}, "population must be an integer"),
    ({"rank": "tfidf"}, "rank must be one of lift, frequency"),
    ({"rank": "lift"}, "rank 'lift' needs the dataset's phrase frequencies"),
])
def test_bad_parameters_are_named(extractor, dragon_emb, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extractor.extract(DRAGONS, dragon_emb, **kwargs)


def test_bad_embeddings_are_named(extractor, dragon_emb):
    with pytest.raises(ValueError, match=r"prompt_embeddings must have shape \(12, d\)"):
        extractor.extract(DRAGONS, dragon_emb[:5])
    with pytest.raises(ValueError, match="MiniLM embeddings \\(384-d"):
        extractor.extract(DRAGONS, dragon_emb[:, :100])


def test_dataset_frequencies_count_prompts_containing_each_phrase(extractor):
    docs = DRAGONS + KITCHENS
    freq = extractor.dataset_frequencies(docs)
    assert not freq.sampled and freq.n_counted == freq.n_prompts == 15
    assert freq.count("dragon") == sum("dragon" in _tokens(d) for d in docs) == 9
    assert freq.count("castle") == 5 and freq.count("red dragon") == 1 and freq.count("unicorn") == 0
    assert freq.rate("dragon") == pytest.approx(10 / 17)
    sampled = extractor.dataset_frequencies(docs * 4, sample_size=30, seed=1)
    assert sampled.sampled and sampled.n_counted == 30 and sampled.n_prompts == 60
    assert sampled.count("dragon") == round(sampled.counts["dragon"] * 2)


def test_lift_scores_are_the_prior_shrunk_log_odds_z_score():
    k, n, p0 = np.array([40, 10, 2]), 50, np.array([0.1, 0.2, 0.001])
    a = k + PRIOR_PROMPTS * p0
    b = n - k + PRIOR_PROMPTS * (1 - p0)
    want = (np.log(a / b) - np.log(p0 / (1 - p0))) / np.sqrt(1 / a + 1 / b)
    got = lift_scores(k, n, p0)
    np.testing.assert_allclose(got, want)
    assert got[0] > 10 and abs(got[1]) < 0.1  # 80 % against 10 %: far over; 20 % against 20 %: none


def test_lift_ranks_what_sets_the_selection_apart(extractor, dragon_emb):
    # The dataset: the 12 dragon/castle prompts among many castle-only ones, so "castle" is
    # common everywhere and "dragon" belongs to the selection.
    castles = [f"a castle on a hill number {i}" for i in range(60)]
    background = extractor.dataset_frequencies(DRAGONS + castles)
    lift = extractor.extract(DRAGONS, dragon_emb, top_k=20, rank="lift", background=background)
    freq = extractor.extract(DRAGONS, dragon_emb, top_k=20, rank="frequency", background=background)
    assert lift.rank == "lift" and freq.rank == "frequency"
    scores = [k["score"] for k in lift.keywords]
    assert scores == sorted(scores, reverse=True)
    by_word = {k["keyword"]: k for k in lift.keywords}
    assert lift.keywords[0]["keyword"] == "dragon"
    assert by_word["dragon"]["in_selection"] == 9 and by_word["dragon"]["in_dataset"] == 9
    assert by_word["castle"]["in_selection"] == 5 and by_word["castle"]["in_dataset"] == 65
    assert by_word["castle"]["score"] < by_word["dragon"]["score"]
    assert all(k["in_selection"] >= MIN_SUPPORT for k in lift.keywords)
    # Frequency keeps its order (by `count`) and carries the same two counts.
    counts = [k["count"] for k in freq.keywords]
    assert counts == sorted(counts, reverse=True)
    assert {k["keyword"]: k["in_dataset"] for k in freq.keywords}.items() >= {
        w: by_word[w]["in_dataset"] for w in by_word if w in {k["keyword"] for k in freq.keywords}}.items()


def test_phrase_frequencies_of_a_sample_scale_to_the_dataset():
    freq = PhraseFrequencies({"cat": 3}, n_counted=10, n_prompts=1000)
    assert freq.sampled and freq.count("cat") == 300 and freq.count("dog") == 0
    assert freq.rate("cat") == pytest.approx(4 / 12)


def test_repeated_prompts_are_encoded_once_with_the_same_vectors(monkeypatch):
    from dkmap.data import encoders

    model = encoders.load_minilm()
    encoded = []
    real = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: (encoded.append(list(texts)), real(texts, **kw))[1])
    prompts = ["a red fox", "a blue whale", "a red fox", "a red fox", "a green frog", "a blue whale"]
    emb = embed_prompts_minilm(prompts)
    assert encoded == [["a red fox", "a blue whale", "a green frog"]]
    assert emb.shape == (6, 384) and emb.dtype == np.float32 and emb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(emb[[0, 2, 3]], np.repeat(emb[[0]], 3, axis=0))
    np.testing.assert_allclose(emb[4], real(["a green frog"], normalize_embeddings=True)[0], atol=1e-5)
    assert embed_prompts_minilm([]).shape == (0, 384)
