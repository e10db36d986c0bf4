"""`POST /api/maps/<dataset>/<metric>/export?format=csv|parquet`: a selection's items as a file.

The body is a selection's (`polygon`, `ids` or neither: the whole dataset; `filters`), plus `bars`,
the keyword-bar filter the UI applies (frontend/src/lib/filter.js: bars of one keyword add up,
different keywords narrow), and `rank`. Columns: id, prompt, every metric, every metadata column
(typed in Parquet: times as UTC timestamps in ms, booleans, categories as strings), split, x and y
(the position on this map; `map_x`, `map_y` when a metadata column has that name) and `keyword_bars` ("keyword:bin" for each of the selection's keywords
the prompt contains, joined by "; "). Keywords and their bars are the ones POST /selection gives for
the same body; every exported item gets the bar its similarity falls in.

Everything is checked before the first byte; then rows go out in chunks of CHUNK_ROWS (a CSV piece
or a Parquet row group each), so memory stays bounded for millions of rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from flask import Blueprint, Response, request

from dkmap.data.columns import TIME_MISSING
from dkmap.server import filters
from dkmap.server.ops.keywords import bars_of, keyword_extractor, minilm_store
from dkmap.server.registry import registry
from dkmap.server.selection import body_rank, sampled_keywords, selected_rows
from dkmap.server.validation import bad_request, json_body, parse_choice

log = logging.getLogger(__name__)

bp = Blueprint("export", __name__, url_prefix="/api/maps/<dataset>/<metric>")

FORMATS = ("csv", "parquet")
MIMETYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
CHUNK_ROWS = 65_536
MAX_BARS = 500


def _bar_list(raw) -> list[dict]:
    """`bars` checked for shape (before any work is done for the export); 400 for a malformed entry."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_BARS:
        bad_request(f"field 'bars' must be a list of at most {MAX_BARS} {{\"keyword\", \"bin\"}} objects")
    for i, bar in enumerate(raw):
        if (not isinstance(bar, dict) or set(bar) != {"keyword", "bin"} or not isinstance(bar["keyword"], str)
                or isinstance(bar["bin"], bool) or not isinstance(bar["bin"], int)):
            bad_request(f"field 'bars'[{i}] must be {{\"keyword\": string, \"bin\": integer}}, got {bar!r}"[:300])
    return raw


def _parse_bars(bars: list[dict], keywords: list[dict]) -> dict[int, np.ndarray]:
    """Checked `bars` as {keyword index: chosen bins}; 400 for a bar the selection lacks."""
    index = {k["keyword"]: j for j, k in enumerate(keywords)}
    chosen: dict[int, set] = {}
    for i, bar in enumerate(bars):
        j = index.get(bar["keyword"])
        if j is None or not 0 <= bar["bin"] < len(keywords[j]["bins"]):
            bad_request(f"field 'bars'[{i}]: the selection has no bar {bar['bin']} for keyword {bar['keyword']!r} "
                        f"(its keywords: {', '.join(index) or 'none'})"[:400])
        chosen.setdefault(j, set()).add(bar["bin"])
    return {j: np.asarray(sorted(bins)) for j, bins in chosen.items()}


