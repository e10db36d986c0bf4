"""Reading the items tables people have into one DataFrame, and what their image column holds.

Accepted: .parquet, .arrow/.feather (Arrow IPC file or stream), .csv, .jsonl/.ndjson; several files
or glob patterns (shards of one table, concatenated in the order given, each glob sorted); a folder
written by `datasets.Dataset.save_to_disk` (its Arrow stream files, read with pyarrow); or a pandas
DataFrame. The image column holds relative paths, the image bytes (Arrow binary), or the Hugging Face
`Image` layout (a struct of `bytes` and `path`); `image_payloads` turns each cell into a path or bytes.

Parquet and Arrow files are read in record batches of at most BATCH_ROWS rows, and `read_table`'s
`on_batch` hook sees each batch before it is kept, so a caller can take the image bytes out (to disk)
and a table of any size of images never has to be in memory whole.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dkmap.data.store import DatasetError

TableSource = Union[str, os.PathLike, pd.DataFrame, Sequence[Union[str, os.PathLike]]]
SUFFIXES = (".parquet", ".arrow", ".feather", ".csv", ".jsonl", ".ndjson")
IMAGE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


BATCH_ROWS = 1024   # rows per piece of a Parquet/Arrow file: ~1 GB of 1 MB images at most in memory
BatchHook = Callable[[pd.DataFrame, int], pd.DataFrame]


def read_table(source: TableSource, on_batch: BatchHook | None = None, progress: bool = False) -> pd.DataFrame:
    """One DataFrame from `source` (see the module docstring); DatasetError naming the file otherwise.

    `on_batch(piece, first_row)` is given each piece of the table in order (at most BATCH_ROWS rows
    of a Parquet or Arrow file; a CSV, JSONL or DataFrame whole) with the table-wide index of its
    first row, and returns what to keep of it: the same rows and columns, cells possibly replaced."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        return on_batch(frame, 0) if on_batch is not None else frame
    files = table_files(source)
    frames, first_row = [], 0
    with tqdm(total=_known_rows(files), unit="rows", desc="reading table", disable=not progress, leave=False) as bar:
        for path in files:
            pieces = []
            for piece in _read_pieces(path):
                if on_batch is not None:
                    piece = on_batch(piece, first_row)
                first_row += len(piece)
                bar.update(len(piece))
                pieces.append(piece)
            frames.append(pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True))
    if len(frames) == 1:
        return frames[0]
    columns = list(frames[0].columns)
    for f, frame in zip(files[1:], frames[1:]):
        if list(frame.columns) != columns:
            raise DatasetError(f"table {f}: its columns {list(frame.columns)} differ from those of {files[0]} "
                               f"{columns} (shards of one table must have the same columns)")
    return pd.concat(frames, ignore_index=True)


def table_files(source) -> list[Path]:
    """The files `source` names: paths, glob patterns, or save_to_disk folders, in the order given."""
    given = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not given:
        raise DatasetError("table: no file given")
    files: list[Path] = []
    for entry in given:
        text = os.fspath(entry)
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise DatasetError(f"table {text}: the pattern matches no file")
            files.extend(matches)
        elif Path(text).is_dir():
            files.extend(saved_dataset_files(Path(text)))
        else:
            files.append(Path(text))
    return files


def saved_dataset_files(folder: Path) -> list[Path]:
    """The Arrow files of a folder written by `datasets.Dataset.save_to_disk`, in row order."""
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text()).get("splits", [])
        raise DatasetError(f"table {folder}: a saved DatasetDict; give one split's folder, e.g. "
                           f"{folder / (splits[0] if splits else 'train')}")
    state = folder / "state.json"
    if not state.is_file():
        raise DatasetError(f"table {folder}: a folder, but not one written by datasets' save_to_disk "
                           "(no state.json); give table files or a glob instead")
    try:
        names = [entry["filename"] for entry in json.loads(state.read_text())["_data_files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"table {state}: unreadable ({exc})") from exc
    if not names:
        raise DatasetError(f"table {folder}: the saved dataset lists no data files")
    return [folder / name for name in names]


def _read_pieces(path: Path) -> Iterator[pd.DataFrame]:
    """The file as DataFrames, in row order: Parquet and Arrow in pieces of at most BATCH_ROWS rows
    (one empty piece for a file without rows, so its columns are known), other formats whole."""
    if not path.is_file():
        raise DatasetError(f"table {path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(f"table {path}: unsupported format '{suffix}' (use {', '.join(SUFFIXES)}, "
                           "or a save_to_disk folder)")
    try:
        if suffix == ".parquet":
            yield from _pieces(pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS), pq.read_schema(path))
        elif suffix in (".arrow", ".feather"):
            yield from _arrow_pieces(path)
        elif suffix == ".csv":
            yield pd.read_csv(path, dtype={"id": str})
        else:
            # No dtype guessing: it would turn a boolean column with gaps into 0.0/1.0/NaN.
            yield pd.read_json(path, lines=True, dtype=False)
    except DatasetError:
        raise
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise DatasetError(f"table {path}: could not be read ({exc})") from exc


def _pieces(batches, schema: pa.Schema) -> Iterator[pd.DataFrame]:
    empty = True
    for batch in batches:
        for start in range(0, batch.num_rows, BATCH_ROWS):
            empty = False
            yield pa.Table.from_batches([batch.slice(start, BATCH_ROWS)], schema=schema).to_pandas()
    if empty:
        yield schema.empty_table().to_pandas()


def _arrow_pieces(path: Path) -> Iterator[pd.DataFrame]:
    """An Arrow IPC file (Feather v2) or stream (what save_to_disk writes), memory-mapped."""
    with pa.memory_map(str(path)) as source:
        try:
            reader = pa.ipc.open_file(source)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_stream(source)
            batches = iter(reader)
        yield from _pieces(batches, reader.schema)


def _known_rows(files: list[Path]) -> int | None:
    """Rows in all `files` when their footers say (Parquet), for the progress bar; None otherwise."""
    if not all(f.suffix.lower() == ".parquet" and f.is_file() for f in files):
        return None
    try:
        return sum(pq.read_metadata(f).num_rows for f in files)
    except (OSError, pa.ArrowException):
        return None


def image_payloads(column: pd.Series, first_row: int = 0) -> list[str | bytes]:
    """Each cell of an image column as a relative path (str) or the image itself (bytes).

    Cells may be str paths, bytes, or dicts {bytes, path} (the Hugging Face `Image` layout: its bytes
    when present, else its path). DatasetError naming the row (counted from `first_row`, the row of
    the column's first cell in the table) for anything else or an empty cell."""
    out: list[str | bytes] = []
    for row, cell in enumerate(column.tolist(), start=first_row):
        if isinstance(cell, dict):
            cell = cell.get("bytes") if cell.get("bytes") is not None else cell.get("path")
        if isinstance(cell, (bytes, bytearray, memoryview)):
            cell = bytes(cell)
            if not cell:
                raise DatasetError(f"table: column 'image' holds empty bytes at row {row}")
        elif isinstance(cell, str) and cell.strip():
            pass
        else:
            raise DatasetError(f"table: column 'image' at row {row} is {type(cell).__name__} {cell!r:.40}; expected "
                               "a relative path, image bytes, or a {bytes, path} struct (Hugging Face Image)")
        out.append(cell)
    return out
