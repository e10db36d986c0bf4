"""Turns a user's table of (prompt, image) pairs plus embeddings into a validated dataset folder."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dkmap.data.columns import item_metadata
from dkmap.data.reingest import carry_over, check_out_folder
from dkmap.data.store import (DatasetError, Dataset, check_matrix, image_column, image_space, normalise_rows,
                              write_dataset)
from dkmap.data.table_images import DEFAULT_GENERATOR, ImageStaging, check_generator_name, image_format
from dkmap.data.tables import TableSource, read_table
from dkmap.locks import ingesting

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "prompt", "image")
OPTIONAL_COLUMNS = ("generator", "split")
BUILTIN_METRICS = {
    "clipscore": ("CLIPScore: 100 · cos(text, image) in the joint embedding space", "100·cos"),
    "clipscore-hessel": ("CLIPScore as in Hessel et al.: 2.5 · max(cos, 0) · 100", "2.5·max(cos,0)·100"),
}
TEST_FRACTION = 0.2
BETTER = ("higher", "lower")


@dataclass(frozen=True)
class MetricSpec:
    """A metric to store: a built-in name or a table column, its unit, and which way is better."""

    name: str
    unit: str | None = None   # None: the built-in's own unit ('' for a column)
    better: str = "higher"    # 'higher' or 'lower' values are better

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise DatasetError(f"metric: name must be a non-empty string, got {self.name!r}")
        if self.better not in BETTER:
            raise DatasetError(f"metric '{self.name}': better must be one of {BETTER}, got {self.better!r}")


def parse_metric(text: str | MetricSpec) -> MetricSpec:
    """`NAME`, `NAME:UNIT` or `NAME:UNIT:higher|lower` (the --metric syntax) as a MetricSpec."""
    if isinstance(text, MetricSpec):
        return text
    parts = str(text).split(":")
    if len(parts) > 3:
        raise DatasetError(f"metric '{text}': expected NAME[:UNIT[:higher|lower]]")
    name, unit, better = (parts + [None, "higher"][len(parts) - 1:])[:3]
    return MetricSpec(name=name, unit=unit, better=better or "higher")


@dataclass
class IngestOptions:
    """What `dkmap ingest` (or `dkmap.ingest`) was asked to do. `images` is needed only when the image
    column holds paths; embeddings are .npy paths or arrays with one row per table row."""

    table: TableSource
    images: Path | None
    out: Path
    text_emb: Path | np.ndarray | None = None
    image_emb: Path | np.ndarray | None = None
    encoder: str | None = None
    metrics: Sequence[str | MetricSpec] = ("clipscore",)
    skip_missing: bool = False
    name: str | None = None
    description: str = ""
    progress: bool = True
    wait_s: float | None = 0   # how long to wait for another command writing the same dataset
    drop_columns: Sequence[str] = ()   # extra table columns not kept as metadata


def check_columns(table: pd.DataFrame, metric_columns: Sequence[str]) -> None:
    """The required columns and the declared metric columns are there and filled."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    missing += [c for c in metric_columns if c not in table.columns]
    if missing:
        raise DatasetError(f"table: missing columns {missing} (required: {list(REQUIRED_COLUMNS)}; "
                           f"declared metrics: {list(metric_columns)})")
    for col in REQUIRED_COLUMNS:
        null = table[col].isna().to_numpy()
        if null.any():
            raise DatasetError(f"table: column '{col}' is empty at row {int(np.argmax(null))}")
    for col in metric_columns:
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DatasetError(f"table: metric column '{col}' is missing, non-numeric, NaN or inf at row {int(np.argmax(bad))}")


def check_ids(table: pd.DataFrame) -> None:
    """Refuse ids no URL can address: containing '/' (a path separator in every URL, even encoded as
    %2F), or '.' and '..' (which clients remove as path segments). Every other id works in URLs."""
    ids = table["id"].astype(str)
    bad = (ids.str.contains("/", regex=False) | ids.isin([".", ".."]) | (ids.str.strip() == "")).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(f"table: id {ids.iat[row]!r} at row {row} cannot be used in a URL ({int(bad.sum())} "
                           "such ids): ids must not contain '/', be '.' or '..', or be blank")


def metadata_names(table: pd.DataFrame, metric_columns: Sequence[str], drop: Sequence[str]) -> list[str]:
    """The table's extra columns, kept as metadata (dkmap.data.columns), less those in `drop`."""
    unknown = [c for c in drop if c not in table.columns]
    if unknown:
        raise DatasetError(f"--drop-columns: the table has no columns {unknown} (it has {list(table.columns)})")
    own = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(metric_columns) | set(drop)
    return [c for c in table.columns if c not in own]


