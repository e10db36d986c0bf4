"""Search and similar-image latency (issue 18): p50/p99 of text search, semantic search and /similar
on a real server at 1 and 16 clients, and at 1M items the text index and the similar-images IVF
index (its build-chosen nprobe: recall@10 on fresh held-out queries and search latency, beside the
fixed nprobe 32 of before).

    .venv/bin/python scripts/bench_search.py --data DIR --dataset demo-small --metric clipscore_a
    .venv/bin/python scripts/bench_search.py --million 1000000          # the in-process 1M part only
    .venv/bin/python scripts/bench_search.py --semantic 1000000         # semantic search at 1M
    .venv/bin/python scripts/bench_search.py --data /tmp/rich --dataset rich_20000000 --metric clipscore \
        --index-first                          # 20M: `dkmap index` builds (or finds) the indexes first
    (the options together write all their blocks)

Writes the blocks "### <dataset> (server)", "### <n> synthetic items (in process)" and "### <n>
MiniLM-like prompt vectors, semantic search (in process)" of the
BENCHMARKS.md section "## Search and similar images (issue 18)". Server requests go through
`scripts/load_test.py`'s server start (waitress, 8 threads), over a hard-linked copy of the data
folder so the text index built on first use is written beside the copy, never into DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import write_subsection  # noqa: E402
from load_test import start_server  # noqa: E402

SECTION = "## Search and similar images (issue 18)"
OLD_NPROBE = 32   # what an IVF index searched before the build chose its breadth


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"{np.percentile(a, 50):.1f} / {np.percentile(a, 99):.1f}"


def timed_calls(calls: list, clients: int) -> list[float]:
    """Run `calls` (zero-argument functions) on `clients` threads; each call's latency in ms."""
    out: list[float] = []
    lock = threading.Lock()
    todo = iter(calls)

    def worker():
        while True:
            with lock:
                fn = next(todo, None)
            if fn is None:
                return
            started = time.perf_counter()
            fn()
            took = 1000 * (time.perf_counter() - started)
            with lock:
                out.append(took)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def get_ok(url: str):
    def call():
        res = requests.get(url, timeout=120)
        if not res.ok:
            raise SystemExit(f"{url}: {res.status_code} {res.text[:200]}")
    return call


def index_first(root: Path) -> str:
    """`dkmap index` on the dataset itself (its indexes are kept for the next run), timed, and what it
    printed; a current index is found, not rebuilt."""
    import subprocess

    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "dkmap.cli", "-q", "index", str(root)], capture_output=True,
                         text=True)
    if run.returncode:
        raise SystemExit(f"dkmap index failed: {run.stderr[-2000:]}")
    lines = "; ".join(line.strip() for line in run.stdout.splitlines() if line.strip())
    size = sum(f.stat().st_size for f in (root / "search").iterdir() if f.is_file())
    return (f"`dkmap index` before serving ({time.perf_counter() - started:.0f} s in all: {lines}; "
            f"DATASET/search/ {size / 2**20:,.0f} MiB)")


