"""Lasso keyword view: KeyBERT's per-prompt scoring against dkmap.keywords' all-at-once scoring.

One run, same prompts, same stored MiniLM embeddings, phrase embeddings cached for both:
  - keyphrase step: `KeyBERT.extract_keywords` (the baseline, what lassos ran before) vs
    `KeywordExtractor.keyphrases` on the server's sample (KEYWORD_MAX_DOCS prompts), same output checked;
  - the whole keyword view as the server builds it for lassos of several sizes: the selection's
    sample (`selection.sample_rows`, at most SELECTION_SAMPLE items), `ops.keywords.keyword_view` on it,
    JSON encoding.
Writes the block "### keyword extraction" into the BENCHMARKS.md section of the load test.

    .venv/bin/python scripts/bench_keywords.py --data /tmp/api6/big --dataset big1m
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import write_block  # noqa: E402


def best_of(repeats: int, run) -> tuple[float, object]:
    """Smallest wall time of `repeats` calls (the machine is shared) and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--sizes", default="1000,10000,100000,250000", help="lasso sizes (items) to time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from keybert import KeyBERT
    from sklearn.feature_extraction.text import CountVectorizer

    from dkmap.server import encode
    from dkmap.server.ops.keywords import keyword_view
    from dkmap.server.registry import Registry
    from dkmap.server.selection import sample_rows

    reg = Registry(args.data)
    ds = reg.dataset(args.dataset)
    prompts = reg.prompts(args.dataset)
    extractor = reg.keyword_extractor()
    random_levels = reg.map(args.dataset, reg.built_metrics(args.dataset)[0]).sampling_levels("random")
    n_items = len(prompts)
    rng = np.random.default_rng(args.seed)

    # Keyphrase step on one server-sized sample.
    sample = np.sort(rng.choice(n_items, size=min(reg.keyword_max_docs, n_items), replace=False))
    docs = [str(p) for p in prompts[sample]]
    doc_emb = np.asarray(ds.embedding("minilm")[sample], dtype=np.float32)
    doc_emb /= np.linalg.norm(doc_emb, axis=1, keepdims=True)
    vectorizer = lambda: CountVectorizer(ngram_range=(1, 2), stop_words=extractor.stop_words)  # noqa: E731
    vocab = vectorizer().fit(docs).get_feature_names_out()
    word_emb = extractor.phrase_embeddings(vocab)  # cache warm for both
    keybert = KeyBERT(model=extractor.model)
    t_keybert, want = best_of(args.repeats, lambda: keybert.extract_keywords(
        docs, vectorizer=vectorizer(), top_n=extractor.keyphrases_per_prompt, doc_embeddings=doc_emb,
        word_embeddings=word_emb))
    t_ours, got = best_of(args.repeats, lambda: extractor.keyphrases(docs, doc_emb))
    same = [[p for p, _ in d] for d in got] == [[p for p, _ in d] for d in want]

    lines = [
        f"{n_items:,}-item dataset `{args.dataset}`; {os.cpu_count()} CPU cores; best of {args.repeats}; "
        f"load average at start {os.getloadavg()[0]:.1f}.", "",
        f"Command: `python scripts/bench_keywords.py {shlex.join(sys.argv[1:])}`", "",
        f"Keyphrase step, {len(docs)} sampled prompts ({len(vocab)} candidate phrases, embeddings cached):",
        "", "| scoring | ms | ms per prompt |", "|---|---:|---:|",
        f"| KeyBERT `extract_keywords` (baseline) | {t_keybert * 1000:.1f} | {t_keybert * 1000 / len(docs):.2f} |",
        f"| all pairs at once (`KeywordExtractor.keyphrases`) | {t_ours * 1000:.1f} | "
        f"{t_ours * 1000 / len(docs):.3f} |",
        "", f"Same keyphrases as KeyBERT for every prompt: {'yes' if same else 'NO'}; "
        f"speed-up {t_keybert / t_ours:.0f}×.", "",
        "Whole keyword view of a lasso of consecutive rows (the selection's sample of at most "
        f"{reg.selection_sample:,} items, then `dkmap.server.ops.keywords.keyword_view`: keyphrases, similarities of every "
        "sampled item, histograms), and its JSON encoding:", "",
        "| selected items | sampled items | keyword view ms | JSON ms | JSON MB |", "|---:|---:|---:|---:|---:|",
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        size = min(size, n_items)
        start = int(rng.integers(0, n_items - size + 1))
        rows = np.arange(start, start + size)
        def view_of_lasso():
            sample = sample_rows(random_levels, rows, reg.selection_sample)
            return sample, keyword_view(reg, args.dataset, sample, population=len(rows))

        t_view, (sample, view) = best_of(args.repeats, view_of_lasso)
        t_json, text = best_of(args.repeats, lambda: encode.obj(view))
        lines.append(f"| {size:,} | {len(sample):,} | {t_view * 1000:.0f} | {t_json * 1000:.0f} | "
                     f"{len(text) / 1e6:.1f} |")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_block("keyword extraction", body)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
