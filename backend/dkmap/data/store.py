"""The on-disk dataset format: validated reads, and writes that land whole or not at all.

Two layouts (data/README.md): plain (items.parquet, embeddings/<space>.npy) and sharded
(`layout: sharded` in dataset.yaml; items/part-N.parquet and embeddings/<space>/part-N.npy, rows
split in order). `open_dataset` reads both into the same `Dataset`: a sharded embedding is a
`ShardedArray` over memory-mapped shards, so rows are read from the shards that hold them.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import yaml

from dkmap.atomic import atomic_dir, sha256_file

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SPLITS = ("train", "test")
METRIC_KINDS = ("score", "difference")
NORM_TOLERANCE = 1e-2
SHARDED = "sharded"   # dataset.yaml `layout` of a dataset split by rows into shards


class DatasetError(ValueError):
    """A dataset folder or its inputs are invalid; the message names the file, row or field."""


def image_column(generator: str) -> str:
    """Column of items.parquet holding the relative image path of `generator`."""
    return f"image_{generator}"


def image_space(generator: str) -> str:
    """Embedding space name of `generator`'s images."""
    return f"image_{generator}"


def check_matrix(label: str, emb, n_rows: int | None = None,
                 dtypes: tuple = (np.float16, np.float32)) -> None:
    """Raise DatasetError naming `label` unless `emb` is a 2-D array of one of `dtypes` with
    `n_rows` rows (any count when None): the shape checks every embedding in or out shares."""
    shape = getattr(emb, "shape", None)
    if not hasattr(emb, "dtype") or len(shape) != 2:
        raise DatasetError(f"{label}: expected a 2-D array N×d, got shape {shape}")
    if emb.dtype not in dtypes:
        names = [np.dtype(d).name for d in dtypes]
        raise DatasetError(f"{label}: dtype must be {', '.join(names[:-1])} or {names[-1]}, got {emb.dtype}")
    if n_rows is not None and shape[0] != n_rows:
        raise DatasetError(f"{label}: {shape[0]} rows but the table has {n_rows} rows")


def check_embedding(name: str, emb: np.ndarray, n_rows: int) -> None:
    """Raise DatasetError unless `emb` is a finite, non-zero, L2-normalised float16/32 N×d matrix."""
    if not isinstance(emb, np.ndarray):
        raise DatasetError(f"embedding '{name}': expected a 2-D array N×d, got {type(emb).__name__}")
    check_matrix(f"embedding '{name}'", emb, n_rows)
    for start in range(0, emb.shape[0], 65536):
        block = np.asarray(emb[start:start + 65536], dtype=np.float32)
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            raise DatasetError(f"embedding '{name}': row {start + int(np.argmax(bad))} has NaN or inf values")
        norms = np.linalg.norm(block, axis=1)
        zero = norms == 0
        if zero.any():
            raise DatasetError(f"embedding '{name}': row {start + int(np.argmax(zero))} is a zero vector")
        off = np.abs(norms - 1.0) > NORM_TOLERANCE
        if off.any():
            row = start + int(np.argmax(off))
            raise DatasetError(f"embedding '{name}': row {row} is not L2-normalised (norm {norms[row - start]:.4f})")