def generators_of(table: pd.DataFrame) -> list[str]:
    """Generators in order of first appearance; one default generator when there is no column."""
    if "generator" not in table.columns:
        return [DEFAULT_GENERATOR]
    return [check_generator_name(str(g)) for g in pd.unique(table["generator"].astype(str))]


def check_keys(table: pd.DataFrame, generators: list[str]) -> None:
    """Unique (id, generator) pairs, every id present for every generator, one prompt per id."""
    keys = ["id", "generator"] if "generator" in table.columns else ["id"]
    dup = table.duplicated(subset=keys, keep=False).to_numpy()
    if dup.any():
        first = table.loc[dup, "id"].iloc[0]
        raise DatasetError(f"table: duplicated ids, e.g. '{first}' ({int(dup.sum())} rows involved)")
    if len(generators) > 1:
        per_id = table.groupby("id")["generator"].nunique()
        incomplete = per_id[per_id != len(generators)]
        if len(incomplete):
            raise DatasetError(f"table: {len(incomplete)} ids lack an image from every generator {generators}, "
                               f"e.g. '{incomplete.index[0]}'")
        prompts = table.groupby("id")["prompt"].nunique()
        differing = prompts[prompts > 1]
        if len(differing):
            raise DatasetError(f"table: id '{differing.index[0]}' has different prompts for different generators")


def safe_image_path(images_dir: Path, rel: str) -> Path:
    """Resolve `rel` under `images_dir`, refusing absolute paths and '..' escapes."""
    if os.path.isabs(rel):
        raise DatasetError(f"image path '{rel}' must be relative to the images folder")
    path = (images_dir / rel).resolve()
    if images_dir not in path.parents:
        raise DatasetError(f"image path '{rel}' leaves the images folder")
    return path


def image_sources_of(cells: pd.Series, from_bytes: np.ndarray, images_dir: Path | None) -> list[Path | None]:
    """Each row's image file under `images_dir` for a path cell; None for a row whose bytes are staged."""
    paths = np.flatnonzero(~from_bytes)
    if images_dir is None and len(paths):
        row = int(paths[0])
        raise DatasetError(f"table: column 'image' holds paths (e.g. '{cells.iat[row]}' at row {row}): "
                           "give the folder they are relative to (--images / images=)")
    return [None if staged else safe_image_path(images_dir, str(cell)) for cell, staged in zip(cells, from_bytes)]


def check_images(table: pd.DataFrame, sources: list[Path | None], images_dir: Path | None, staging: ImageStaging,
                 skip_missing: bool, progress: bool) -> tuple[pd.DataFrame, list[Path | None]]:
    """Drop (with --skip-missing) or refuse ids whose image files are missing; refuse unreadable images
    (image bytes were checked as they were staged)."""
    exists = np.array([s is None or s.is_file() for s in sources], dtype=bool)
    if not exists.all():
        missing = [str(r) for r in table["image"][~exists]]
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        if not skip_missing:
            raise DatasetError(f"{len(missing)} of {len(table)} image files are missing under {images_dir}: {shown} "
                               "(use --skip-missing to drop those items)")
        bad_ids = set(table.loc[~exists, "id"])
        log.warning("dropping %d items with missing images (%s)", len(bad_ids), shown)
        keep = ~table["id"].isin(bad_ids).to_numpy()
        staging.discard(table["image"][~keep & np.array([s is None for s in sources], dtype=bool)])
        table = table[keep]
        sources = [p for p, k in zip(sources, keep) if k]
        if table.empty:
            raise DatasetError("no items left after dropping those with missing images")
    unreadable = list(staging.unreadable)
    files = [(row, src) for row, src in enumerate(sources) if src is not None]
    for row, src in tqdm(files, desc="checking images", disable=not progress, leave=False):
        if image_format(src, f"image file {table['image'].iat[row]} under {images_dir}") is None:
            unreadable.append(str(table["image"].iat[row]))
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (" …" if len(unreadable) > 5 else "")
        raise DatasetError(f"{len(unreadable)} image files cannot be read as images: {shown}")
    return table, sources


def load_embedding(path: Path | np.ndarray, what: str, n_rows: int) -> np.ndarray:
    """Load a supplied N×d float16/float32 .npy file (or take the array) and L2-normalise it, refusing
    NaN/inf/zero rows."""
    if isinstance(path, np.ndarray):
        check_matrix(f"{what} embeddings", path, n_rows, dtypes=(np.float16, np.float32, np.float64))
        return normalise_rows(path, f"{what} (array)")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{what} embeddings {path}: file not found")
    try:
        emb = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DatasetError(f"{what} embeddings {path}: not a .npy array ({exc})") from exc
    check_matrix(f"{what} embeddings {path}", emb, n_rows)
    return normalise_rows(np.asarray(emb), f"{what} ({path.name})")


