"""Point columns as an Arrow IPC stream, for clients that send `Accept: application/vnd.apache.arrow.stream`.

One record batch: row int32, id utf8, x and y float32 (the stored positions, exactly), value float32
(the JSON's 10-digit value rounded to float32, which is what the view holds: JSON and Arrow decode
to identical arrays), and with `colour=<column>` a `colour` float64 column (the JSON's 10-digit value), with `filters` a
`passes` bool column. Every other field of the JSON answer travels as JSON text in the schema's
metadata under "dkmap", so the two formats carry the same answer. JSON stays the default.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from flask import Response, request

from dkmap.server import encode

ARROW_STREAM = "application/vnd.apache.arrow.stream"
METADATA_KEY = b"dkmap"
SCHEMA = pa.schema([("row", pa.int32()), ("id", pa.utf8()), ("x", pa.float32()), ("y", pa.float32()),
                    ("value", pa.float32())])


def wants_arrow() -> bool:
    """Whether the request prefers an Arrow stream over JSON (a bare */* gets JSON)."""
    return request.accept_mimetypes.best_match(["application/json", ARROW_STREAM]) == ARROW_STREAM


def id_array(ids: np.ndarray) -> pa.Array:
    """Every item's id as one Arrow utf8 array. pyarrow converts a large numpy str array in chunks
    (a ChunkedArray from some millions of ids on), which a record batch cannot hold: joined here."""
    array = pa.array(ids)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def printed_values(values: np.ndarray) -> np.ndarray:
    """The value column as sent: float32 of the JSON's 10-digit value (computed once per map by callers
    that send many points, since the rounding costs ~0.1 µs a value)."""
    return encode.as_printed(values).astype(np.float32)


def point_batch(ids: pa.Array, rows: np.ndarray, xy: np.ndarray, value: np.ndarray,
                colour: np.ndarray | None = None, passes: np.ndarray | None = None) -> pa.RecordBatch:
    """The point columns of `rows`; `ids` is every item's id as one Arrow array (taken, not copied per
    item); `value` the rows' values as `printed_values` gives them; `colour`, when given, the colouring
    column's values (float64, as the JSON's); `passes`, when given, whether each point passes the
    request's filters (bool)."""
    rows = np.asarray(rows, dtype=np.int64)
    xy = np.asarray(xy, dtype=np.float32)
    value = np.asarray(value, dtype=np.float32)
    columns = [pa.array(rows.astype(np.int32)), ids.take(pa.array(rows)),
               pa.array(xy[:, 0]), pa.array(xy[:, 1]), pa.array(value)]
    schema = SCHEMA
    if colour is not None:
        columns.append(pa.array(encode.as_printed(colour)))
        schema = schema.append(pa.field("colour", pa.float64()))
    if passes is not None:
        columns.append(pa.array(np.asarray(passes, dtype=bool)))
        schema = schema.append(pa.field("passes", pa.bool_()))
    return pa.record_batch(columns, schema=schema)


def stream_response(batch: pa.RecordBatch, fields: dict) -> Response:
    """The IPC stream of `batch`, with `fields` (the JSON answer's other fields) in the schema metadata."""
    schema = batch.schema.with_metadata({METADATA_KEY: json.dumps(fields, allow_nan=False, separators=(",", ":"))})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch.replace_schema_metadata(schema.metadata))
    return Response(sink.getvalue().to_pybytes(), mimetype=ARROW_STREAM, headers={"Vary": "Accept"})


def read_stream(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(fields, columns) of a stream made by `stream_response`: the inverse, for tests and scripts."""
    reader = pa.ipc.open_stream(data)
    table = reader.read_all()
    fields = json.loads(reader.schema.metadata[METADATA_KEY])
    return fields, {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
