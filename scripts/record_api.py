"""Record every API endpoint's answers over a data folder to JSON, or compare two recordings.

A refactoring that must not change behaviour is checked by recording before and after it on the
same built data (answers are compared exactly: status, content type and body):

    python scripts/record_api.py record --data DIR --out /tmp/api_before.json
    ... change the code ...
    python scripts/record_api.py record --data DIR --out /tmp/api_after.json
    python scripts/record_api.py compare /tmp/api_before.json /tmp/api_after.json [--allow PATH ...]

`--allow` names JSON paths (request key, then keys/indices joined by '/', '*' matching any one
step) whose differences are intended, e.g. an added field. The Flask test client is used, so no
server or port is needed; binary answers (images) are recorded by their SHA-256.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

POINT_QUERIES = [  # (z, bbox, sampling, limit)
    (0, "0,0,1,1", "bluenoise", None), (2, "0,0,1,1", "bluenoise", None), (3, "0.2,0.1,0.7,0.6", "random", None),
    (9, "0,0,1,1", "random", 50), (1, "0,0,1,1", "all", None), (0, "0.3,0.3,0.6,0.9", "all", 37),
    (4, "0.5,0.5,0.5,0.5", "bluenoise", None),
]
POLYGONS = [
    [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]],
    [[0.2, 0.3], [0.6, 0.2], [0.7, 0.7], [0.4, 0.5], [0.25, 0.8]],
    [[0.0, 0.0], [0.001, 0.0], [0.0, 0.001]],
]
DEEP_TILES_PER_LEVEL = 3  # tiles recorded per level past the first fully recorded ones


def record(data_dir: Path, out: Path, full_levels: int) -> None:
    """Answer every request of `requests_for(data_dir)` with a fresh app; write them to `out`."""
    from dkmap.server.app import create_app

    app = create_app({"DATA_DIR": str(data_dir), "FRONTEND_DIST": str(data_dir / "no-frontend")})
    client = app.test_client()
    answers: dict[str, dict] = {}
    for key, method, url, body in requests_for(client, data_dir, full_levels):
        response = client.open(url, method=method, json=body)
        answers[key] = answer_of(response)
    out.write_text(json.dumps(answers, indent=0, sort_keys=True, allow_nan=True))
    print(f"recorded {len(answers)} answers to {out}")


def answer_of(response) -> dict:
    kind = response.mimetype
    if kind == "application/json":
        body = json.loads(response.get_data(as_text=True))
    else:
        body = {"sha256": hashlib.sha256(response.get_data()).hexdigest(), "bytes": len(response.get_data())}
    return {"status": response.status_code, "type": kind, "body": body}


def requests_for(client, data_dir: Path, full_levels: int):
    """(key, method, url, json body) of every request recorded; derived from the data, seeded."""
    yield "datasets", "GET", "/api/datasets", None
    datasets = client.get("/api/datasets").get_json()["datasets"]
    for ds in datasets:
        name = ds["name"]
        yield from dataset_requests(client, ds)
        for metric in ds["metrics"]:
            yield from map_requests(client, name, metric, full_levels)
    yield from error_requests(datasets)


def dataset_requests(client, ds: dict):
    name, n = ds["name"], ds["n_items"]
    rng = np.random.default_rng(0)
    rows = sorted({0, n - 1, *rng.choice(n, size=min(n, 6), replace=False).tolist()})
    built = next((m["name"] for m in ds["metrics"] if m["built"]), None)
    ids = []
    if built:
        ids = client.post(f"/api/maps/{name}/{built}/points/rows", json={"rows": rows}).get_json()["points"]["id"]
    for item in ids:
        base = f"/api/datasets/{name}/items/{item}"
        yield f"item {name} {item}", "GET", base, None
        yield f"similar {name} {item}", "GET", base + "/similar", None
        for gen in ds["generators"]:
            yield f"similar {name} {item} {gen} k3", "GET", base + f"/similar?k=3&model={gen}", None
            yield f"image {name} {item} {gen}", "GET", base + f"/image?model={gen}", None
    spaces = ["image"] + ds["spaces"]
    for i, x in enumerate(spaces):
        for y in spaces[i + 1:]:
            if x == "image" and y.startswith("image_"):
                continue
            yield f"spec {name} {x} {y}", "GET", f"/api/datasets/{name}/compare/spec?x={x}&y={y}&k=4", None


def map_requests(client, name: str, metric: dict, full_levels: int):
    base = f"/api/maps/{name}/{metric['name']}"
    yield f"map {name} {metric['name']}", "GET", base, None
    if not metric["built"]:
        return
    info = client.get(base).get_json()
    rng = np.random.default_rng(1)
    for z in range(info["max_level"] + 1):
        n = 1 << z
        if z < full_levels:
            tiles = [(x, y) for y in range(n) for x in range(n)]
        else:
            tiles = sorted({(int(x), int(y)) for x, y in rng.integers(0, n, size=(DEEP_TILES_PER_LEVEL, 2))})
        for x, y in tiles:
            yield f"tile {name} {metric['name']} {z} {x} {y}", "GET", f"{base}/contour/{z}/{x}/{y}", None
    for z, bbox, sampling, limit in POINT_QUERIES:
        query = f"z={z}&bbox={bbox}&sampling={sampling}" + (f"&limit={limit}" if limit else "")
        yield f"points {name} {metric['name']} {query}", "GET", f"{base}/points?{query}", None
    rows = rng.choice(info["n_items"], size=min(50, info["n_items"]), replace=False).tolist()
    yield f"rows {name} {metric['name']}", "POST", f"{base}/points/rows", {"rows": rows}
    for i, polygon in enumerate(POLYGONS):
        yield f"selection {name} {metric['name']} polygon{i}", "POST", f"{base}/selection", {"polygon": polygon}
        body = {"polygon": polygon, "offset": 3, "limit": 25}
        yield f"selection-ids {name} {metric['name']} polygon{i}", "POST", f"{base}/selection/ids", body
    ids = client.post(f"{base}/points/rows", json={"rows": rows[:5]}).get_json()["points"]["id"]
    yield f"selection {name} {metric['name']} ids", "POST", f"{base}/selection", {"ids": ids}
    yield f"selection-ids {name} {metric['name']} ids", "POST", f"{base}/selection/ids", {"ids": ids}


def error_requests(datasets: list[dict]):
    """Requests that must fail, with the message and status they fail with."""
    yield "err unknown dataset", "GET", "/api/maps/nope/clip", None
    yield "err unknown dataset item", "GET", "/api/datasets/nope/items/x", None
    yield "err no endpoint", "GET", "/api/nothing", None
    yield "err method", "DELETE", "/api/datasets", None
    for ds in datasets:
        name = ds["name"]
        metric = next(m["name"] for m in ds["metrics"] if m["built"])
        base = f"/api/maps/{name}/{metric}"
        yield f"err {name} unknown metric", "GET", f"/api/maps/{name}/nope", None
        for m in ds["metrics"]:
            if not m["built"]:
                yield f"err {name} unbuilt {m['name']}", "GET", f"/api/maps/{name}/{m['name']}/points", None
        for bad in ("99/0/0", "0/1/0", "a/0/0", "-1/0/0"):
            yield f"err {name} tile {bad}", "GET", f"{base}/contour/{bad}", None
        for query in ("z=-1", "bbox=0,0,1", "sampling=blue", "limit=0", "bbox=1,1,0,0"):
            yield f"err {name} points {query}", "GET", f"{base}/points?{query}", None
        for label, body in (("rows empty", {"rows": []}), ("rows out", {"rows": [ds["n_items"]]}),
                            ("rows missing", {})):
            yield f"err {name} {label}", "POST", f"{base}/points/rows", body
        for label, body in (("both", {"polygon": POLYGONS[0], "ids": ["x"]}), ("neither", {}),
                            ("short polygon", {"polygon": [[0, 0], [1, 1]]}), ("unknown id", {"ids": ["nope"]})):
            yield f"err {name} selection {label}", "POST", f"{base}/selection", body
        yield f"err {name} unknown item", "GET", f"/api/datasets/{name}/items/nope", None
        item = f"/api/datasets/{name}/items/nope"
        yield f"err {name} unknown item similar", "GET", item + "/similar", None
        yield f"err {name} spec same", "GET", f"/api/datasets/{name}/compare/spec?x=text&y=text", None
        yield f"err {name} spec missing", "GET", f"/api/datasets/{name}/compare/spec?x=text", None
        yield f"err {name} spec bad", "GET", f"/api/datasets/{name}/compare/spec?x=text&y=nope", None


# ---- comparison ------------------------------------------------------------------------------------
def differences(a, b, path: str = ""):
    """(path, before, after) for every leaf that differs (floats exactly, NaN equal to NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            sub = f"{path}/{k}" if path else str(k)
            if k not in a or k not in b:
                yield sub, a.get(k, "<absent>"), b.get(k, "<absent>")
            else:
                yield from differences(a[k], b[k], sub)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path} (length)", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}/{i}")
    elif not (a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)) \
            or type(a) is not type(b):
        yield path, a, b


