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

    ds = reg.dataset(dataset)
    extractor = keyword_extractor(reg)
    prompts = reg.prompts(dataset)[rows]
    # Lassos read scattered rows of a store that may exceed memory (see dkmap.data.gather).
    store = reg.once(("minilm", dataset), lambda: _prepared(ds.embedding("minilm")))
    emb = gather_rows(store, rows)
    return extractor.extract(list(prompts), emb, max_docs=reg.keyword_max_docs, population=population,
                             rank=rank, background=phrase_frequencies(reg, dataset)).to_dict()


def _prepared(store):
    from dkmap.data.gather import prepare_for_scattered_reads

    log.info("MiniLM store advised for lasso reads: %s", prepare_for_scattered_reads(store))
    return store