def default_split(ids: Sequence[str]) -> np.ndarray:
    """A fixed train/test split from a hash of each id, so it never depends on row order."""
    out = []
    for item_id in ids:
        h = int.from_bytes(hashlib.sha1(str(item_id).encode()).digest()[:4], "little") / 2**32
        out.append("test" if h < TEST_FRACTION else "train")
    return np.array(out, dtype=object)


def metric_names(metric: str, generators: list[str]) -> dict[str, dict]:
    """Stored metric names for one requested metric: one per generator plus differences."""
    base = metric.replace("-", "_")
    if len(generators) == 1:
        return {base: {"generators": generators, "kind": "score"}}
    names = {f"{base}_{g}": {"generators": [g], "kind": "score"} for g in generators}
    first = generators[0]
    for g in generators[1:]:
        diff = f"{base}_diff" if len(generators) == 2 else f"{base}_diff_{g}"
        names[diff] = {"generators": [first, g], "kind": "difference"}
    return names


def ingest(opts: IngestOptions) -> Dataset:
    """Validate everything first, then write the dataset atomically; nothing is left on error.

    `opts.out` must be absent, empty or a DKMap dataset (re-ingest: its maps and indexes whose inputs
    are unchanged are kept, the rest named before they go); one ingest per folder at a time, and
    none while a build of the dataset runs (LockedError naming the holder)."""
    out = Path(opts.out).resolve()
    check_out_folder(out)   # before taking the lock, so refusing a folder leaves nothing beside it
    with ingesting(out, opts.wait_s):
        old = check_out_folder(out)
        return _ingest_locked(opts, out, old)


def _ingest_locked(opts: IngestOptions, out: Path, old: dict | None) -> Dataset:
    images_dir = Path(opts.images).resolve() if opts.images is not None else None
    if images_dir is not None and not images_dir.is_dir():
        raise DatasetError(f"images folder {images_dir}: not found")
    with ImageStaging(out) as staging:
        return _ingest_staged(opts, out, old, images_dir, staging)