def compare(before: Path, after: Path, allow: list[str], show: int) -> int:
    """Print the differences; 0 when there are none outside `allow`, 1 otherwise."""
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    unexpected, allowed = [], []
    for path, x, y in differences(a, b):
        (allowed if any(fnmatch.fnmatchcase(path, p) for p in allow) else unexpected).append((path, x, y))
    print(f"{len(a)} answers before, {len(b)} after; {len(allowed)} allowed and {len(unexpected)} "
          f"unexpected differences")
    for label, diffs in (("allowed", allowed), ("UNEXPECTED", unexpected)):
        for path, x, y in diffs[:show]:
            print(f"  {label}: {path}: {json.dumps(x)[:120]} -> {json.dumps(y)[:120]}")
        if len(diffs) > show:
            print(f"  ... {len(diffs) - show} more {label}")
    return 1 if unexpected else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record every endpoint's answers over --data")
    rec.add_argument("--data", type=Path, required=True, help="a DATA_DIR of built dataset folders")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--full-levels", type=int, default=3, help="levels whose every tile is recorded")
    cmp = sub.add_parser("compare", help="compare two recordings; exit 1 on an unexpected difference")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--allow", action="append", default=[], help="path pattern of an intended difference")
    cmp.add_argument("--show", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.data, args.out, args.full_levels)
        return 0
    return compare(args.before, args.after, args.allow, args.show)


if __name__ == "__main__":
    sys.exit(main())
