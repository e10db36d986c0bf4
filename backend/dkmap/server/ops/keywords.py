"""Keywords of a lasso selection with a similarity histogram per keyword (METHOD.md §7)."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def keyword_extractor(reg):
    """The keyword extractor with the local MiniLM model, loaded once per process."""
    from dkmap.keywords import KeywordExtractor

    return reg.once(("keywords",), KeywordExtractor)


def phrase_frequencies(reg, dataset: str):
    """How many of the dataset's prompts contain each phrase (dkmap.keywords.PhraseFrequencies),
    counted once per dataset version."""
    extractor = keyword_extractor(reg)
    return reg.once(("phrase-frequencies", dataset), lambda: extractor.dataset_frequencies(reg.prompts(dataset)))


def keyword_view(reg, dataset: str, rows: np.ndarray, population: int, rank: str = "lift") -> dict:
    """Keywords of `rows` (a uniform sample of a selection of `population` items when fewer), ranked
    by `rank` ("lift" or "frequency", dkmap.keywords), with both counts, a similarity histogram per
    keyword and the bar of every row."""
    from dkmap.data.gather import gather_rows

    extractor = keyword_extractor(reg)
    prompts = reg.prompts(dataset)[rows]
    emb = gather_rows(minilm_store(reg, dataset), rows)
    return extractor.extract(list(prompts), emb, max_docs=reg.keyword_max_docs, population=population,
                             rank=rank, background=phrase_frequencies(reg, dataset)).to_dict()


def minilm_store(reg, dataset: str):
    """The dataset's stored MiniLM prompt embeddings, advised for scattered reads (lassos read
    scattered rows of a store that may exceed memory, see dkmap.data.gather)."""
    ds = reg.dataset(dataset)
    return reg.once(("minilm", dataset), lambda: _prepared(ds.embedding("minilm")))


def bars_of(extractor, store, keywords: list[dict], rows: np.ndarray) -> np.ndarray:
    """The bar (bin index) of each of `rows` for each keyword of a `keyword_view` (rows × keywords):
    the bin its similarity falls in, clipped to the keyword's histogram as `bin_of` is, so the items
    the view scored get exactly their `bin_of` entries and every other item of the selection a bar
    of the same histogram."""
    from dkmap.data.gather import gather_rows
    from dkmap.keywords import histogram_bins

    if not keywords or len(rows) == 0:
        return np.zeros((len(rows), len(keywords)), dtype=np.int64)
    sims = extractor.similarities(gather_rows(store, rows), extractor.phrase_embeddings([k["keyword"] for k in keywords]))
    lo, hi, n_bins = keywords[0]["bins"][0]["lo"], keywords[0]["bins"][-1]["hi"], len(keywords[0]["bins"])
    return np.stack([histogram_bins(sims[:, j], lo, hi, n_bins)[1] for j in range(len(keywords))], axis=1)


def _prepared(store):
    from dkmap.data.gather import prepare_for_scattered_reads

    log.info("MiniLM store advised for lasso reads: %s", prepare_for_scattered_reads(store))
    return store
