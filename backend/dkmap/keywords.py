"""Keywords of a lasso selection (METHOD.md §7): KeyBERT keyphrases and similarity histograms.

Keyphrases are KeyBERT's (cosine ranking, no MMR): each prompt's candidates are the n-grams that
scikit-learn's CountVectorizer, fitted on the sampled prompts, finds in it, ranked by cosine
similarity to the prompt. The prompt side uses the STORED MiniLM embeddings (space `minilm`), the
phrase side the same MiniLM model, so both live in one space; phrase embeddings are cached per
extractor (one per process) by phrase. KeyBERT scores one prompt at a time (a few ms each); here
every (prompt, candidate) pair is scored at once from the two embedding matrices and the top ones
per prompt are picked by one sort, with the same result (tests compare with KeyBERT itself).
At most `max_docs` prompts give keyphrases; similarities cover every prompt passed in. The
server passes a bounded sample of a large selection and its size (`population`), so bar counts
are scaled to the selection.

Histogram bins: `n_bins` (default 10) equal bins over [min, max] of all similarities of the
prompts (every keyword shares the range, so bars line up across keywords while staying fine
enough; MiniLM similarities rarely span [-1, 1]). Bin b is [lo_b, hi_b), the last bin also holds
hi; each prompt falls in exactly one bin of each keyword (its `bin_of` entry).

Ranking (`rank`). "frequency": by how many used prompts have the phrase among their top keyphrases
(`count`), which on a real corpus lists its common words whatever the selection. "lift" (the
default): the candidates are the same phrases, ranked by how much more often a selected prompt
contains the phrase than a prompt of the whole dataset does. The score is a log-odds ratio with an
informative prior (the binomial form of Monroe, Colaresi and Quinn's "informative Dirichlet" z-score,
over prompts containing the phrase rather than word tokens): with k of the n used prompts containing
the phrase and p0 the dataset's rate, the selection's rate is shrunk towards p0 by a Beta prior
worth PRIOR_PROMPTS prompts, and the score is the difference of the two log-odds divided by its
standard error. We chose it over a plain lift (rate ratio) because a ratio with a support cut-off
jumps at the cut-off and still ranks a phrase in 2 of 250 prompts and nowhere else first, while the
z-score rises both with how over-represented a phrase is and with how many prompts show it, and is
near 0 for words as common in the selection as everywhere. Phrases in fewer than MIN_SUPPORT used
prompts are not ranked by lift at all. Each keyword carries both counts: `in_selection` (prompts of
the selection containing it, scaled to the selection like the bars) and `in_dataset` (prompts of the
dataset containing it, from `PhraseFrequencies`, exact up to its sample size).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

_SIM_CHUNK = 65536  # rows per block when computing similarities for big selections
_MIN_SPAN = 1e-6  # narrower similarity ranges are widened to this around their centre
RANKS = ("lift", "frequency")
PRIOR_PROMPTS = 10.0  # weight of the dataset rate in a selection's phrase rate, in prompts
MIN_SUPPORT = 2  # used prompts that must contain a phrase for the lift ranking to list it
BACKGROUND_SAMPLE = 50_000  # dataset prompts counted for `in_dataset` (all of them when fewer)


@dataclass
class KeywordResult:
    """Top keywords of a selection with their histograms; `to_dict()` is the JSON form."""

    keywords: list[dict[str, Any]]
    sampled: bool
    n_used: int
    n_selected: int
    n_scored: int
    similarities: np.ndarray = field(repr=False)  # n_scored × n_keywords float32, in keyword order
    rank: str = "frequency"

    def to_dict(self) -> dict[str, Any]:
        """`{"keywords": [{"keyword", "count", "in_selection", "in_dataset", "score", "bins": [{"lo",
        "hi", "count", "sample_count"}], "bin_of": [bin of each scored prompt]}], "rank", "sampled",
        "n_used", "n_selected", "n_scored"}` (`in_dataset` and `score` with a background only)."""
        return {"keywords": self.keywords, "rank": self.rank, "sampled": self.sampled, "n_used": self.n_used,
                "n_selected": self.n_selected, "n_scored": self.n_scored}


@dataclass
class PhraseFrequencies:
    """How many prompts of a dataset contain each phrase: counted over all prompts, or over a seeded
    uniform sample of `sample_size` of them when there are more (counts then scaled to `n_prompts`)."""

    counts: dict[str, int]
    n_counted: int
    n_prompts: int

    @property
    def sampled(self) -> bool:
        return self.n_counted < self.n_prompts

    def rate(self, phrase: str) -> float:
        """Share of the dataset's prompts containing `phrase`, smoothed by one pseudo-prompt each way."""
        return (self.counts.get(phrase, 0) + 1.0) / (self.n_counted + 2.0)

    def count(self, phrase: str) -> int:
        k = self.counts.get(phrase, 0)
        return int(k if not self.sampled else round(k * self.n_prompts / self.n_counted))