def _ingest_staged(opts: IngestOptions, out: Path, old: dict | None, images_dir: Path | None,
                   staging: ImageStaging) -> Dataset:
    """The ingest proper: image bytes go to `staging` while the table is read (bounded memory)."""
    table = read_table(opts.table, on_batch=staging.stage, progress=opts.progress)
    log.info("read %d table rows", len(table))
    specs = [parse_metric(m) for m in opts.metrics]
    if not specs:
        raise DatasetError("metrics: give at least one (clipscore, clipscore-hessel or a metric column)")
    metric_columns = [m.name for m in specs if m.name not in BUILTIN_METRICS]
    check_columns(table, metric_columns)
    extra_columns = metadata_names(table, metric_columns, opts.drop_columns)
    if table.empty:
        raise DatasetError(f"table {opts.table}: no rows (it has the columns but no items to map)")
    table = table.reset_index(drop=True)
    table["id"] = table["id"].astype(str)
    check_ids(table)
    generators = generators_of(table)
    check_keys(table, generators)

    supplied = opts.text_emb is not None or opts.image_emb is not None
    if supplied and (opts.text_emb is None or opts.image_emb is None):
        raise DatasetError("give both --text-emb and --image-emb, or neither")
    if supplied and opts.encoder:
        raise DatasetError("give either supplied embeddings (--text-emb/--image-emb) or --encoder, not both")
    if not supplied and not opts.encoder:
        raise DatasetError("no embeddings: give --text-emb and --image-emb, or --encoder MODEL")
    if supplied:
        text_rows = load_embedding(opts.text_emb, "text", len(table))
        image_rows = load_embedding(opts.image_emb, "image", len(table))
        if text_rows.shape[1] != image_rows.shape[1]:
            raise DatasetError(f"text embeddings are {text_rows.shape[1]}-d but image embeddings {image_rows.shape[1]}-d: "
                               "they must share one space")
    encoder = None
    if opts.encoder:
        from dkmap.data.encoders import ClipEncoder, EncoderError

        try:
            encoder = ClipEncoder(opts.encoder)
        except EncoderError as exc:
            raise DatasetError(str(exc)) from exc

    table["image"] = table["image"].astype(str)
    sources = image_sources_of(table["image"], staging.from_bytes, images_dir)
    kept_before = len(table)
    table, sources = check_images(table, sources, images_dir, staging, opts.skip_missing, opts.progress)
    if supplied and len(table) != kept_before:
        text_rows, image_rows = text_rows[table.index], image_rows[table.index]
    table = table.reset_index(drop=True)
    source_of = dict(zip(table["image"], sources))   # None: staged bytes

    gen_col = table["generator"].astype(str) if "generator" in table.columns else pd.Series([generators[0]] * len(table))
    first_rows = table.groupby("id", sort=False).head(1)
    ids = first_rows["id"].tolist()
    items = pd.DataFrame({"id": ids, "prompt": first_rows["prompt"].astype(str).tolist()})
    if "split" in table.columns:
        items["split"] = first_rows["split"].astype(str).to_numpy()
    else:
        items["split"] = default_split(ids)
    row_of_id = {item_id: i for i, item_id in enumerate(ids)}

    if encoder is not None:
        text = encoder.encode_text(items["prompt"].tolist(), progress=opts.progress)
    else:
        text = np.ascontiguousarray(text_rows[first_rows.index.to_numpy()])
        first_of_row = np.array([row_of_id[i] for i in table["id"]])
        gap = np.abs(text_rows - text[first_of_row]).max(axis=1)
        if (gap > 1e-3).any():
            bad = table["id"].iloc[int(np.argmax(gap))]
            raise DatasetError(f"id '{bad}' has different text embeddings in its generators' rows (one prompt, one vector)")
    embeddings: dict[str, np.ndarray] = {"text": text}
    image_sources: dict[str, Path] = {}
    metric_values: dict[str, np.ndarray] = {}
    metrics_meta: dict[str, dict] = {}
    per_gen_cos: dict[str, np.ndarray] = {}
    for g in generators:
        rows = table.index[(gen_col == g).to_numpy()].to_numpy()
        order = np.array([row_of_id[i] for i in table.loc[rows, "id"]])
        rows = rows[np.argsort(order)]
        rels = table.loc[rows, "image"].astype(str).tolist()
        items[image_column(g)] = rels
        for rel in rels:
            if source_of[rel] is not None:
                image_sources[rel] = source_of[rel]
        if encoder is not None:
            img = encoder.encode_images([source_of[r] or staging.folder / r for r in rels], progress=opts.progress)
        else:
            img = np.ascontiguousarray(image_rows[rows])
        if img.shape[1] != text.shape[1]:
            raise DatasetError(f"image embeddings are {img.shape[1]}-d but text embeddings {text.shape[1]}-d")
        embeddings[image_space(g)] = img
        per_gen_cos[g] = np.einsum("ij,ij->i", text.astype(np.float64), img.astype(np.float64))
        for col in metric_columns:
            metric_values[(col, g)] = pd.to_numeric(table.loc[rows, col]).to_numpy(dtype=np.float64)

    for spec in specs:
        metric = spec.name
        description, unit = BUILTIN_METRICS.get(metric, (f"supplied column '{metric}'", ""))
        unit = unit if spec.unit is None else spec.unit
        for name, info in metric_names(metric, generators).items():
            if metric == "clipscore":
                per_gen = {g: 100.0 * per_gen_cos[g] for g in generators}
            elif metric == "clipscore-hessel":
                per_gen = {g: 250.0 * np.maximum(per_gen_cos[g], 0.0) for g in generators}
            else:
                per_gen = {g: metric_values[(metric, g)] for g in generators}
            gens = info["generators"]
            values = per_gen[gens[0]] if info["kind"] == "score" else per_gen[gens[1]] - per_gen[gens[0]]
            items[name] = values
            what = description if info["kind"] == "score" else f"{description}: {gens[1]} minus {gens[0]}"
            metrics_meta[name] = {"description": what, "unit": unit, "better": spec.better, **info}

    from dkmap.data.encoders import embed_prompts_minilm

    embeddings["minilm"] = embed_prompts_minilm(items["prompt"].tolist(), progress=opts.progress)
    name = opts.name or out.name

    def keep_builds(tmp: Path) -> None:
        if old is not None:
            carried = carry_over(out, tmp)
            print(f"dkmap: {carried.message(out, old.get('name', out.name))}", file=sys.stderr)

    metadata = item_metadata(table, extra_columns, ids, generators)
    return write_dataset(out, name=name, description=opts.description or f"ingested from {_table_name(opts.table)}",
                         items=items, embeddings=embeddings, image_sources=image_sources,
                         generators=generators, metrics=metrics_meta, before_replace=keep_builds,
                         columns=metadata, staged_images=staging.folder)


def _table_name(table: TableSource) -> str:
    if isinstance(table, pd.DataFrame):
        return "a DataFrame"
    if isinstance(table, (str, os.PathLike)):
        return Path(table).name
    return ", ".join(Path(t).name for t in table)
