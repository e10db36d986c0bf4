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


def write_subsection(section: str, subsection: str, body: str, path: Path = BENCHMARKS) -> None:
    """Put `subsection` (a '### ' heading line) and `body` where it stood inside `section` (else at the
    section's end), leaving the rest of the section as it is."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    sec = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M).search(text)
    if sec is None:
        write_section(section, f"{subsection}\n{body}", path)
        return
    part = sec.group(0)
    block = f"{subsection}\n{body.rstrip()}\n\n"
    sub = re.compile(rf"^{re.escape(subsection)}\n.*?(?=^##|\Z)", re.S | re.M)
    part = sub.sub(lambda _: block, part) if sub.search(part) else part.rstrip() + "\n\n" + block
    path.write_text(text[:sec.start()] + part + text[sec.end():])
