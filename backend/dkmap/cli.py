"""The one command-line entry point: dkmap ingest | demo | build | serve | evaluate | compare."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DEFAULT_DATA = Path("data/datasets")


class CliError(Exception):
    """An error to report as one line on stderr with a non-zero exit status."""


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cmd_ingest(args: argparse.Namespace) -> None:
    from dkmap.data.ingest import IngestOptions, ingest

    ds = ingest(IngestOptions(
        table=args.table[0] if len(args.table) == 1 else args.table, images=args.images, out=args.out, text_emb=args.text_emb, image_emb=args.image_emb,
        encoder=args.encoder, metrics=args.metric or ["clipscore"], skip_missing=args.skip_missing,
        name=args.name, description=args.description or "", progress=not args.quiet, wait_s=args.wait,
        drop_columns=_comma_list(args.drop_columns or ""),
    ))
    kept = ", ".join(f"{c.name} ({c.kind})" for c in ds.columns) or "none"
    print(f"ingested {ds.n} items into {ds.root} (generators: {', '.join(ds.generators)}; "
          f"metrics: {', '.join(ds.metrics)}; metadata columns: {kept})")


# Projection settings the command line can set: (flag, DKMap field, type, help).
PROJECTION_OPTIONS = (
    ("--steps", "steps", int, "optimiser steps (default: automatic, see docs/defaults.md)"),
    ("--epochs", "epochs", int, "passes over the mini-batches instead of a step budget"),
    ("--hidden", "hidden", int, "width of the projection MLP (default: min(D, 512))"),
    ("--lam", "lam", float, "weight λ of the kernel-regression term (default: 2, 4 or 8, chosen "
     "by the selection items; 2 without them)"),
    ("--batch-size", "batch_size", int, "mini-batch size (default 1000)"),
    ("--lr", "lr", float, "Adam learning rate (default 0.002)"),
    ("--select-fraction", "select_fraction", float,
     "train items held out to choose checkpoints and calibrate the kernel (default 0.1; 0: off)"),
)
TOP_LEVEL_PROJECTION = ("epochs", "batch_size", "hidden")


def _add_projection_options(p: argparse.ArgumentParser) -> None:
    for flag, dest, kind, text in PROJECTION_OPTIONS:
        p.add_argument(flag, dest=dest, type=kind, help=text)


def _projection_overrides(args: argparse.Namespace) -> dict:
    return {dest: getattr(args, dest) for _, dest, _, _ in PROJECTION_OPTIONS
            if getattr(args, dest, None) is not None}


def _build_settings(args: argparse.Namespace):
    from dkmap.config import BuildSettings

    given = _projection_overrides(args)
    top = {k: v for k, v in given.items() if k in TOP_LEVEL_PROJECTION}
    projection = {k: v for k, v in given.items() if k not in TOP_LEVEL_PROJECTION}
    if getattr(args, "seed", None) is not None:
        top["seed"] = args.seed
    return BuildSettings(**top, projection=projection)


def cmd_build(args: argparse.Namespace) -> None:
    from dkmap.builder import build_map

    options = {"scheduler": args.scheduler} if args.engine == "dask" else {}
    out = build_map(args.dataset, args.metric, settings=_build_settings(args), engine=args.engine,
                    progress=not args.quiet, force=args.force, wait_s=args.wait, **options)
    print(f"map ready: {out}")


def cmd_index(args: argparse.Namespace) -> None:
    """The text index and, when the dataset has `minilm` rows, the semantic index, stored in
    DATASET/search/ where the server reads them (each rebuilt only when its input changed)."""
    import time

    from dkmap.data.store import open_dataset
    from dkmap.search import semantic, text

    ds = open_dataset(args.dataset)
    started = time.perf_counter()
    index = text.open_index(ds.root, ds.meta, ds.items["prompt"])   # the table already read, not a second copy
    size = text.index_path(ds.root).stat().st_size
    print(f"text index: {index.n_items:,} prompts, {size / 2**20:.0f} MiB, {time.perf_counter() - started:.1f} s")
    if args.words_only:
        return
    if semantic.SPACE not in ds.spaces:
        print(f"no '{semantic.SPACE}' embeddings in {ds.root}: search by meaning is not available for it")
        return
    # The semantic index needs the embeddings alone: at 20M items the table's other columns are
    # ~7 GB of Python strings, as much again as the index's codes, so they are let go first.
    ds.items = ds.items[["id"]]
    started = time.perf_counter()
    found = semantic.open_semantic_index(ds)
    kind = type(found.index).__name__
    print(f"semantic index: {found.n:,} prompts, {kind}, nprobe {found.nprobe}, recall@10 {found.recall:.3f}, "
          f"{time.perf_counter() - started:.1f} s")


def cmd_demo(args: argparse.Namespace) -> None:
    from dkmap.data.demo.build import build_demo
    from dkmap.builder import build_map
    from dkmap.data.store import open_dataset

    root = build_demo(Path(args.data), size=args.size, seed=args.seed, progress=not args.quiet)
    ds = open_dataset(root)
    for metric in ds.metrics:
        build_map(root, metric, settings=_build_settings(args), progress=not args.quiet)
    print(f"demo dataset ready: {root} (maps: {', '.join(ds.metrics)})")
    if args.report:
        from dkmap.data.demo.report import demo_report, format_report

        print(format_report(demo_report(root)))
    if args.serve:
        cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> None:
    from dkmap.server.serve import serve

    sample = getattr(args, "selection_sample", None)
    if sample is not None and sample < 1:
        raise CliError(f"--selection-sample must be a positive integer, got {sample}")
    serve(Path(args.data), host=args.host, port=args.port,
          config={"SELECTION_SAMPLE": sample} if sample is not None else None,
          allowed_hosts=getattr(args, "allowed_host", None))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from dkmap.evaluation.command import run_evaluate

    if args.suite:
        if args.npz or args.dataset:
            raise CliError("--suite runs its own sets; give it without --dataset or --npz")
        from dkmap.evaluation.command import run_suite_command

        run_suite_command(args.suite, settings=_projection_overrides(args), seed=args.seed,
                          json_out=args.json, compare_old=args.compare_old, only=args.only)
        return
    if bool(args.npz) == bool(args.dataset):
        raise CliError("give either --dataset DIR --metric NAME, --npz FILE or --suite NAME")
    if args.dataset and not args.metric:
        raise CliError("--dataset needs --metric NAME")
    run_evaluate(dataset_dir=args.dataset, metric=args.metric, npz=args.npz,
                 methods=_comma_list(args.methods) if args.methods else None,
                 settings=_projection_overrides(args), seed=args.seed, json_out=args.json,
                 progress=not args.quiet)


def cmd_compare_spec(args: argparse.Namespace) -> None:
    from dkmap.compare.command import run_spec

    run_spec(args.dataset, args.x, args.y, k=args.k, kernel=args.kernel, json_out=args.json)


def _non_negative_seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


def _add_wait(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--wait", type=_non_negative_seconds, default=0, metavar="SECONDS",
                   help=f"while {what} runs, wait up to SECONDS for it (default 0: refuse at once, naming it)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dkmap", description="Metric-supervised maps of text-image alignment.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="turn a table of prompts and images into a dataset folder")
    p.add_argument("--table", action="append", required=True,
                   help="items table: .parquet, .arrow, .csv, .jsonl, a glob of shards, or a folder written by "
                        "datasets' save_to_disk; repeatable (shards of one table, in order)")
    p.add_argument("--images", type=Path,
                   help="folder the table's image paths are relative to (not needed when it holds image bytes)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to create, e.g. data/datasets/NAME")
    p.add_argument("--text-emb", type=Path, help="N×d .npy of text embeddings, one row per table row")
    p.add_argument("--image-emb", type=Path, help="N×d .npy of image embeddings, one row per table row")
    p.add_argument("--encoder", help="sentence-transformers CLIP model: local folder or installed package")
    p.add_argument("--metric", action="append", metavar="NAME[:UNIT[:higher|lower]]",
                   help="clipscore (default), clipscore-hessel, or a metric column of the table, with its unit "
                        "and which way is better (default higher), e.g. pickscore::higher; repeatable")
    p.add_argument("--skip-missing", action="store_true", help="drop items whose image files are missing")
    p.add_argument("--name", help="dataset name (default: the folder name)")
    p.add_argument("--description", help="one line shown in the UI")
    p.add_argument("--drop-columns", metavar="A,B", help="extra table columns not to keep as metadata "
                   "(every other extra column is kept, typed as number, boolean, time, category or text)")
    _add_wait(p, "another ingest into DATASET_DIR or a build of one of its maps")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("demo", help="build the bundled demo dataset and its maps (first use only)")
    p.add_argument("--size", choices=["small", "full"], default="full")
    p.add_argument("--report", action="store_true", help="print the demo's quality report")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="folder of dataset folders")
    p.add_argument("--serve", action="store_true", help="serve the maps when ready")
    p.add_argument("--seed", type=int, default=0)
    _add_projection_options(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("build", help="build the map of one metric of a dataset")
    p.add_argument("dataset", type=Path)
    p.add_argument("--metric", required=True)
    p.add_argument("--engine", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    _add_projection_options(p)
    p.add_argument("--seed", type=int)
    p.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    _add_wait(p, "another build of this map or an ingest into its dataset")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("index", help="build a dataset's search indexes (words, meaning) now instead of on "
                                     "the first query")
    p.add_argument("dataset", type=Path)
    p.add_argument("--words-only", action="store_true", help="only the full-text index")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("serve", help="serve every dataset under --data over HTTP")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--allowed-host", action="append", metavar="NAME[:PORT]",
                   help="also answer requests whose Host header is NAME (any port) or NAME:PORT, e.g. behind "
                        "a proxy; repeatable. Bound to loopback, only localhost, 127.0.0.1 and [::1] with "
                        "the port are answered otherwise (against DNS rebinding)")
    p.add_argument("--selection-sample", type=int, default=None, metavar="N",
                   help="selected items whose positions and keyword bars a lasso sends (a uniform sample "
                        "above this; count and statistics always cover all; default 20000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("evaluate", help="out-of-sample accuracy of DKMap against baselines")
    p.add_argument("--dataset", type=Path)
    p.add_argument("--metric")
    p.add_argument("--npz", type=Path, help=".npz with x_train, m_train, x_test, m_test")
    p.add_argument("--suite", help="a named suite of synthetic cross-modal sets: dev, heldout or tiny")
    p.add_argument("--only", type=_comma_list, help="with --suite: only these sets (comma list)")
    p.add_argument("--compare-old", action="store_true",
                   help="with --suite: also run the old defaults (20 epochs, no selection) on each set")
    p.add_argument("--methods", help="comma list (default: all)")
    _add_projection_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the results as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="compare embeddings or generators")
    csub = p.add_subparsers(dest="what", required=True)
    s = csub.add_parser("spec", help="SPEC: clusters one embedding forms and another does not")
    s.add_argument("dataset", type=Path)
    s.add_argument("--x", required=True, help="embedding space, e.g. image_a")
    s.add_argument("--y", required=True, help="embedding space, e.g. image_b")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--kernel", choices=["cosine", "gaussian"], default="cosine")
    s.add_argument("--json", type=Path)
    s.set_defaults(func=cmd_compare_spec)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except (CliError, ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"dkmap: error: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, no permission: one line naming the device or file
        from dkmap.oserror import describe

        target = getattr(args, "out", None) or getattr(args, "dataset", None) or getattr(args, "data", None)
        print(f"dkmap: error: {describe(exc, target)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dkmap: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
