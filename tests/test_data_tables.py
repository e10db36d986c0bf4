"""dkmap.data.tables and ingest over the layouts people have: image bytes in Parquet/Arrow, the
Hugging Face Image struct, shards (repeated --table, globs), a save_to_disk folder, JSONL with paths,
several metrics with units and directions; and a preference-set-shaped table (from a DataFrame, and from
Hugging Face-style Parquet shards through the CLI) built and served end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from dkmap.cli import main
from dkmap.data.ingest import IngestOptions, MetricSpec, ingest, parse_metric
from dkmap.data.store import DatasetError, open_dataset
from dkmap.data.tables import image_payloads, read_table
from helpers.preference import png, preference_table
from helpers.rawdata import make_raw


def byte_table(n: int = 8, d: int = 8, seed: int = 1):
    rng = np.random.default_rng(seed)
    images = [png((40 * i % 255, 100, 200), i) for i in range(n)]
    table = pd.DataFrame({"id": [f"b{i}" for i in range(n)], "prompt": [f"prompt number {i}" for i in range(n)],
                          "image": images, "hps": rng.normal(size=n), "aesthetic": rng.normal(size=n)})
    return table, images, rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, d)).astype(np.float32)


def save_npy(tmp_path, text, image):
    np.save(tmp_path / "t.npy", text)
    np.save(tmp_path / "v.npy", image)
    return tmp_path / "t.npy", tmp_path / "v.npy"


def stored_bytes(ds, generator="main") -> list[bytes]:
    return [ds.image_path(r, generator).read_bytes() for r in range(ds.n)]


def test_parquet_with_image_bytes_needs_no_images_folder(tmp_path):
    table, images, text, image = byte_table()
    table.to_parquet(tmp_path / "items.parquet", index=False)
    t, v = save_npy(tmp_path, text, image)
    ds = ingest(IngestOptions(table=tmp_path / "items.parquet", images=None, out=tmp_path / "ds", text_emb=t,
                              image_emb=v, metrics=["hps:HPS v2:higher", "aesthetic::lower"], progress=False))
    assert stored_bytes(ds) == images
    assert list(ds.items["image_main"]) == [f"main/b{i}.png" for i in range(8)]
    assert ds.metrics["hps"]["unit"] == "HPS v2" and ds.metrics["hps"]["better"] == "higher"
    assert ds.metrics["aesthetic"]["better"] == "lower"
    np.testing.assert_allclose(ds.metric("aesthetic"), table["aesthetic"])


def test_hugging_face_image_structs_sharded_by_glob_and_repeated_table(tmp_path):
    table, images, text, image = byte_table(n=9)
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for k, part in enumerate((table.iloc[:4], table.iloc[4:])):
        arrow = pa.table({"id": part["id"], "prompt": part["prompt"], "hps": part["hps"],
                          "image": pa.array([{"bytes": b, "path": f"orig/{i}.png"} for i, b in
                                             zip(part["id"], part["image"])], type=struct)})
        pq.write_table(arrow, tmp_path / f"train-{k:05d}-of-00002.parquet")
    t, v = save_npy(tmp_path, text, image)
    code = main(["-q", "ingest", "--table", str(tmp_path / "train-*.parquet"), "--text-emb", str(t),
                 "--image-emb", str(v), "--metric", "hps", "--out", str(tmp_path / "globbed")])
    assert code == 0
    ds = open_dataset(tmp_path / "globbed")
    assert list(ds.ids) == list(table["id"]) and stored_bytes(ds) == images
    code = main(["-q", "ingest", "--table", str(tmp_path / "train-00000-of-00002.parquet"), "--table",
                 str(tmp_path / "train-00001-of-00002.parquet"), "--text-emb", str(t), "--image-emb", str(v),
                 "--metric", "hps", "--out", str(tmp_path / "listed")])
    assert code == 0
    again = open_dataset(tmp_path / "listed")
    pd.testing.assert_frame_equal(again.items, ds.items)


def test_save_to_disk_folder_is_read_from_its_arrow_stream_files(tmp_path):
    """The layout datasets' Dataset.save_to_disk writes: Arrow *stream* files listed in state.json."""
    table, images, text, image = byte_table(n=6)
    folder = tmp_path / "saved"
    folder.mkdir()
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    names = []
    for k, part in enumerate((table.iloc[:3], table.iloc[3:])):
        arrow = pa.table({"id": part["id"], "prompt": part["prompt"],
                          "image": pa.array([{"bytes": b, "path": None} for b in part["image"]], type=struct)})
        name = f"data-{k:05d}-of-00002.arrow"
        with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, arrow.schema) as writer:
            writer.write_table(arrow)
        names.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": names, "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))
    frame = read_table(folder)
    assert list(frame["id"]) == list(table["id"])
    assert image_payloads(frame["image"]) == images
    t, v = save_npy(tmp_path, text, image)
    ds = ingest(IngestOptions(table=folder, images=None, out=tmp_path / "ds", text_emb=t, image_emb=v,
                              progress=False))
    assert stored_bytes(ds) == images
    (tmp_path / "dict").mkdir()
    (tmp_path / "dict" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    with pytest.raises(DatasetError, match=r"DatasetDict; give one split's folder, e.g. .*dict/train"):
        read_table(tmp_path / "dict")


def test_jsonl_with_paths_and_several_metrics(tmp_path):
    raw = make_raw(tmp_path, fmt="jsonl", with_metric=True)
    frame = raw["frame"].assign(pick=np.arange(6, dtype=float))
    frame.to_json(tmp_path / "items.jsonl", orient="records", lines=True)
    ds = ingest(IngestOptions(table=tmp_path / "items.jsonl", images=raw["images"], out=tmp_path / "ds",
                              text_emb=raw["text_path"], image_emb=raw["image_path"], progress=False,
                              metrics=["clipscore", MetricSpec("hps", "HPS", "higher"), "pick:logit:lower"]))
    assert set(ds.metrics) == {"clipscore", "hps", "pick"}
    assert ds.metrics["clipscore"]["unit"] == "100·cos" and ds.metrics["pick"]["unit"] == "logit"
    assert [ds.metrics[m]["better"] for m in ("clipscore", "hps", "pick")] == ["higher", "higher", "lower"]
    np.testing.assert_allclose(ds.metric("pick"), np.arange(6))
    assert ds.image_path(1, "main").read_bytes() == (raw["images"] / frame["image"][1]).read_bytes()


@pytest.mark.parametrize("text, message", [
    ("hps:u:sideways", "better must be one of"),
    ("a:b:c:d", "expected NAME"),
    (":u", "non-empty"),
])
def test_bad_metric_specs_are_named(text, message):
    with pytest.raises(DatasetError, match=message):
        parse_metric(text)


def test_bad_image_cells_and_missing_folder_are_refused(tmp_path):
    table, images, text, image = byte_table(n=4)
    t, v = save_npy(tmp_path, text, image)
    full, table = table, table.drop(columns=["hps", "aesthetic"])
    broken = table.assign(image=[images[0], b"not an image", images[2], images[3]])
    with pytest.raises(DatasetError, match=r"cannot be read as images: row 1 \(bytes\)"):
        ingest(IngestOptions(table=broken, images=None, out=tmp_path / "x", text_emb=t, image_emb=v, progress=False))
    paths = table.assign(image=["a.png"] * 4)
    with pytest.raises(DatasetError, match="holds paths .* give the folder"):
        ingest(IngestOptions(table=paths, images=None, out=tmp_path / "x", text_emb=t, image_emb=v, progress=False))
    numbers = table.assign(image=[1, 2, 3, 4])
    with pytest.raises(DatasetError, match="column 'image' at row 0 is int"):
        ingest(IngestOptions(table=numbers, images=None, out=tmp_path / "x", text_emb=t, image_emb=v, progress=False))
    full.iloc[:2].drop(columns=["aesthetic"]).to_parquet(tmp_path / "p0.parquet")
    full.iloc[2:].to_parquet(tmp_path / "p1.parquet")
    with pytest.raises(DatasetError, match="p1.parquet: its columns .* differ"):
        read_table([tmp_path / "p0.parquet", tmp_path / "p1.parquet"])
    with pytest.raises(DatasetError, match="matches no file"):
        read_table(str(tmp_path / "none-*.parquet"))
    assert not (tmp_path / "x").exists()


PREFERENCE_METRICS = ["hpsv2:HPS v2:higher", "pickscore:PickScore:higher", "imagereward:ImageReward:higher",
                      "rank::lower"]
FAST_BUILD = {"epochs": 2, "tile_size": 32, "max_grid": 64, "max_level": 2}


def with_image_reward(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(imagereward=np.round(2 * table["hpsv2"] - table["pickscore"] / 20, 6))


def check_preference_set_served(data_dir, table: pd.DataFrame, metric: str = "pickscore_diff") -> None:
    """The built preference set over HTTP: its metrics with units and directions, an item's values and
    both of its images (the very bytes of the table), and a whole-map lasso."""
    from helpers.api_server import start_server

    running, server = start_server(data_dir)
    try:
        listed = requests.get(running.url + "/api/datasets", timeout=30).json()["datasets"]
        prefs = next(d for d in listed if d["name"] == "prefs")
        by_name = {m["name"]: m for m in prefs["metrics"]}
        assert by_name["rank_left"]["better"] == "lower" and by_name[metric]["built"]
        assert by_name["hpsv2_right"]["unit"] == "HPS v2" and by_name["hpsv2_right"]["better"] == "higher"
        if "imagereward" in table:
            assert by_name["imagereward_diff"]["unit"] == "ImageReward"
            assert by_name["imagereward_left"]["better"] == "higher"
        row = 7
        item_id = table["id"][2 * row]
        item = requests.get(f"{running.url}/api/datasets/prefs/items/{item_id}", timeout=30).json()
        assert item["prompt"] == table["prompt"][2 * row]
        expected = table["pickscore"][2 * row + 1] - table["pickscore"][2 * row]
        assert item["metrics"]["pickscore_diff"] == pytest.approx(expected)
        for k, side in enumerate(("left", "right")):
            res = requests.get(f"{running.url}/api/datasets/prefs/items/{item_id}/image?model={side}", timeout=30)
            assert res.status_code == 200 and res.headers["Content-Type"] == "image/png"
            assert res.content == table["image"][2 * row + k]["bytes"]
        lasso = requests.post(f"{running.url}/api/maps/prefs/{metric}/selection", timeout=60,
                              json={"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}).json()
        assert lasso["count"] == len(table) // 2
    finally:
        server.close()


def test_preference_set_ingested_built_and_served(tmp_path):
    from dkmap.api import build

    table, text, image = preference_table()
    out = tmp_path / "data" / "prefs"
    ds = ingest(IngestOptions(table=table, images=None, out=out, text_emb=text, image_emb=image,
                              metrics=PREFERENCE_METRICS[:2] + PREFERENCE_METRICS[3:], progress=False))
    assert ds.generators == ["left", "right"] and ds.n == 120
    assert {"hpsv2_diff", "pickscore_left", "rank_diff"} <= set(ds.metrics)
    built = build(out, "pickscore_diff", settings=FAST_BUILD, progress=False)
    assert built.n_items == 120
    check_preference_set_served(tmp_path / "data", table)


def write_hf_parquet_shards(table: pd.DataFrame, folder, n_shards: int = 2) -> None:
    """`table` as the Parquet shards a Hugging Face dataset repo holds: train-0000k-of-0000n.parquet,
    the image column in the `Image` feature's layout with the features in the schema metadata."""
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    features = {c: {"dtype": "float64" if table[c].dtype.kind == "f" else "string", "_type": "Value"}
                for c in table.columns if c != "image"}
    features["image"] = {"_type": "Image"}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    folder.mkdir(parents=True)
    for k, part in enumerate(np.array_split(np.arange(len(table)), n_shards)):
        rows = table.iloc[part]
        columns = {c: pa.array(rows[c].tolist(), type=struct if c == "image" else None) for c in table.columns}
        pq.write_table(pa.table(columns).replace_schema_metadata(metadata),
                       folder / f"train-{k:05d}-of-{n_shards:05d}.parquet")


def test_preference_set_shards_ingested_by_the_cli_built_and_served(tmp_path):
    """The public preference-set shape from disk: two Parquet shards given as one glob, images as bytes
    in the HF Image struct, a preference label and four score columns each with its unit and direction."""
    from dkmap.api import build

    table, text, image = preference_table(n_prompts=60, seed=3)
    table = with_image_reward(table)
    write_hf_parquet_shards(table, tmp_path / "hub")
    assert pq.read_table(tmp_path / "hub" / "train-00001-of-00002.parquet").schema.field("image").type.num_fields == 2
    t, v = save_npy(tmp_path, text, image)
    out = tmp_path / "data" / "prefs"
    args = ["-q", "ingest", "--table", str(tmp_path / "hub" / "train-*-of-00002.parquet"), "--text-emb", str(t),
            "--image-emb", str(v), "--out", str(out), "--description", "a preference set from its Parquet shards"]
    for spec in PREFERENCE_METRICS:
        args += ["--metric", spec]
    assert main(args) == 0
    ds = open_dataset(out)
    assert ds.n == 60 and ds.generators == ["left", "right"]
    assert {f"{m}_{s}" for m in ("hpsv2", "pickscore", "imagereward", "rank") for s in ("left", "right", "diff")} \
        <= set(ds.metrics)
    assert ds.metrics["imagereward_right"]["unit"] == "ImageReward" and ds.metrics["rank_diff"]["better"] == "lower"
    np.testing.assert_allclose(ds.metric("imagereward_left"), table["imagereward"][::2])
    assert [ds.image_path(r, "right").read_bytes() for r in range(ds.n)] == [c["bytes"] for c in table["image"][1::2]]
    build(out, "pickscore_diff", settings=FAST_BUILD, progress=False)
    check_preference_set_served(tmp_path / "data", table)
