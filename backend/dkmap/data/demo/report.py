"""What the demo shows: held-out retrieval, how well CLIPScore flags failed renders, where each model fails.

The only reader of the ground truth besides the tests.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from dkmap.data.demo.build import STAMP, TRUTH
from dkmap.data.demo.generators import MODES, scene_from_fields
from dkmap.data.demo.grammar import concepts
from dkmap.data.store import DatasetError, open_dataset

log = logging.getLogger(__name__)

RECALL_TARGET = 0.5
AUC_TARGET = 0.85
N_CANDIDATES = 100
MIN_CONCEPT_ITEMS = 20  # concepts rarer than this are too noisy to rank


def recall_at_1(text: np.ndarray, image: np.ndarray, n_candidates: int = N_CANDIDATES, seed: int = 0) -> float:
    """Text→image recall@1: each text ranks its own image among `n_candidates` (random disjoint groups)."""
    n = len(text)
    if n < 2 or len(image) != n:
        raise ValueError(f"text and image need the same number (≥ 2) of rows, got {len(text)} and {len(image)}")
    size = min(n_candidates, n)
    order = np.random.default_rng(seed).permutation(n)
    hits = []
    for start in range(0, n - size + 1, size):
        group = order[start:start + size]
        sim = np.asarray(text[group], dtype=np.float32) @ np.asarray(image[group], dtype=np.float32).T
        hits.append(sim.argmax(axis=1) == np.arange(size))
    return float(np.concatenate(hits).mean())


def _truth_table(root: Path, ds) -> pd.DataFrame:
    path = root / TRUTH
    if not path.is_file():
        raise DatasetError(f"{path}: missing (the demo report needs the ground truth of a demo build)")
    truth = pd.read_parquet(path)
    truth["row"] = [ds.row_of(i) for i in truth["id"]]
    return truth


def _concept_table(truth: pd.DataFrame) -> dict[str, np.ndarray]:
    prompt_cols = [c for c in truth.columns if c.startswith("prompt.")]
    first = truth.drop_duplicates("row").sort_values("row")
    members: dict[str, list[int]] = {}
    for row, fields in zip(first["row"], first[prompt_cols].to_dict("records")):
        scene = scene_from_fields({k[len("prompt."):]: v for k, v in fields.items()})
        for concept in concepts(scene):
            members.setdefault(concept, []).append(int(row))
    return {c: np.asarray(rows) for c, rows in members.items()}


def demo_report(dataset_dir: str | os.PathLike) -> dict:
    """Figures of a demo build (see module docstring); every item is unseen by the encoder."""
    ds = open_dataset(dataset_dir)
    truth = _truth_table(ds.root, ds)
    text = np.asarray(ds.embedding("text"), dtype=np.float32)
    concept_rows = _concept_table(truth)
    out: dict = {"dataset": ds.name, "n_items": ds.n, "generators": {}}
    all_scores, all_ok = [], []
    for g in ds.generators:
        t = truth[truth["generator"] == g].sort_values("row")
        rows = t["row"].to_numpy()
        failed = t["failed"].to_numpy(dtype=bool)
        score = ds.metric(f"clipscore_{g}")[rows]
        image = np.asarray(ds.embedding(f"image_{g}"), dtype=np.float32)
        faithful_rows = rows[~failed]
        by_mode = {}
        for mode in MODES:
            hit = t["failures"].str.contains(mode, regex=False).to_numpy()
            if hit.any() and (~failed).any():
                labels = np.r_[np.ones((~failed).sum()), np.zeros(hit.sum())]
                by_mode[mode] = {"n": int(hit.sum()),
                                 "auc": float(roc_auc_score(labels, np.r_[score[~failed], score[hit]]))}
        full_score = ds.metric(f"clipscore_{g}")
        fail_by_row = np.zeros(ds.n, dtype=bool)
        fail_by_row[rows] = failed
        drops = []
        for concept, members in concept_rows.items():
            ok_members = members[~fail_by_row[members]]
            if len(members) >= MIN_CONCEPT_ITEMS and len(ok_members) >= MIN_CONCEPT_ITEMS // 2:
                # Against this generator's faithful renders of the same concept, so that concepts the
                # encoder merely scores low (e.g. grey objects) do not pass for failures.
                drops.append({"concept": concept, "n": int(len(members)),
                              "drop": float(full_score[ok_members].mean() - full_score[members].mean()),
                              "failure_rate": float(fail_by_row[members].mean())})
        drops.sort(key=lambda d: -d["drop"])
        out["generators"][g] = {
            "n_faithful": int((~failed).sum()), "n_failed": int(failed.sum()),
            "recall_at_1": recall_at_1(text[faithful_rows], image[faithful_rows]),
            "auc": float(roc_auc_score(~failed, score)) if 0 < failed.sum() < len(failed) else float("nan"),
            "auc_by_failure": by_mode,
            "mean_score_faithful": float(score[~failed].mean()),
            "mean_score_failed": float(score[failed].mean()) if failed.any() else float("nan"),
            "worst_concepts": drops[:5],
        }
        all_scores.append(score)
        all_ok.append(~failed)
    ok = np.concatenate(all_ok)
    out["recall_at_1"] = float(np.mean([v["recall_at_1"] for v in out["generators"].values()]))
    out["auc"] = float(roc_auc_score(ok, np.concatenate(all_scores)))
    out["targets"] = {"recall_at_1": RECALL_TARGET, "auc": AUC_TARGET,
                      "recall_met": out["recall_at_1"] >= RECALL_TARGET, "auc_met": out["auc"] >= AUC_TARGET}
    stamp = ds.root / STAMP
    out["build"] = json.loads(stamp.read_text()) if stamp.is_file() else {}
    return out


def format_report(report: dict) -> str:
    """The report as text for the terminal."""
    lines = [f"Demo dataset '{report['dataset']}': {report['n_items']} prompts, none seen by the encoder",
             f"  text→image recall@1 among {N_CANDIDATES} (faithful renders): {report['recall_at_1']:.3f} "
             f"(target ≥ {RECALL_TARGET}: {'met' if report['targets']['recall_met'] else 'NOT met'})",
             f"  ROC AUC of CLIPScore, faithful vs failed renders: {report['auc']:.3f} "
             f"(target ≥ {AUC_TARGET}: {'met' if report['targets']['auc_met'] else 'NOT met'})"]
    for g, info in report["generators"].items():
        lines.append(f"  model {g.upper()}: {info['n_failed']} failed / {info['n_faithful']} faithful renders; "
                     f"recall@1 {info['recall_at_1']:.3f}, AUC {info['auc']:.3f}; mean score faithful "
                     f"{info['mean_score_faithful']:.2f}, failed {info['mean_score_failed']:.2f}")
        for mode, m in info["auc_by_failure"].items():
            lines.append(f"      AUC faithful vs {mode:<12} {m['auc']:.3f}  (n={m['n']})")
        lines.append("    five worst concepts (mean score drop below the concept's faithful renders, true failure rate):")
        for d in info["worst_concepts"]:
            lines.append(f"      {d['concept']:<24} drop {d['drop']:6.2f}  failures {100 * d['failure_rate']:5.1f}%  "
                         f"(n={d['n']})")
    build = report.get("build") or {}
    if build:
        t, mem = build.get("timings", {}), build.get("peak_memory", {})
        stages = ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in t.items() if k not in ("total_s", "cpu_total_s"))
        lines.append(f"  build: {t.get('total_s', float('nan')):.1f} s wall, {t.get('cpu_total_s', float('nan')):.1f} s CPU "
                     f"({stages}); peak memory "
                     f"{mem.get('process_mb', float('nan')):.0f} MB (render workers ≤ {mem.get('largest_child_mb', 0):.0f} MB)")
    return "\n".join(lines)
