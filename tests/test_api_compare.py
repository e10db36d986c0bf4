"""API: the SPEC endpoint returns dkmap.compare.spec's result on the stored spaces, with prompts."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.api_server import error_of
from helpers.tiny import DATASET
from dkmap.compare.spec import spec
from dkmap.data.store import open_dataset


def test_spec_matches_the_library_on_the_stored_spaces(client, tiny_data_dir):
    ds = open_dataset(tiny_data_dir / DATASET)
    body = client.get(f"/api/datasets/{DATASET}/compare/spec",
                      query_string={"x": "text", "y": "image", "k": 3}).get_json()
    assert body["x"] == "text" and body["y"] == "image_a"
    expected = spec(ds.embedding("text"), ds.embedding("image_a"), k=3)
    assert body["spec_diff"] == pytest.approx(expected.spec_diff, rel=1e-9)
    assert len(body["clusters"]) == 3
    for got, want in zip(body["clusters"], expected.clusters):
        assert got["eigenvalue"] == pytest.approx(want.eigenvalue, rel=1e-9)
        assert got["side"] == want.side
        assert got["rows"] == want.rows.tolist()
        assert got["ids"] == [str(ds.ids[r]) for r in want.rows]
        assert got["size"] == len(want.rows)
        np.testing.assert_allclose(got["weights"], want.weights, rtol=1e-9)
        assert got["sample_prompts"] == [ds.prompts[r] for r in want.rows[:5]]