def lift_scores(k: np.ndarray, n: int, p0: np.ndarray, prior: float = PRIOR_PROMPTS) -> np.ndarray:
    """z-scored log-odds of a phrase in k of n selected prompts against its dataset rate p0 (see the
    module docstring): positive when over-represented in the selection."""
    k = np.asarray(k, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64)
    a, b = k + prior * p0, (n - k) + prior * (1.0 - p0)
    delta = np.log(a / b) - np.log(p0 / (1.0 - p0))
    return delta / np.sqrt(1.0 / a + 1.0 / b)


def _row_norms(emb: np.ndarray) -> np.ndarray:
    """Euclidean norms of float32 rows, 1 where a row is zero (so dividing leaves it zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", emb, emb))
    return np.where(norms > 0, norms, 1.0)


def _unit_rows(emb: np.ndarray) -> np.ndarray:
    out = np.asarray(emb, dtype=np.float32)
    return out / _row_norms(out)[:, None]


def histogram_bins(similarities: np.ndarray, lo: float, hi: float, n_bins: int
                   ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """`n_bins` equal bins over [lo, hi]: each bin's bounds and count, and the bin of every item."""
    width = (hi - lo) / n_bins
    index = np.clip(np.floor((similarities - lo) / width), 0, n_bins - 1).astype(np.int64)
    counts = np.bincount(index, minlength=n_bins)
    bins = [{"lo": float(lo + b * width), "hi": float(hi if b == n_bins - 1 else lo + (b + 1) * width),
             "count": int(counts[b])} for b in range(n_bins)]
    return bins, index


