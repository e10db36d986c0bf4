"""`POST /api/maps/<dataset>/<metric>/place`: where a new prompt and/or image (or given embeddings)
lands on this map, the map's estimate there, the pair's own metric, and the nearest items.

The body is JSON `{"prompt", "features", "k"}`, or multipart/form-data with the same fields (features
as JSON text) and image files: `image` (by the map's first model) or `image_<model>`. Images are
decoded in memory and never stored.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, jsonify, request

from dkmap.search.encoders import TEXT_SPACE, EncoderUnavailable, dataset_encoder
from dkmap.search.images import MAX_IMAGE_BYTES, ImageError, decode_image
from dkmap.search.place import DEFAULT_NEIGHBOURS, MAX_NEIGHBOURS, Pair, PlaceError, check_features, place
from dkmap.search.prompts import PromptError
from dkmap.server.errors import error_response
from dkmap.server.registry import registry
from dkmap.server.validation import bad_request, body_int, json_body

log = logging.getLogger(__name__)

bp = Blueprint("place", __name__, url_prefix="/api/maps/<dataset>/<metric>")

# The body may carry images; waitress refuses more than 1 MiB before Flask sees it.
MAX_BODY_BYTES = 1 << 20


class _NoEncoder:
    """Stands for "this dataset has no encoder" in the load-once cache (which cannot hold None)."""

    def __init__(self, error: EncoderUnavailable):
        self.error = error


def _encoder(reg, dataset: str):
    ds = reg.dataset(dataset)

    def load():
        try:
            return dataset_encoder(ds)
        except EncoderUnavailable as exc:
            return _NoEncoder(exc)

    enc = reg.once(("encoder", dataset), load)
    if isinstance(enc, _NoEncoder):
        raise enc.error
    return enc


def _fields() -> tuple[dict, dict]:
    """(fields, files) of the body: JSON, or a multipart form (its `features` parsed from JSON)."""
    if request.mimetype == "multipart/form-data":
        fields = {k: v for k, v in request.form.items()}
        if "features" in fields:
            try:
                fields["features"] = json.loads(fields["features"])
            except ValueError:
                bad_request("field 'features' must be JSON: {space: [numbers]}")
        if "k" in fields:
            try:
                fields["k"] = int(fields["k"])
            except ValueError:
                bad_request(f"field 'k' must be an integer in 1..{MAX_NEIGHBOURS}, got {fields['k']!r}")
        return fields, {k: f for k, f in request.files.items()}
    return json_body(), {}


def _image_fields(files: dict, generators: list[str], map_generators: list[str]) -> dict[str, bytes]:
    """{generator: bytes} of the uploaded images (`image` is the map's first model's)."""
    out = {}
    for name, upload in files.items():
        if name == "image":
            gen = map_generators[0]
        elif name.startswith("image_") and name[6:] in generators:
            gen = name[6:]
        else:
            bad_request(f"unknown file field '{name}' (give 'image' or image_<model> for "
                        f"{', '.join(generators)})")
        try:
            data = upload.read(MAX_IMAGE_BYTES + 1)
        finally:
            upload.close()   # a large part is spooled to a temporary file: close it now, not at gc
        if gen in out:
            bad_request(f"two images given for model '{gen}'")
        out[gen] = (name, data)
    return out


@bp.post("/place")
def place_pair(dataset: str, metric: str):
    reg = registry()
    ds = reg.dataset(dataset)
    built = reg.map(dataset, metric)
    info = ds.metrics[metric]
    fields, files = _fields()
    unknown = sorted(set(fields) - {"prompt", "features", "k"})
    if unknown:
        bad_request(f"unknown field '{unknown[0]}' (allowed: prompt, features, k, and image files)")
    k = body_int(fields, "k", 1, MAX_NEIGHBOURS, DEFAULT_NEIGHBOURS)
    images = _image_fields(files, ds.generators, info["generators"])
    prompt = fields.get("prompt")
    if prompt is None and not images and "features" not in fields:
        bad_request("give 'prompt', an image, or 'features' ({space: [numbers]})")

    pair = Pair()
    try:
        if "features" in fields:
            dims = {s: int(ds.embedding(s).shape[1]) for s in ds.spaces}
            pair.vectors.update(check_features(fields["features"], dims))
        if prompt is not None or images:
            encoder = _encoder(reg, dataset)
            if prompt is not None:
                if TEXT_SPACE in pair.vectors:
                    bad_request("give either 'prompt' or features['text'], not both")
                pair.vectors[TEXT_SPACE], embedded = encoder.encode_prompt(prompt)
                if embedded.truncated:
                    pair.warnings.append(embedded.warning())
            for gen, (name, data) in images.items():
                space = f"image_{gen}"
                if space in pair.vectors:
                    bad_request(f"give either the image '{name}' or features['{space}'], not both")
                pair.vectors[space] = encoder.encode_image(decode_image(data, name))
        answer = place(built, ds, metric, pair, k)
    except EncoderUnavailable as exc:
        return error_response(409, str(exc))
    except (PlaceError, PromptError, ImageError) as exc:
        bad_request(str(exc))
    answer["extra_spaces"] = sorted(set(pair.vectors) - set(answer["spaces"]))
    return jsonify(answer)