def server_block(data: Path, dataset: str, metric: str, n: int, seed: int, prebuilt: bool = False) -> str:
    from dkmap.data.demo.grammar import describe, sample_scene

    rng = np.random.default_rng(seed)
    built = index_first(data / dataset) if prebuilt else None
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(data, copy, copy_function=os.link)
        root = copy / dataset
        if not prebuilt:
            shutil.rmtree(root / "search", ignore_errors=True)     # the first text query builds it
        proc, url = start_server(copy, threads=8)
        try:
            base = f"{url}/api/datasets/{dataset}"
            listed = requests.get(f"{url}/api/datasets", timeout=600).json()["datasets"]
            n_items = next(d["n_items"] for d in listed if d["name"] == dataset)
            pts = requests.get(f"{url}/api/maps/{dataset}/{metric}/points",
                               params={"z": 0, "bbox": "0,0,1,1", "sampling": "random", "limit": 20000},
                               timeout=600).json()["points"]
            ids = pts["id"]
            prompts = [requests.get(f"{base}/items/{quote(i, safe='')}", timeout=60).json()["prompt"]
                       for i in rng.choice(ids, 60, replace=False)]
            words = sorted({w for p in prompts for w in re.findall(r"[a-z]{3,}", p.lower())})
            texts = []
            for _ in range(n):
                picked = list(rng.choice(words, int(rng.integers(1, 3)), replace=False))
                if rng.random() < 0.3:
                    picked[-1] = picked[-1][:3]                     # a prefix, as typed
                texts.append(" ".join(picked))
            meanings = [describe(sample_scene(rng), rng) for _ in range(n)]

            def first(path):
                started = time.perf_counter()
                get_ok(f"{base}/{path}")()
                return time.perf_counter() - started

            cold_text = first("search?q=red&mode=text")
            cold_semantic = first("search?q=a%20red%20circle&mode=semantic")
            cold_similar = first(f"items/{quote(ids[0], safe='')}/similar?k=8")
            kinds = {
                "text search (limit 20)": [get_ok(f"{base}/search?q={quote(q)}&mode=text&limit=20") for q in texts],
                "semantic search (limit 20, min_score 0.5)":
                    [get_ok(f"{base}/search?q={quote(q)}&mode=semantic&limit=20&min_score=0.5") for q in meanings],
                "similar images (k 8)":
                    [get_ok(f"{base}/items/{quote(i, safe='')}/similar?k=8") for i in rng.choice(ids, n)],
            }
            rows = []
            for kind, calls in kinds.items():
                one = timed_calls(calls, 1)
                many = timed_calls(calls, 16)
                rows.append(f"| {kind} | {len(calls)} | {percentiles(one)} | {percentiles(many)} |")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    manifest = data / dataset / "maps" / metric / "manifest.json"
    indexes = json.loads(manifest.read_text())["indexes"]
    kinds_text = ", ".join(f"{s}: {e['kind']}" + (f", nprobe {e['nprobe']}" if e.get("nprobe") else "")
                           + f", recall@10 {e['recall_at_10']:.3f}" for s, e in indexes.items())
    firsts = (f"{built}. First text query (opens the stored FTS5 index) {cold_text:.2f} s; first semantic "
              f"query (loads MiniLM and the stored Faiss index) {cold_semantic:.2f} s" if prebuilt else
              f"First text query (builds the FTS5 index) {cold_text:.2f} s; first semantic query (loads MiniLM, "
              f"builds the Faiss index) {cold_semantic:.2f} s")
    return "\n".join([
        f"### {dataset} (server, {n_items:,} items)",
        f"{n} requests per kind, the same list at 1 and at 16 concurrent clients (waitress, 8 threads); "
        f"text queries of 1–2 words of the dataset's own prompts (30 % ending in a 3-letter prefix), "
        f"semantic queries new prompts from the demo grammar. {firsts}; first similar-images query (loads "
        f"the map's image index) {cold_similar:.2f} s. Image indexes: {kinds_text}.",
        "",
        "| request | n | 1 client p50 / p99 ms | 16 clients p50 / p99 ms |",
        "| --- | --- | --- | --- |",
        *rows,
    ])