def normalise_rows(emb: np.ndarray, name: str) -> np.ndarray:
    """L2-normalise rows, refusing NaN/inf and zero vectors (which have no direction)."""
    arr = np.asarray(emb)
    check_matrix(f"embedding '{name}'", arr, dtypes=(np.float16, np.float32, np.float64))
    out = arr.astype(np.float32)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise DatasetError(f"embedding '{name}': {len(rows)} rows with NaN or inf, first at row {rows[0]}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if (norms == 0).any():
        rows = np.flatnonzero(norms[:, 0] == 0)
        raise DatasetError(f"embedding '{name}': {len(rows)} zero vectors, first at row {rows[0]}")
    out /= norms
    return out.astype(arr.dtype if arr.dtype == np.float16 else np.float32)


def feature_spaces(meta: dict, metric: str) -> list[str]:
    """Spaces concatenated into the projected feature of `metric` (METHOD.md §1), from dataset.yaml."""
    info = meta["metrics"].get(metric)
    if info is None:
        raise KeyError(f"unknown metric '{metric}' (dataset '{meta['name']}' has: {', '.join(meta['metrics'])})")
    return ["text"] + [image_space(g) for g in info["generators"]]


def shard_name(index: int) -> str:
    return f"part-{index:05d}"


def items_shard_path(root: Path, index: int) -> Path:
    """Items table rows of shard `index` of a sharded dataset."""
    return Path(root) / "items" / f"{shard_name(index)}.parquet"


def embedding_shard_path(root: Path, space: str, index: int) -> Path:
    """Embedding `space` rows of shard `index` of a sharded dataset."""
    return Path(root) / "embeddings" / space / f"{shard_name(index)}.npy"


class ShardedArray:
    """A read-only N×d matrix stored as row shards (each memory-mapped), indexed like an array.

    `a[i]`, `a[start:stop]`, `a[rows]` (ints or booleans) read only the shards holding those rows;
    `np.asarray(a)` reads every shard into one array (the whole matrix: avoid on large datasets).
    """

    ndim = 2

    def __init__(self, parts: list[np.ndarray]):
        if not parts:
            raise ValueError("a sharded array needs at least one shard")
        self._parts = parts
        self._offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        self.shape = (int(self._offsets[-1]), int(parts[0].shape[1]))
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, *rest = key
            return self[rows][(slice(None), *rest)] if not np.isscalar(rows) else self[rows][tuple(rest)]
        if isinstance(key, (int, np.integer)):
            row = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= row < self.shape[0]:
                raise IndexError(f"row {int(key)} out of range for {self.shape[0]} rows")
            k = int(np.searchsorted(self._offsets, row, side="right")) - 1
            return np.asarray(self._parts[k][row - self._offsets[k]])
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self._range(start, max(start, stop))
        return self._take(np.asarray(key))

    def _range(self, start: int, stop: int) -> np.ndarray:
        first = int(np.searchsorted(self._offsets, start, side="right")) - 1
        blocks = []
        k = first
        while k < len(self._parts) and self._offsets[k] < stop:
            lo, hi = self._offsets[k], self._offsets[k + 1]
            blocks.append(self._parts[k][max(start, lo) - lo:min(stop, hi) - lo])
            k += 1
        if not blocks:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        return np.concatenate(blocks) if len(blocks) > 1 else np.array(blocks[0])

    def _take(self, rows: np.ndarray) -> np.ndarray:
        if rows.dtype == bool:
            if rows.shape != (self.shape[0],):
                raise IndexError(f"boolean index of shape {rows.shape} for {self.shape[0]} rows")
            rows = np.flatnonzero(rows)
        if rows.size and not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"rows must be integers or booleans, got {rows.dtype}")
        rows = rows.astype(np.int64).reshape(-1)
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"rows out of range for {self.shape[0]} rows")
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        owner = np.searchsorted(self._offsets, rows, side="right") - 1
        for k in np.unique(owner):
            here = owner == k
            out[here] = self._parts[k][rows[here] - self._offsets[k]]
        return out


