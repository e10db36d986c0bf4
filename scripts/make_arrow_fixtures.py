"""Write the Arrow IPC streams the frontend's reader is tested on (frontend/tests/fixtures/), by pyarrow:
the server's own point answer, and a stream of every other column type the reader accepts or refuses.

    .venv/bin/python scripts/make_arrow_fixtures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from dkmap.server.arrow import SCHEMA

OUT = Path(__file__).resolve().parents[1] / "frontend" / "tests" / "fixtures"


def stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches():
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = np.array([3, 0, 70000, 12], dtype=np.int32)
    ids = ["item-3", "é-0", "a" * 70, ""]
    x = np.array([0.1, 0.25, 1.0, 1e-8], dtype=np.float32)
    y = np.array([0.9, 0.5, 0.0, 0.333333], dtype=np.float32)
    value = np.array([1.5, np.nan, -3.25, 1e10], dtype=np.float32)
    points = pa.table([rows, ids, x, y, value], schema=SCHEMA.with_metadata({"dkmap": json.dumps({"returned": 4})}))
    (OUT / "points.arrow").write_bytes(stream(points))
    (OUT / "points.json").write_text(json.dumps({"row": rows.tolist(), "id": ids, "x": x.tolist(), "y": y.tolist(),
                                                 "value": [None if np.isnan(v) else float(v) for v in value]}))
    kinds = pa.table({"i8": pa.array([-1, 2, 127], pa.int8()), "u16": pa.array([65535, 0, 7], pa.uint16()),
                      "f64": pa.array([0.1, None, -2.0], pa.float64())})
    (OUT / "kinds.arrow").write_bytes(stream(kinds))
    (OUT / "empty.arrow").write_bytes(stream(pa.table({"a": pa.array([], pa.float32())})))
    (OUT / "nullint.arrow").write_bytes(stream(pa.table({"n": pa.array([1, None], pa.int32())})))
    (OUT / "int64.arrow").write_bytes(stream(pa.table({"big": pa.array([1], pa.int64())})))
    passes = [i % 3 != 1 for i in range(11)]  # 11 values: more than one byte of bits
    (OUT / "bool.arrow").write_bytes(stream(pa.table({"passes": pa.array(passes, pa.bool_()), "row": pa.array(range(11), pa.int32())})))


if __name__ == "__main__":
    main()