def million_block(n: int, seed: int, dim: int) -> str:
    import faiss

    from dkmap import similarity
    from dkmap.data.demo.grammar import describe, sample_scene
    from dkmap.distributed.synthetic import GENERATOR, Landscape
    from dkmap.search import text

    rng = np.random.default_rng(seed)
    lines = [f"### {n:,} synthetic items (in process)"]
    # -- the text index over n grammar prompts
    started = time.perf_counter()
    prompts = [describe(sample_scene(rng), rng) for _ in range(n)]
    made = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="bench-fts-") as tmp:
        path = Path(tmp) / "text.sqlite"
        started = time.perf_counter()
        text.build_index(path, prompts, "bench")
        built = time.perf_counter() - started
        size = path.stat().st_size
        index = text.TextIndex(path, "bench", n)
        words = sorted({w for p in prompts[:2000] for w in re.findall(r"[a-z]{3,}", p.lower())})
        queries = [" ".join(rng.choice(words, int(rng.integers(1, 3)), replace=False)) for _ in range(300)]
        calls = [lambda q=q: index.search(q, limit=20) for q in queries]
        counts = [index.search(q, limit=1).count for q in queries[:50]]
        one, many = timed_calls(calls, 1), timed_calls(calls, 16)
    lines += [
        f"Text (SQLite FTS5, `dkmap.search.text`): {n:,} prompts from the demo grammar ({made:.0f} s to make); "
        f"index built in {built:.1f} s, {size / 2**20:.0f} MB ({size / 2**20 / (n / 1e6):.0f} MB per 1M prompts). "
        f"300 queries of 1–2 grammar words (median {int(np.median(counts)):,} matches, count + first page of 20): "
        f"p50 / p99 {percentiles(one)} ms at 1 client, {percentiles(many)} ms at 16 threads.",
        "",
    ]
    del prompts, index
    # -- the similar-images index over the synthetic build's image embeddings
    land = Landscape(dim, seed=seed)
    emb = np.concatenate([land.shard(i, min(100_000, n - s), s)[1][f"image_{GENERATOR}"]
                          for i, s in enumerate(range(0, n, 100_000))])
    started = time.perf_counter()
    ivf_index = similarity.build_index(emb, exact_max=200_000, seed=seed)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    nprobe, recall = similarity.choose_nprobe(ivf_index, emb, 0.95, k=10, seed=seed + 1)
    choose_s = time.perf_counter() - started
    nlist = faiss.extract_index_ivf(ivf_index).nlist
    exact = faiss.IndexFlatIP(emb.shape[1])
    exact.add(emb)
    # fresh held-out queries (another seed than the ones nprobe was chosen on), each not its own neighbour
    qi = similarity.recall_queries(n, 1000, seed + 99)
    truth = similarity.without_self(exact.search(emb[qi], 11)[1], qi, 10)
    faiss.omp_set_num_threads(1)
    exact_ms = timed_calls([lambda q=q: exact.search(emb[q:q + 1], 9) for q in qi[:100]], 1)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    rows = []
    for probe in (OLD_NPROBE, nprobe):
        similarity.set_nprobe(ivf_index, probe)
        _, got = ivf_index.search(emb[qi], 11)
        r = similarity.recall(truth, similarity.without_self(got, qi, 10))
        calls = [lambda q=q: ivf_index.search(emb[q:q + 1], 9) for q in qi[:300]]
        faiss.omp_set_num_threads(1)
        one = timed_calls(calls, 1)
        many = timed_calls(calls, 16)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        label = "chosen by the build" if probe == nprobe else "fixed (before)"
        rows.append(f"| {probe} ({label}) | {r:.3f} | {percentiles(one)} | {percentiles(many)} |")
    lines += [
        f"Similar images (`dkmap.similarity`, as the index stage builds it): IndexIVFFlat over {n:,} "
        f"image embeddings of the synthetic build (d = {dim}), {nlist} lists, trained in {build_s:.0f} s "
        f"(with adding); `choose_nprobe` (500 held-out queries, target recall@10 0.95) took {choose_s:.1f} s "
        f"and chose nprobe {nprobe} (recall {recall:.3f} on its own queries). Below, recall@10 on 1,000 "
        f"other held-out queries and one-query search latency (k 9; the 1-client column with one Faiss thread, the 16 threads with Faiss's default OpenMP threads each, on 2 cores shared with other jobs); "
        f"exact search (IndexFlatIP) of one query: p50 {np.percentile(exact_ms, 50):.1f} ms.",
        "",
        "| nprobe | recall@10 (fresh queries) | 1 client p50 / p99 ms | 16 threads p50 / p99 ms |",
        "| --- | --- | --- | --- |",
        *rows,
    ]
    return "\n".join(lines)


