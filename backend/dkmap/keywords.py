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


@dataclass
class KeywordResult:
    """Top keywords of a selection with their histograms; `to_dict()` is the JSON form."""

    keywords: list[dict[str, Any]]
    sampled: bool
    n_used: int
    n_selected: int
    n_scored: int
    similarities: np.ndarray = field(repr=False)  # n_scored × n_keywords float32, in keyword order

    def to_dict(self) -> dict[str, Any]:
        """`{"keywords": [{"keyword", "count", "bins": [{"lo", "hi", "count", "sample_count"}],
        "bin_of": [bin of each scored prompt]}], "sampled", "n_used", "n_selected", "n_scored"}`."""
        return {"keywords": self.keywords, "sampled": self.sampled, "n_used": self.n_used,
                "n_selected": self.n_selected, "n_scored": self.n_scored}


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

    def _top_pairs(self, docs: list[str], doc_emb: np.ndarray, ngram_range: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """KeyBERT's top keyphrases of every doc as pairs: (vocabulary, doc index, phrase index, cosine),
        grouped by doc, best first within a doc."""
        vectorizer = self._vectorizer(ngram_range)
        try:
            counts = vectorizer.fit_transform(docs).tocsr()
        except ValueError:  # only stop words or no words at all
            return np.array([], dtype=object), *(np.empty(0, dtype=t) for t in (np.int64, np.int64, np.float32))
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
        return vocab, doc_of[keep], phrase_of[keep], cosine[keep]

    def keyphrases(self, docs: Sequence[str], doc_emb: np.ndarray, ngram_range: tuple[int, int] = (1, 2)
                   ) -> list[list[tuple[str, float]]]:
        """The top `keyphrases_per_prompt` (phrase, cosine) of every doc, best first, as KeyBERT's
        `extract_keywords(docs, vectorizer=CountVectorizer(ngram_range, stop_words), doc_embeddings=...)`."""
        docs = [str(d) for d in docs]
        vocab, doc_of, phrase_of, cosine = self._top_pairs(docs, np.asarray(doc_emb), tuple(ngram_range))
        out: list[list[tuple[str, float]]] = [[] for _ in docs]
        for d, p, c in zip(doc_of.tolist(), phrase_of.tolist(), cosine.tolist()):
            out[d].append((str(vocab[p]), c))
        return out

    def _similarities(self, prompt_embeddings: np.ndarray, keyword_emb: np.ndarray) -> np.ndarray:
        """Cosine similarity of every selected prompt (stored MiniLM space) to every keyword."""
        n = prompt_embeddings.shape[0]
        out = np.empty((n, keyword_emb.shape[0]), dtype=np.float32)
        for start in range(0, n, _SIM_CHUNK):
            block = np.asarray(prompt_embeddings[start:start + _SIM_CHUNK], dtype=np.float32)
            out[start:start + _SIM_CHUNK] = (block @ keyword_emb.T) / _row_norms(block)[:, None]
        return out

    def extract(self, prompts: Sequence[str], prompt_embeddings: np.ndarray, top_k: int = 15, max_docs: int = 500,
                ngram_range: tuple[int, int] = (1, 2), seed: int = 0, population: int | None = None) -> KeywordResult:
        """Keywords of the `prompts` and a similarity histogram per keyword.

        `prompt_embeddings` are the stored MiniLM rows of the same prompts (n × 384). At most
        `max_docs` prompts (seeded sample) give keyphrases; keywords are ranked by the number of
        prompts that have them among their top keyphrases. When the prompts are a uniform sample of
        a larger selection, `population` is that selection's size: each bar's `count` is then its
        share of the sample scaled to the population (`sample_count` stays the sample's)."""
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

        if n == 0:
            return KeywordResult([], False, 0, int(population), 0, np.empty((0, 0), dtype=np.float32))
        sampled = n > max_docs
        used = np.sort(np.random.default_rng(seed).choice(n, size=max_docs, replace=False)) if sampled else np.arange(n)
        docs = [str(prompts[i]) for i in used]
        vocab, _, phrase_of, _ = self._top_pairs(docs, emb[used] if sampled else emb, tuple(ngram_range))
        # A doc lists a phrase once, so phrase counts are numbers of docs.
        counts = np.bincount(phrase_of, minlength=len(vocab))
        top = sorted(((str(vocab[i]), int(counts[i])) for i in np.flatnonzero(counts)),
                     key=lambda kv: (-kv[1], kv[0]))[:top_k]

        sims = self._similarities(emb, self.phrase_embeddings([k for k, _ in top]))
        keywords = []
        if top:
            lo, hi = float(sims.min()), float(sims.max())
            if hi - lo < _MIN_SPAN:
                lo, hi = (lo + hi) / 2 - _MIN_SPAN / 2, (lo + hi) / 2 + _MIN_SPAN / 2
            for j, (phrase, count) in enumerate(top):
                bins, bin_of = histogram_bins(sims[:, j], lo, hi, self.n_bins)
                for b in bins:
                    b["sample_count"] = b["count"]
                    b["count"] = b["count"] if population == n else round(b["count"] * population / n)
                keywords.append({"keyword": phrase, "count": int(count), "bins": bins, "bin_of": bin_of.tolist()})
        log.info("keywords: %d of %d scored, %d used%s, %d keywords", n, population, len(used),
                 " (sampled)" if sampled else "", len(keywords))
        return KeywordResult(keywords=keywords, sampled=bool(sampled), n_used=int(len(used)),
                             n_selected=int(population), n_scored=n, similarities=sims)
