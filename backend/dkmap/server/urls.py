"""URLs the API hands to the client (built here so the client never composes file paths)."""

from __future__ import annotations

from urllib.parse import quote


def image_url(dataset: str, item_id: str, generator: str) -> str:
    """The image endpoint of one item and generator."""
    return (f"/api/datasets/{quote(dataset, safe='')}/items/{quote(str(item_id), safe='')}"
            f"/image?model={quote(generator, safe='')}")