def semantic_block(n: int, seed: int, distinct: int) -> str:
    """Semantic search over n prompt vectors as the server searches them (dkmap.search.semantic).
    Encoding n prompts with MiniLM takes hours on this CPU, so `distinct` grammar prompts are
    encoded for real and the n rows are jittered copies of them (cosine ≈ 0.89 to their prompt):
    MiniLM's geometry, n rows. Queries are new grammar prompts, encoded with the same model."""
    import faiss

    from dkmap import similarity
    from dkmap.data.demo.grammar import describe, sample_scene
    from dkmap.data.encoders import embed_prompts_minilm
    from dkmap.search.semantic import build_semantic_index

    rng = np.random.default_rng(seed)
    prompts = list(dict.fromkeys(describe(sample_scene(rng), rng) for _ in range(3 * distinct)))[:distinct]
    started = time.perf_counter()
    base = embed_prompts_minilm(prompts)
    encode_s = time.perf_counter() - started
    d = base.shape[1]
    rows = base[rng.integers(0, len(base), n)] + 0.5 * rng.normal(size=(n, d)).astype(np.float32) / np.sqrt(d)
    emb = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    del rows
    started = time.perf_counter()
    index = build_semantic_index(emb, seed=seed)
    build_s = time.perf_counter() - started
    kind = type(index.index).__name__
    size = index.n * d * 4
    queries = [describe(sample_scene(rng), rng) for _ in range(300)]
    faiss.omp_set_num_threads(1)
    encode_ms = timed_calls([lambda q=q: embed_prompts_minilm([q]) for q in queries[:100]], 1)
    qv = embed_prompts_minilm(queries)
    exact = faiss.IndexFlatIP(d)
    exact.add(emb)
    truth = exact.search(qv, 10)[1]
    got = similarity.search(index.index, qv, 10)[1]
    fresh_recall = similarity.recall(truth, got)
    calls = [lambda v=v: index.search(v, min_score=0.5) for v in qv]
    counts = [len(index.search(v, min_score=0.5).rows) for v in qv[:50]]
    one = timed_calls(calls, 1)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    many = timed_calls(calls, 16)
    return "\n".join([
        f"### {n:,} MiniLM-like prompt vectors, semantic search (in process)",
        f"{len(base):,} distinct demo-grammar prompts encoded with the bundled MiniLM ({encode_s:.0f} s, "
        f"{len(base) / encode_s:.0f} prompts/s on this CPU: {1e6 / (len(base) / encode_s) / 3600:.1f} h per 1M "
        f"distinct prompts), then {n:,} rows as jittered copies of them (cosine ≈ 0.89 to their prompt; "
        f"encoding {n:,} real prompts here would take hours). Index (`build_semantic_index`, as the server "
        f"builds it): {kind}, nprobe {index.nprobe} chosen for recall@10 ≥ 0.95 (the lower "
        f"recall of held-out rows and of midpoints between rows, {index.recall:.3f}), built in {build_s:.0f} s, {size / 2**20:.0f} MB of vectors "
        f"({size / 2**20 / (n / 1e6):.0f} MB per 1M). 300 new grammar prompts as queries: recall@10 against "
        f"exact search {fresh_recall:.3f}; encoding one query p50 {np.percentile(encode_ms, 50):.1f} ms; search "
        f"(the server's: up to {10_000:,} nearest, min_score 0.5, median {int(np.median(counts)):,} kept) "
        f"p50 / p99 {percentiles(one)} ms at 1 client (one Faiss thread), {percentiles(many)} ms at 16 threads.",
    ])


def write_blocks(blocks: list[str], command: str) -> None:
    """Each block (its first line a '### ' heading) in place of the same heading's, with the command."""
    for block in blocks:
        heading, body = block.split("\n", 1)
        write_subsection(SECTION, heading, f"{body}\n\nCommand: `{command}` ({platform.node()}, {os.cpu_count()} "
                         f"cores, load {os.getloadavg()[0]:.1f} at the end)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="DATA_DIR holding --dataset with --metric built")
    ap.add_argument("--dataset")
    ap.add_argument("--metric")
    ap.add_argument("--requests", type=int, default=300, help="requests per kind (server part)")
    ap.add_argument("--million", type=int, default=0, help="items of the in-process part (0: skip it)")
    ap.add_argument("--semantic", type=int, default=0, help="rows of the in-process semantic part (0: skip it)")
    ap.add_argument("--distinct", type=int, default=20_000, help="distinct prompts encoded for --semantic")
    ap.add_argument("--dim", type=int, default=128, help="image embedding dimension of the in-process part")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-first", action="store_true",
                    help="server part: run `dkmap index` on the dataset first (timed) and serve its indexes")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = ap.parse_args()
    if args.data is None and not args.million and not args.semantic:
        ap.error("give --data/--dataset/--metric, --million N, --semantic N, or several")
    if args.data is not None and not (args.dataset and args.metric):
        ap.error("--data needs --dataset and --metric")
    blocks = []
    if args.data is not None:
        blocks.append(server_block(args.data, args.dataset, args.metric, args.requests, args.seed,
                                   args.index_first))
        print(blocks[-1], flush=True)
    if args.million:
        blocks.append(million_block(args.million, args.seed, args.dim))
        print(blocks[-1], flush=True)
    if args.semantic:
        blocks.append(semantic_block(args.semantic, args.seed, args.distinct))
        print(blocks[-1], flush=True)
    if not args.no_write:
        shown = ["DIR" if prev == "--data" else a for prev, a in zip([""] + sys.argv[1:], sys.argv[1:])]
        write_blocks(blocks, ".venv/bin/python scripts/bench_search.py " + shlex.join(shown))


if __name__ == "__main__":
    main()