@dataclass
class Dataset:
    """A validated dataset folder; embeddings are memory-mapped on first use."""

    root: Path
    meta: dict
    items: pd.DataFrame
    _embeddings: dict = field(default_factory=dict, repr=False)
    _columns: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def sharded(self) -> bool:
        return self.meta.get("layout") == SHARDED

    @property
    def generators(self) -> list[str]:
        return list(self.meta["generators"])

    @property
    def metrics(self) -> dict[str, dict]:
        return dict(self.meta["metrics"])

    @property
    def spaces(self) -> list[str]:
        return list(self.meta["spaces"])

    @property
    def ids(self) -> np.ndarray:
        return self.items["id"].to_numpy()

    @property
    def prompts(self) -> list[str]:
        return self.items["prompt"].tolist()

    @property
    def is_train(self) -> np.ndarray:
        return (self.items["split"] == "train").to_numpy()

    def metric(self, name: str) -> np.ndarray:
        """Values of metric `name` as float64, in the metric's own units."""
        if name not in self.meta["metrics"]:
            raise KeyError(f"unknown metric '{name}' (dataset '{self.name}' has: {', '.join(self.meta['metrics'])})")
        return self.items[name].to_numpy(dtype=np.float64)

    def resolve_space(self, space: str) -> str:
        """Map the alias `image` to the first generator's image space; validate the name."""
        if space == "image":
            space = image_space(self.generators[0])
        if space not in self.meta["spaces"]:
            raise KeyError(f"unknown embedding space '{space}' (dataset '{self.name}' has: image, {', '.join(self.meta['spaces'])})")
        return space

    def embedding(self, space: str) -> np.ndarray:
        """The N×d embedding matrix of `space`, memory-mapped read-only (a ShardedArray if sharded)."""
        space = self.resolve_space(space)
        if space not in self._embeddings:
            if self.sharded:
                self._embeddings[space] = ShardedArray(
                    [np.load(embedding_shard_path(self.root, space, k), mmap_mode="r")
                     for k in range(len(self.meta["shards"]))])
            else:
                self._embeddings[space] = np.load(self.root / "embeddings" / f"{space}.npy", mmap_mode="r")
        return self._embeddings[space]

    def feature_spaces(self, metric: str) -> list[str]:
        return feature_spaces(self.meta, metric)

    @property
    def columns(self):
        """The metadata columns (`dkmap.data.columns.Columns`), their arrays opened on first use."""
        if self._columns is None:
            from dkmap.data.columns import Columns

            self._columns = Columns(self.root, self.meta.get("columns"))
        return self._columns

    def features(self, metric: str) -> np.ndarray:
        """x = (t, v_g) for a score metric, (t, v_a, v_b) for a difference metric; float32 N×D."""
        blocks = [np.asarray(self.embedding(s), dtype=np.float32) for s in self.feature_spaces(metric)]
        return np.concatenate(blocks, axis=1)

    def row_of(self, item_id: str) -> int:
        """Row of `item_id`; KeyError naming the id when unknown."""
        if not hasattr(self, "_row_index"):
            self._row_index = {str(v): i for i, v in enumerate(self.items["id"].tolist())}
        try:
            return self._row_index[str(item_id)]
        except KeyError:
            raise KeyError(f"unknown item id '{item_id}' in dataset '{self.name}'") from None

    def image_path(self, row: int, generator: str) -> Path:
        """Absolute path of the image of `row` by `generator`, guaranteed inside images/."""
        if generator not in self.meta["generators"]:
            raise KeyError(f"unknown generator '{generator}' (dataset '{self.name}' has: {', '.join(self.generators)})")
        if not 0 <= row < self.n:
            raise KeyError(f"row {row} out of range for dataset '{self.name}' ({self.n} items)")
        images = (self.root / "images").resolve()
        path = (images / str(self.items[image_column(generator)].iat[row])).resolve()
        if images not in path.parents:
            raise DatasetError(f"image path of row {row} leaves the images folder")
        return path


def read_meta(root: Path) -> dict:
    """The validated dataset.yaml of the dataset folder `root` (DatasetError naming what is wrong)."""
    meta_path = root / "dataset.yaml"
    if not meta_path.is_file():
        raise DatasetError(f"{root}: not a dataset folder (missing dataset.yaml)")
    try:
        meta = yaml.safe_load(meta_path.read_text())
    except yaml.YAMLError as exc:
        raise DatasetError(f"{meta_path}: invalid YAML ({exc})") from exc
    for key in ("name", "generators", "metrics", "spaces", "n_items"):
        if not isinstance(meta, dict) or key not in meta:
            raise DatasetError(f"{meta_path}: missing field '{key}'")
    return meta


def dataset_meta(path: str | os.PathLike) -> dict:
    """The dataset.yaml of a dataset folder, checked for the fields every dataset has; DatasetError
    when `path` is not a dataset folder (no dataset.yaml, or not one a DKMap dataset writes)."""
    return read_meta(Path(path))


def open_dataset(path: str | os.PathLike, verify_checksums: bool = False) -> Dataset:
    """Open and validate a dataset folder (either layout); raise DatasetError naming what is wrong."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder does not exist")
    meta = read_meta(root)
    if meta.get("layout") == SHARDED:
        items_path = root / "items"
        items, embedding_files = _sharded_files(root, meta)
    else:
        items_path = root / "items.parquet"
        if not items_path.is_file():
            raise DatasetError(f"{items_path}: missing")
        items = _read_items(items_path)
        if len(items) != meta["n_items"]:
            raise DatasetError(f"{items_path}: {len(items)} rows but dataset.yaml says n_items={meta['n_items']}")
        embedding_files = [(root / "embeddings" / f"{space}.npy", space, len(items)) for space in meta["spaces"]]
    required = ["id", "prompt", "split"] + [image_column(g) for g in meta["generators"]] + list(meta["metrics"])
    missing = [c for c in required if c not in items.columns]
    if missing:
        raise DatasetError(f"{items_path}: missing columns {missing}")
    dims: dict[str, int] = {}
    for emb_path, space, rows in embedding_files:
        if not emb_path.is_file():
            raise DatasetError(f"{emb_path}: missing embedding file for space '{space}'")
        emb = np.load(emb_path, mmap_mode="r")
        if emb.ndim != 2 or emb.shape[0] != rows:
            raise DatasetError(f"{emb_path}: shape {emb.shape} does not match {rows} items")
        if dims.setdefault(space, emb.shape[1]) != emb.shape[1]:
            raise DatasetError(f"{emb_path}: {emb.shape[1]} columns, other shards of '{space}' {dims[space]}")
    if verify_checksums:
        for rel, expected in meta.get("checksums", {}).items():
            if sha256_file(root / rel) != expected:
                raise DatasetError(f"{root / rel}: checksum mismatch (file changed or corrupted)")
    return Dataset(root=root, meta=meta, items=items)


def _read_items(path: Path) -> pd.DataFrame:
    """An items table (DatasetError naming the file when it is not a readable Parquet table)."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:   # pyarrow's errors are both
        reason = " ".join(str(exc).split()).replace(str(path), path.name)
        raise DatasetError(f"{path}: not a readable Parquet table ({reason})") from exc


