"""One-line descriptions of operating-system errors (disk full, no permission) for the command line."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def mount_of(path: str | os.PathLike) -> tuple[str, str]:
    """(device, mount point) of the file system holding `path` (its nearest existing ancestor), from
    /proc/self/mountinfo; ('unknown device', the path) where that cannot be read."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    best = ("unknown device", str(probe))
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return best
    resolved, length = str(probe.resolve()), -1
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = fields[4].replace("\\040", " ")
        source = line.split(" - ", 1)[1].split()
        device = source[1] if len(source) > 1 else source[0]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= length:   # the last of equal mounts is the visible one
            best, length = (device, mount), len(mount)
    return best


def describe(exc: OSError, target: str | os.PathLike | None = None) -> str:
    """One line for `exc`; a full disk names its device and mount point and says nothing was replaced."""
    where = exc.filename or target
    # pyarrow's write errors are OSErrors that carry the reason only in their text
    if exc.errno == errno.ENOSPC or (exc.errno is None and "No space left on device" in str(exc)):
        device, mount = mount_of(where or ".")
        writing = f" while writing {'in ' if Path(where).is_dir() else ''}{where}" if where else ""
        return (f"no space left on {device} (mounted at {mount}){writing}: free some space and run the "
                "command again (what was there before is unchanged)")
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded while writing {where}: free some space and run the command again"
    reason = exc.strerror or str(exc)
    return f"{reason}: {where}" if where else reason
