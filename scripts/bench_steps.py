"""The step budget at the defaults (1,200 steps and up) against the previous 600-step budget, DKMap
rows only, on suite sets: test MAE and trustworthiness@20 as scripts/bench_suite.py computes them.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_steps.py --suite heldout
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_steps.py --suite dev --only dev-clip-6k

The baselines (t-SNE, UMAP; >25 min per set on this 2-core machine under load) are not rerun: ratios
use each set's best-baseline MAE and t-SNE's trustworthiness from the 2026-12-02 run of
scripts/bench_suite.py (BENCHMARKS.md "Accuracy at the defaults (issue 15)"), whose seeded 600-step
rows this script reproduces exactly. Rows are appended to data/cache/bench_steps.jsonl and the table
of every kept row is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "data" / "cache" / "bench_steps.jsonl"
VARIANTS = {"defaults": {}, "600-step budget": {"steps": 600}}
# set → (best classic baseline's MAE, DKMap's 600-step trust ratio to t-SNE), from the 2026-12-02 run.
REFERENCE = {"dev-clip-6k": (8.803, .930), "dev-diffuse-hub-4k-d128": (13.72, .830),
             "dev-tight-5k-d512": (0.0692, .994), "dev-diff-5k-d384": (15.14, .967),
             "dev-quality-3k": (0.1014, .926), "held-clip-10k": (11.12, .910),
             "held-hub-8k": (11.72, .857), "held-wide-2.5k-d1024": (0.09354, .977),
             "held-diff-6k-d576": (14.52, .998), "held-quality-hub-5k": (11.43, .928)}


def run(suite: str, only: list[str] | None) -> None:
    from dkmap.evaluation.suite import fit_and_score, split_of, suite_specs

    ROWS.parent.mkdir(parents=True, exist_ok=True)
    for name, spec in suite_specs(suite).items():
        if only and name not in only:
            continue
        split = split_of(spec)
        for variant, options in VARIANTS.items():
            row = {"set": name, "variant": variant, **fit_and_score(split, options, seed=0)}
            print(json.dumps(row), flush=True)
            with ROWS.open("a") as out:
                out.write(json.dumps(row) + "\n")


def table() -> str:
    rows = {}
    for line in ROWS.read_text().splitlines() if ROWS.is_file() else []:
        r = json.loads(line)
        rows[(r["set"], r["variant"])] = r
    out = []
    for group in ("dev", "held"):
        ratios = {v: [] for v in VARIANTS}
        trusts = {v: [] for v in VARIANTS}
        lines = []
        for name, (best, trust_ratio_600) in REFERENCE.items():
            new, old = rows.get((name, "defaults")), rows.get((name, "600-step budget"))
            if not name.startswith(group) or new is None or old is None:
                continue
            tsne_trust = old["trust"] / trust_ratio_600
            for variant, r in (("defaults", new), ("600-step budget", old)):
                ratios[variant].append(r["mae"] / best)
                trusts[variant].append(r["trust"] / tsne_trust)
            lines.append(f"| {name} | {new['mae']:.4g} ({new['mae'] / best:.3f}) | {old['mae']:.4g} "
                         f"({old['mae'] / best:.3f}) | {new['trust'] / tsne_trust:.3f} | "
                         f"{old['trust'] / tsne_trust:.3f} | {new['best_step']} / {old['best_step']} |")
        if not lines:
            continue
        out += ["| set | MAE at 1,200 steps (ratio) | MAE at 600 steps (ratio) | trust ratio 1,200 | "
                "trust ratio 600 | chosen step 1,200 / 600 |", "| --- | ---: | ---: | ---: | ---: | --- |",
                *lines, "", f"{group}: median ratio {statistics.median(ratios['defaults']):.3f} at 1,200 "
                f"steps against {statistics.median(ratios['600-step budget']):.3f} at 600; median trust "
                f"ratio {statistics.median(trusts['defaults']):.3f} against "
                f"{statistics.median(trusts['600-step budget']):.3f} ({len(lines)} sets).", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["dev", "heldout"])
    ap.add_argument("--only", nargs="*", help="only these sets")
    args = ap.parse_args()
    if args.suite:
        run(args.suite, args.only)
    print(table())


if __name__ == "__main__":
    main()
