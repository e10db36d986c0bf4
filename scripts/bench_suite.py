"""The evaluation suite at the defaults beside the old defaults; writes "## Accuracy at the defaults
(issue 15)" of BENCHMARKS.md.

    .venv/bin/python scripts/bench_suite.py                       # dev and heldout, both variants
    .venv/bin/python scripts/bench_suite.py --suites heldout --only held-clip-10k
Rows are kept in data/cache/bench_suite.json (keyed by suite, set and variant), so suites can be
run separately; the section is re-rendered from all kept rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from benchmarks_md import write_section, write_subsection  # noqa: E402

SECTION = "## Accuracy at the defaults (issue 15)"
TIMING_SIZES = (5_000, 10_000, 20_000)
CACHE = ROOT / "data" / "cache" / "bench_suite.json"
SUITE_CACHE = ROOT / "data" / "cache" / "suite"
# The step budget before 2026-12-03 (30 passes, 600 to 1,500 steps) was 600 for every suite set
# (at most 8,000 train items), so a fixed 600 steps reproduces it on these rows (λ = 2 then).
PREVIOUS_BUDGET = {"steps": 600, "lam": 2.0}
# The defaults before λ was chosen by the selection items (2026-12-04): λ = 2, one fit.
FIXED_LAM = {"lam": 2.0}
# The defaults of 2026-12-04 to 2026-12-06: λ of 2 and 4, the relative trust bar alone.
TWO_LAMS = {"lam_choices": (2.0, 4.0), "trust_target": None}
TIMING_HEADING = "### Fit time (train items × 256, CPU, default threads)"


def load_rows() -> dict[str, dict]:
    return json.loads(CACHE.read_text()) if CACHE.is_file() else {}


def save_rows(rows: dict[str, dict]) -> None:
    """Merge rows into the kept ones (runs for other sets may be writing beside this one)."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    merged = {**load_rows(), **rows}
    rows.update(merged)
    tmp = CACHE.with_name(f"{CACHE.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged, indent=1))
    tmp.replace(CACHE)


def render(rows: dict[str, dict], command: str) -> str:
    from dkmap.evaluation.suite import SUITES, format_suite, medians

    out = [f"Command: `{command}` (2-core CPU, no GPU, `OMP_NUM_THREADS=1`; the machine was shared "
           "with other work, so fit seconds are comparable within this table only; the fit-time "
           "table below is the one for speed). Ratio: out-of-sample MAE over the "
           "best of the six classic baselines (PCA/t-SNE/UMAP × KDE/IDW) on that set; trust ratio: "
           "trustworthiness@20 of the test items over t-SNE's. References: an autoencoder map with "
           "its better contour, and an MLP regressor on the full features (no map).", ""]
    for suite in ("dev", "heldout"):
        order = {name: i for i, name in enumerate(SUITES[suite])}
        mine = sorted((r for r in rows.values() if r.get("suite") == suite),
                      key=lambda r: (order.get(r["set"], len(order)), r["variant"]))
        if not mine:
            continue
        out += [f"### {suite} group", "", "```", format_suite(mine), "```", ""]
        med = medians(mine)
        if "defaults" in med and "old defaults" in med:
            out.append(f"{suite}: median ratio {med['defaults']['ratio']:.3f} at the defaults against "
                       f"{med['old defaults']['ratio']:.3f} at the old defaults.")
            out.append("")
    return "\n".join(out + render_timing(rows))


def timing(rows: dict[str, dict], sizes=TIMING_SIZES) -> None:
    """Fit seconds of 20k-ish × 256 cross-modal items (80 % train) at the defaults, λ of 2 and 4 with
    the relative bar (the defaults before 2026-12-06), λ = 2 fixed (before 2026-12-04) and the old
    defaults, one after the other in this process, for N in sizes."""
    import time

    from dkmap.evaluation.crossmodal import CrossModalSpec, cross_modal
    from dkmap.evaluation.suite import OLD_DEFAULTS
    from dkmap.projection import DKMap

    for n in sizes:
        x, m, is_test = cross_modal(CrossModalSpec(n=int(n / 0.8), half=128, seed=41))
        for variant, options in (("defaults", {}), ("λ of 2, 4, relative bar", TWO_LAMS),
                                 ("λ = 2 fixed", FIXED_LAM), ("old defaults", OLD_DEFAULTS)):
            started = time.perf_counter()
            fitted = DKMap(**options).fit(x[~is_test], m[~is_test], progress=False)
            rows[f"timing/{n}/{variant}"] = {"n_train": int((~is_test).sum()), "d": int(x.shape[1]),
                                             "variant": variant, "fit_s": time.perf_counter() - started,
                                             "steps": fitted.training["steps"]}
            save_rows(rows)


def render_timing(rows: dict[str, dict]) -> list[str]:
    mine = [r for k, r in rows.items() if k.startswith("timing/")]
    if not mine:
        return []
    out = [TIMING_HEADING, "",
           "`.venv/bin/python scripts/bench_suite.py --timing` (the variants in one process, one after "
           "the other).", "", "| train items | variant | steps | fit s | s per 1k items |", "|---:|---|---:|---:|---:|"]
    for r in sorted(mine, key=lambda r: (r["n_train"], r["variant"])):
        out.append(f"| {r['n_train']:,} | {r['variant']} | {r['steps']} | {r['fit_s']:.0f} | "
                   f"{1000 * r['fit_s'] / r['n_train']:.1f} |")
    return out + [""]


def main() -> None:
    from dkmap.evaluation.suite import OLD_DEFAULTS, run_suite

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", nargs="+", default=["dev", "heldout"])
    ap.add_argument("--only", nargs="*", help="only these sets")
    ap.add_argument("--no-old", action="store_true", help="skip the old defaults")
    ap.add_argument("--timing", action="store_true", help="only the fit-time part")
    ap.add_argument("--sizes", nargs="*", type=int, default=list(TIMING_SIZES),
                    help="with --timing: train-item counts to time")
    ap.add_argument("--previous", action="store_true",
                    help="also the previous defaults' 600-step budget (what auto_steps gave every suite set)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.chdir(ROOT)
    rows = load_rows()
    variants = {"defaults": {}} if args.no_old else {"defaults": {}, "old defaults": OLD_DEFAULTS}
    if args.previous:
        variants["600-step budget"] = PREVIOUS_BUDGET
    if args.timing:
        # Only the fit-time part is rewritten: the suite's rows may be from another machine's cache.
        timing(rows, args.sizes)
        table = render_timing(rows)
        write_subsection(SECTION, TIMING_HEADING, "\n".join(table[1:]))
        print("\n".join(table))
        return

    def keep(row: dict) -> None:
        rows[f"{row['suite']}/{row['set']}/{row['variant']}"] = row
        save_rows(rows)

    for suite in args.suites:
        run_suite(suite, variants, cache_dir=SUITE_CACHE, only=args.only, on_row=keep)
    rows.update(load_rows())
    write_section(SECTION, render(rows, ".venv/bin/python scripts/bench_suite.py"))
    print(render(rows, ".venv/bin/python scripts/bench_suite.py"))


if __name__ == "__main__":
    main()