def shard_sizes(root: Path, meta: dict) -> list[int]:
    """The rows of each shard of a sharded dataset, checked against n_items (DatasetError)."""
    shards = meta.get("shards")
    if not isinstance(shards, list) or not shards or not all(isinstance(r, int) and r > 0 for r in shards):
        raise DatasetError(f"{root / 'dataset.yaml'}: a sharded dataset needs `shards`, a list of row counts")
    if sum(shards) != meta["n_items"]:
        raise DatasetError(f"{root / 'dataset.yaml'}: shards hold {sum(shards)} rows but n_items={meta['n_items']}")
    return shards


def _sharded_files(root: Path, meta: dict) -> tuple[pd.DataFrame, list[tuple[Path, str, int]]]:
    """The items table of a sharded dataset (its shards in order) and (file, space, rows) of every
    embedding shard; checks the shard list against n_items and each items shard's length."""
    shards = shard_sizes(root, meta)
    frames = []
    for k, rows in enumerate(shards):
        path = items_shard_path(root, k)
        if not path.is_file():
            raise DatasetError(f"{path}: missing")
        frame = _read_items(path)
        if len(frame) != rows:
            raise DatasetError(f"{path}: {len(frame)} rows but dataset.yaml says {rows}")
        frames.append(frame)
    files = [(embedding_shard_path(root, space, k), space, rows)
             for space in meta["spaces"] for k, rows in enumerate(shards)]
    return pd.concat(frames, ignore_index=True), files


