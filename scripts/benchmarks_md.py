"""Replaces one `## ` section of BENCHMARKS.md in place (or appends it), for the benchmark scripts."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(section: str, body: str, path: Path = BENCHMARKS) -> None:
    """Put `section` (a '## ' heading line) followed by `body` where that section stood, else at the end."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"{section}\n{body.rstrip()}\n\n"
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.write_text(text)