def _column_array(col, rows: np.ndarray) -> pa.Array:
    """A metadata column's values at `rows` in their own Arrow type."""
    if col.kind == "text":
        return col.data.take(pa.array(rows)).combine_chunks()
    raw = np.asarray(col.data[rows])
    if col.kind == "number":
        return pa.array(raw, from_pandas=True)
    if col.kind == "time":
        missing = raw == TIME_MISSING
        return pa.array(np.where(missing, 0, raw // 1_000_000), mask=missing).cast(pa.timestamp("ms", tz="UTC"))
    if col.kind == "boolean":
        return pa.array(raw == 1, mask=raw < 0)
    return pa.array(col.values, type=pa.string()).take(pa.array(raw, mask=raw < 0))


class _Drain:
    """A write-only file ParquetWriter writes into; `take()` hands over (and forgets) what it holds."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class Exporter:
    """The rows and everything read to write them, gathered before the response starts."""

    def __init__(self, reg, dataset: str, built, rows: np.ndarray, keywords: list[dict],
                 bars: dict[int, np.ndarray]) -> None:
        source = filters.source_of(reg, dataset)
        self.ds = source.ds
        self.rows = rows
        self.ids = reg.ids(dataset)
        self.prompts = source.text(filters.PROMPT)
        self.metrics = {m: source.numeric(m) for m in self.ds.metrics}
        self.split = source.codes(filters.SPLIT)
        self.split_values = pa.array(source.values(filters.SPLIT), type=pa.string())
        self.columns = [c for c in self.ds.columns if c.name not in self.ds.metrics and c.name != filters.SPLIT]
        self.positions = built.positions
        self.keywords = keywords
        self.bars = bars
        self.extractor = keyword_extractor(reg) if keywords else None
        self.store = minilm_store(reg, dataset) if keywords else None

    def batch(self, rows: np.ndarray) -> pa.RecordBatch:
        """The export's columns for `rows`, after the keyword-bar filter."""
        bins = bars_of(self.extractor, self.store, self.keywords, rows)
        if self.bars:
            keep = np.ones(len(rows), dtype=bool)
            for j, chosen in self.bars.items():
                keep &= np.isin(bins[:, j], chosen)
            rows, bins = rows[keep], bins[keep]
        taken = pa.array(rows)
        prompts = self.prompts.take(taken)
        xy = np.asarray(self.positions[rows], dtype=np.float32)
        split = self.split_values.take(pa.array(self.split[rows], mask=self.split[rows] < 0))
        meta = [c.name for c in self.columns]
        # A metadata column may be called x, y or keyword_bars: it keeps its name, ours get a prefix.
        own = [f"map_{n}" if n in meta else n for n in ("x", "y", "keyword_bars")]
        names = ["id", "prompt", *self.metrics, *meta, "split", *own]
        arrays = [pa.array(self.ids[rows], type=pa.string()), prompts,
                  *(pa.array(v[rows]) for v in self.metrics.values()),
                  *(_column_array(c, rows) for c in self.columns), split,
                  pa.array(xy[:, 0]), pa.array(xy[:, 1]), self._keyword_bars(prompts, bins)]
        return pa.record_batch(arrays, names=names)

    def _keyword_bars(self, prompts: pa.Array, bins: np.ndarray) -> pa.Array:
        out = np.full(len(bins), "", dtype=object)
        for j, kw in enumerate(self.keywords):
            has = np.asarray(pc.fill_null(pc.match_substring(prompts, kw["keyword"], ignore_case=True), False)
                             .to_numpy(zero_copy_only=False), dtype=bool)
            labels = np.asarray([f"{kw['keyword']}:{b}" for b in range(len(kw["bins"]))], dtype=object)
            out[has & (out != "")] += "; "
            out[has] += labels[bins[has, j]]
        return pa.array(out, type=pa.string())

    def chunks(self):
        for start in range(0, len(self.rows), CHUNK_ROWS):
            yield self.batch(self.rows[start:start + CHUNK_ROWS])

    def schema(self) -> pa.Schema:
        return self.batch(self.rows[:0]).schema

    def csv(self):
        from pyarrow import csv

        def text(batch: pa.RecordBatch, header: bool) -> bytes:
            sink = pa.BufferOutputStream()
            csv.write_csv(pa.Table.from_batches([batch]), sink, csv.WriteOptions(include_header=header))
            return sink.getvalue().to_pybytes()

        yield text(self.batch(self.rows[:0]), True)   # the header, even for an empty selection
        for batch in self.chunks():
            yield text(batch, False)

    def parquet(self):
        import pyarrow.parquet as pq

        drain = _Drain()
        writer = pq.ParquetWriter(drain, self.schema())
        for batch in self.chunks():
            writer.write_batch(batch)
            yield drain.take()
        writer.close()
        yield drain.take()


@bp.post("/export")
def export(dataset: str, metric: str):
    """The selection's items as a CSV or Parquet attachment, streamed in chunks."""
    reg = registry()
    built = reg.map(dataset, metric)
    fmt = parse_choice("format", request.args.get("format"), FORMATS, default="csv")
    body = json_body()
    rank = body_rank(body)
    raw_bars = _bar_list(body.get("bars"))
    with reg.selection_slots:
        rows = np.sort(selected_rows(reg, dataset, built, body, whole=None))
        keywords = sampled_keywords(reg, dataset, built, rows, rank)[1]["keywords"]
    bars = _parse_bars(raw_bars, keywords)
    exporter = Exporter(reg, dataset, built, rows, keywords, bars)
    log.info("export of %d items of %s/%s as %s", len(rows), dataset, metric, fmt)
    filename = f"{dataset}-{metric}-selection.{fmt}"
    return Response(exporter.csv() if fmt == "csv" else exporter.parquet(), mimetype=MIMETYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