def _validate_for_write(items: pd.DataFrame, embeddings: Mapping[str, np.ndarray],
                        generators: list[str], metrics: Mapping[str, dict]) -> None:
    if not generators:
        raise DatasetError("at least one generator is required")
    required = ["id", "prompt", "split"] + [image_column(g) for g in generators] + list(metrics)
    missing = [c for c in required if c not in items.columns]
    if missing:
        raise DatasetError(f"items table: missing columns {missing}")
    extra = [c for c in items.columns if c not in required]
    if extra:
        raise DatasetError(f"items table: unexpected columns {extra}")
    dup = items["id"].astype(str).duplicated()
    if dup.any():
        raise DatasetError(f"items table: duplicated ids, e.g. '{items['id'].astype(str)[dup].iloc[0]}' ({int(dup.sum())} duplicates)")
    bad_split = ~items["split"].isin(SPLITS)
    if bad_split.any():
        raise DatasetError(f"items table: split must be one of {SPLITS}, row {int(np.argmax(bad_split.to_numpy()))} is '{items['split'][bad_split].iloc[0]}'")
    for name, info in metrics.items():
        values = pd.to_numeric(items[name], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DatasetError(f"metric '{name}': row {int(np.argmax(~np.isfinite(values)))} is missing, NaN or inf")
    needed = {"text", "minilm"} | {image_space(g) for g in generators}
    absent = sorted(needed - set(embeddings))
    if absent:
        raise DatasetError(f"missing embedding spaces {absent}")
    for space, emb in embeddings.items():
        check_embedding(space, emb, len(items))


def metrics_meta(metrics: Mapping[str, dict], generators: list[str]) -> dict[str, dict]:
    """The metrics' entries as dataset.yaml stores them, every field's default filled in; DatasetError
    naming a metric whose kind, direction or generators are not valid (both layouts' writers)."""
    out = {}
    for name, info in metrics.items():
        entry = {"description": info.get("description", ""), "unit": info.get("unit", ""),
                 "better": info.get("better", "higher"),
                 "generators": list(info.get("generators", generators[:1])), "kind": info.get("kind", "score")}
        if entry["kind"] not in METRIC_KINDS:
            raise DatasetError(f"metric '{name}': kind must be one of {METRIC_KINDS}")
        if entry["better"] not in ("higher", "lower"):
            raise DatasetError(f"metric '{name}': better must be 'higher' or 'lower', got {entry['better']!r}")
        unknown = [g for g in entry["generators"] if g not in generators]
        if unknown:
            raise DatasetError(f"metric '{name}': unknown generators {unknown} (dataset has {generators})")
        out[name] = entry
    return out


def write_dataset(out_dir: str | os.PathLike, *, name: str, description: str, items: pd.DataFrame,
                  embeddings: Mapping[str, np.ndarray], image_sources: Mapping[str, Path | bytes],
                  generators: list[str], metrics: Mapping[str, dict], extra_files: Mapping[str, bytes] | None = None,
                  overwrite: bool = True, before_replace: Callable[[Path], None] | None = None,
                  columns: pd.DataFrame | None = None, staged_images: Path | None = None) -> Dataset:
    """Validate and write a dataset folder atomically (temporary sibling folder, then rename).

    `image_sources` maps each relative image path used in items to a source file or its bytes;
    `staged_images`, a folder beside `out_dir` that already holds images at their relative paths
    (those need no source): it is moved in as the images/ folder, not copied.
    `metrics` maps a metric name to {description, unit, generators, kind}. `before_replace(tmp)` runs
    on the complete, validated new folder just before it replaces `out_dir` (to carry builds over).
    `columns` holds the metadata columns, one row per item (stored by `dkmap.data.columns`).
    On any error nothing is left at `out_dir` that was not there before.
    """
    out = Path(out_dir).resolve()
    items = items.reset_index(drop=True).copy()
    items["id"] = items["id"].astype(str)
    metrics = metrics_meta(metrics, generators)
    _validate_for_write(items, embeddings, generators, metrics)
    if columns is not None:
        from dkmap.data.columns import check_names

        check_names(columns.columns, items.columns)
        if len(columns) != len(items):
            raise DatasetError(f"metadata columns: {len(columns)} rows but the table has {len(items)} items")
    used = set()
    for g in generators:
        used.update(items[image_column(g)].astype(str))
    missing = sorted(rel for rel in used - set(image_sources)
                     if staged_images is None or not (staged_images / rel).is_file())
    if missing:
        raise DatasetError(f"{len(missing)} image paths have no source, e.g. '{missing[0]}'")
    if out.exists() and not overwrite:
        raise DatasetError(f"{out}: already exists")

    with atomic_dir(out) as tmp:
        (tmp / "embeddings").mkdir()
        images_dir = tmp / "images"
        if staged_images is not None:
            os.replace(staged_images, images_dir)
        else:
            images_dir.mkdir()
        for rel in sorted(used):
            if rel not in image_sources:
                continue   # staged
            target = (images_dir / rel).resolve()
            if images_dir.resolve() not in target.parents:
                raise DatasetError(f"image path '{rel}' leaves the images folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = image_sources[rel]
            if isinstance(source, (bytes, bytearray)):
                target.write_bytes(source)
            else:
                shutil.copyfile(source, target)
        for space, emb in embeddings.items():
            np.save(tmp / "embeddings" / f"{space}.npy", np.ascontiguousarray(emb))
        for rel, data in (extra_files or {}).items():
            (tmp / rel).write_bytes(data)
        for mname in metrics:
            items[mname] = pd.to_numeric(items[mname]).astype(np.float64)
        items.to_parquet(tmp / "items.parquet", index=False)
        checksums = {"items.parquet": sha256_file(tmp / "items.parquet")}
        column_meta = {}
        if columns is not None:
            from dkmap.data.columns import write_columns

            column_meta, column_sums = write_columns(tmp, columns)
            checksums.update(column_sums)
        for space in embeddings:
            rel = f"embeddings/{space}.npy"
            checksums[rel] = sha256_file(tmp / rel)
        meta = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "description": description,
            "n_items": int(len(items)),
            "generators": list(generators),
            "metrics": metrics,
            "spaces": sorted(embeddings),
            "dims": {space: int(emb.shape[1]) for space, emb in embeddings.items()},
            "n_train": int((items["split"] == "train").sum()),
            "checksums": checksums,
        }
        if column_meta:
            meta["columns"] = column_meta
        (tmp / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
        open_dataset(tmp)
        if before_replace is not None:
            before_replace(tmp)
    log.info("wrote dataset '%s' (%d items) to %s", name, len(items), out)
    return open_dataset(out)


def list_datasets(data_dir: str | os.PathLike) -> list[Path]:
    """Dataset folders directly under `data_dir` (those with a dataset.yaml), sorted by name."""
    root = Path(data_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "dataset.yaml").is_file())