class KeywordExtractor:
    """Holds the MiniLM model and the phrase-embedding cache; build once per process."""

    def __init__(self, model: Any = None, keyphrases_per_prompt: int = 5, stop_words: str | None = "english",
                 n_bins: int = 10, cache_size: int = 200_000) -> None:
        if model is None:
            from dkmap.data.encoders import load_minilm

            model = load_minilm()
        if keyphrases_per_prompt < 1:
            raise ValueError(f"keyphrases_per_prompt must be a positive integer, got {keyphrases_per_prompt}")
        if n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
        self.model = model
        # sentence-transformers renamed the accessor; accept either.
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim: int | None = get_dim()
        self.keyphrases_per_prompt = keyphrases_per_prompt
        self.stop_words = stop_words
        self.n_bins = n_bins
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def phrase_embeddings(self, phrases: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 MiniLM embeddings of `phrases` (len × 384), cached by phrase."""
        phrases = [str(p) for p in phrases]
        with self._lock:  # one snapshot of the hits: eviction by another thread cannot lose them
            found = {}
            for p in phrases:
                if p in self._cache and p not in found:
                    self._cache.move_to_end(p)
                    found[p] = self._cache[p]
        missing = list(dict.fromkeys(p for p in phrases if p not in found))
        if missing:
            new = self.model.encode(missing, batch_size=256, show_progress_bar=False,
                                    convert_to_numpy=True, normalize_embeddings=True).astype(np.float32)
            found.update(zip(missing, new))
            with self._lock:
                self._cache.update(zip(missing, new))
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if not phrases:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        return np.stack([found[p] for p in phrases])

    def _vectorizer(self, ngram_range: tuple[int, int]):
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(ngram_range=ngram_range, stop_words=self.stop_words)

    def dataset_frequencies(self, prompts: Sequence[str], ngram_range: tuple[int, int] = (1, 2),
                            sample_size: int = BACKGROUND_SAMPLE, seed: int = 0) -> PhraseFrequencies:
        """How many of `prompts` (a whole dataset's) contain each candidate phrase, tokenised as the
        keyphrase candidates are; a seeded sample of `sample_size` when there are more."""
        n = len(prompts)
        rows = (np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
                if n > sample_size else np.arange(n))
        vectorizer = self._vectorizer(tuple(ngram_range))
        vectorizer.set_params(binary=True)
        try:
            present = vectorizer.fit_transform([str(prompts[i]) for i in rows]).tocsc()
        except ValueError:  # only stop words or no words at all
            return PhraseFrequencies({}, int(len(rows)), n)
        per_phrase = np.diff(present.indptr)
        counts = dict(zip(vectorizer.get_feature_names_out().tolist(), per_phrase.tolist()))
        return PhraseFrequencies(counts, int(len(rows)), n)

    def _top_pairs(self, docs: list[str], doc_emb: np.ndarray, ngram_range: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """KeyBERT's top keyphrases of every doc as pairs: (vocabulary, doc index, phrase index, cosine),
        grouped by doc, best first within a doc; and the number of docs containing each phrase."""
        vectorizer = self._vectorizer(ngram_range)
        try:
            counts = vectorizer.fit_transform(docs).tocsr()
        except ValueError:  # only stop words or no words at all
            return np.array([], dtype=object), *(np.empty(0, dtype=t) for t in (np.int64, np.int64, np.float32, np.int64))
        containing = np.bincount(counts.indices, minlength=counts.shape[1])
        counts.sort_indices()  # KeyBERT lists a doc's candidates in vocabulary order
        vocab = vectorizer.get_feature_names_out()
        doc_of = np.repeat(np.arange(len(docs)), np.diff(counts.indptr))
        phrase_of = counts.indices.astype(np.int64)
        phrase_emb = self.phrase_embeddings(vocab)
        cosine = np.einsum("ij,ij->i", _unit_rows(doc_emb)[doc_of], phrase_emb[phrase_of])
        # By doc, then best first; equal scores: the later phrase first, as KeyBERT's reversed argsort.
        order = np.lexsort((-phrase_of, -cosine, doc_of))
        rank = np.arange(len(order)) - counts.indptr[doc_of[order]]
        keep = order[rank < self.keyphrases_per_prompt]
        return vocab, doc_of[keep], phrase_of[keep], cosine[keep], containing

    def keyphrases(self, docs: Sequence[str], doc_emb: np.ndarray, ngram_range: tuple[int, int] = (1, 2)
                   ) -> list[list[tuple[str, float]]]:
        """The top `keyphrases_per_prompt` (phrase, cosine) of every doc, best first, as KeyBERT's
        `extract_keywords(docs, vectorizer=CountVectorizer(ngram_range, stop_words), doc_embeddings=...)`."""
        docs = [str(d) for d in docs]
        vocab, doc_of, phrase_of, cosine, _ = self._top_pairs(docs, np.asarray(doc_emb), tuple(ngram_range))
        out: list[list[tuple[str, float]]] = [[] for _ in docs]
        for d, p, c in zip(doc_of.tolist(), phrase_of.tolist(), cosine.tolist()):
            out[d].append((str(vocab[p]), c))
        return out

    def similarities(self, prompt_embeddings: np.ndarray, keyword_emb: np.ndarray) -> np.ndarray:
        """Cosine similarity of every selected prompt (stored MiniLM space) to every keyword."""
        n = prompt_embeddings.shape[0]
        out = np.empty((n, keyword_emb.shape[0]), dtype=np.float32)
        for start in range(0, n, _SIM_CHUNK):
            block = np.asarray(prompt_embeddings[start:start + _SIM_CHUNK], dtype=np.float32)
            out[start:start + _SIM_CHUNK] = (block @ keyword_emb.T) / _row_norms(block)[:, None]
        return out

    def extract(self, prompts: Sequence[str], prompt_embeddings: np.ndarray, top_k: int = 15, max_docs: int = 500,
                ngram_range: tuple[int, int] = (1, 2), seed: int = 0, population: int | None = None,
                rank: str = "frequency", background: PhraseFrequencies | None = None) -> KeywordResult:
        """Keywords of the `prompts` and a similarity histogram per keyword.

        `prompt_embeddings` are the stored MiniLM rows of the same prompts (n × 384). At most
        `max_docs` prompts (seeded sample) give keyphrases; keywords are ranked by `rank` (module
        docstring): "frequency" needs nothing more, "lift" needs `background`, the dataset's phrase
        frequencies (`dataset_frequencies`), which also give every keyword's `in_dataset`. When the
        prompts are a uniform sample of a larger selection, `population` is that selection's size:
        each bar's `count` and `in_selection` are then scaled to the population (`sample_count` and
        `count` stay the sample's)."""
        n = len(prompts)
        emb = prompt_embeddings
        if not hasattr(emb, "shape") or len(emb.shape) != 2 or emb.shape[0] != n:
            raise ValueError(f"prompt_embeddings must have shape ({n}, d) for {n} prompts, "
                             f"got {getattr(emb, 'shape', None)}")
        if self.dim is not None and emb.shape[1] != self.dim:
            raise ValueError(f"prompt_embeddings must be MiniLM embeddings ({self.dim}-d, space 'minilm'), "
                             f"got {emb.shape[1]}-d")
        if not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        if not isinstance(max_docs, (int, np.integer)) or max_docs < 1:
            raise ValueError(f"max_docs must be a positive integer, got {max_docs!r}")
        if len(ngram_range) != 2 or not 1 <= ngram_range[0] <= ngram_range[1]:
            raise ValueError(f"ngram_range must be (low, high) with 1 <= low <= high, got {ngram_range!r}")
        population = n if population is None else population
        if not isinstance(population, (int, np.integer)) or population < n:
            raise ValueError(f"population must be an integer of at least the {n} prompts given, got {population!r}")
        if rank not in RANKS:
            raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
        if rank == "lift" and background is None:
            raise ValueError("rank 'lift' needs the dataset's phrase frequencies (background)")

        if n == 0:
            return KeywordResult([], False, 0, int(population), 0, np.empty((0, 0), dtype=np.float32), rank)
        sampled = n > max_docs
        used = np.sort(np.random.default_rng(seed).choice(n, size=max_docs, replace=False)) if sampled else np.arange(n)
        docs = [str(prompts[i]) for i in used]
        vocab, _, phrase_of, _, containing = self._top_pairs(docs, emb[used] if sampled else emb, tuple(ngram_range))
        # A doc lists a phrase once, so phrase counts are numbers of docs.
        counts = np.bincount(phrase_of, minlength=len(vocab))
        candidates = np.flatnonzero(counts)
        scores = None
        if background is not None:
            p0 = np.array([background.rate(str(vocab[i])) for i in candidates])
            scores = dict(zip(candidates.tolist(), lift_scores(containing[candidates], len(used), p0).tolist()))
        if rank == "lift":
            candidates = candidates[containing[candidates] >= MIN_SUPPORT]
            order = sorted(candidates.tolist(), key=lambda i: (-scores[i], str(vocab[i])))
        else:
            order = sorted(candidates.tolist(), key=lambda i: (-int(counts[i]), str(vocab[i])))
        top = order[:top_k]
        phrases = [str(vocab[i]) for i in top]

        sims = self.similarities(emb, self.phrase_embeddings(phrases))
        keywords = []
        if top:
            lo, hi = float(sims.min()), float(sims.max())
            if hi - lo < _MIN_SPAN:
                lo, hi = (lo + hi) / 2 - _MIN_SPAN / 2, (lo + hi) / 2 + _MIN_SPAN / 2
            scale = population / len(used)
            for j, (i, phrase) in enumerate(zip(top, phrases)):
                bins, bin_of = histogram_bins(sims[:, j], lo, hi, self.n_bins)
                for b in bins:
                    b["sample_count"] = b["count"]
                    b["count"] = b["count"] if population == n else round(b["count"] * population / n)
                entry = {"keyword": phrase, "count": int(counts[i]),
                         "in_selection": int(containing[i] if not sampled and population == n
                                             else round(containing[i] * scale))}
                if background is not None:
                    entry["in_dataset"] = max(background.count(phrase), entry["in_selection"])
                    entry["score"] = round(float(scores[i]), 4)
                keywords.append({**entry, "bins": bins, "bin_of": bin_of.tolist()})
        log.info("keywords: %d of %d scored, %d used%s, %d keywords by %s", n, population, len(used),
                 " (sampled)" if sampled else "", len(keywords), rank)
        return KeywordResult(keywords=keywords, sampled=bool(sampled), n_used=int(len(used)),
                             n_selected=int(population), n_scored=n, similarities=sims, rank=rank)
