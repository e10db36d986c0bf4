"""Locks that keep two commands from writing the same dataset or map at once (flock on a lock file).

A build holds its map's lock exclusively and its dataset's lock shared; an ingest holds the
dataset's lock exclusively. The second command refuses at once, naming the holder (its pid, command
and start time, written into the lock file by whoever holds it exclusively). Locks vanish with
their process, so a crashed command never leaves one behind (only, at worst, its small file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator


POLL_S = 0.2   # how often a waiting command tries the lock again


class LockedError(RuntimeError):
    """Another command holds the lock; the message names it."""


def dataset_lock_path(dataset_dir: str | os.PathLike) -> Path:
    """The lock file of a dataset folder: beside it, since re-ingest replaces the folder whole."""
    root = Path(dataset_dir).resolve()
    return root.parent / f".{root.name}.lock"


def map_lock_path(dataset_dir: str | os.PathLike, metric: str) -> Path:
    """The lock file of the map DATASET/maps/<metric>/."""
    return Path(dataset_dir).resolve() / "maps" / f".{metric}.lock"


def holder_of(path: Path) -> str:
    """What the lock file says about its holder ('another dkmap command' if it says nothing)."""
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return text or "another dkmap command"


def is_held(path: Path) -> bool:
    """Whether some process holds the lock at `path` (shared or exclusive)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def hold(path: str | os.PathLike, what: str, shared: bool = False, wait_s: float | None = 0) -> Iterator[None]:
    """Hold the lock at `path` while the block runs; LockedError naming the holder if it is still
    taken after `wait_s` seconds (0: at once; None: wait as long as it takes).

    `what` names the locked thing in the message ("map tiny/clip_a"). A shared holder leaves the
    file's text alone; an exclusive one writes its pid, command line, host and start time into it.
    The last holder to leave removes the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _locked_fd(path, what, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, wait_s)
    try:
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, describe_self().encode(), 0)
        yield
    finally:
        try:
            # The last holder removes the file (while holding it exclusively, so nobody else has it).
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)   # releases the lock


def _locked_fd(path: Path, what: str, mode: int, wait_s: float | None) -> int:
    """An open descriptor of `path` locked in `mode`, polled for up to `wait_s` seconds; retried when
    the file was removed meanwhile (by its last holder leaving), so two commands never lock two
    different files of one name."""
    deadline = None if wait_s is None else time.monotonic() + max(0.0, wait_s)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode | (0 if deadline is None else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
                continue
            waited = f" (after waiting {wait_s:g} s)" if wait_s else ""
            raise LockedError(f"{what} is in use by {holder_of(path)}{waited}; wait for it to finish and run "
                              "the command again, or give --wait SECONDS") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def describe_self() -> str:
    """This process as a lock holder: pid, command, host and start time."""
    argv = list(sys.argv) or ["python"]
    program = {"dkmap": "dkmap", "cli.py": "dkmap", "-c": "python -c"}.get(Path(argv[0]).name, Path(argv[0]).name)
    command = " ".join([program, *argv[1:]])
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} on {socket.gethostname()} ('{command}', started {started})"


def running_builds(dataset_dir: str | os.PathLike) -> list[str]:
    """Holders of the dataset's map locks that are held now (the builds running on it)."""
    maps = Path(dataset_dir).resolve() / "maps"
    if not maps.is_dir():
        return []
    return [f"map {p.name[1:-len('.lock')]}: {holder_of(p)}" for p in sorted(maps.glob(".*.lock")) if is_held(p)]


@contextlib.contextmanager
def building(dataset_dir: str | os.PathLike, name: str, metric: str, wait_s: float | None = 0) -> Iterator[None]:
    """The locks a build of map `metric` holds: its map's exclusively, its dataset's shared (each
    waited for up to `wait_s` seconds)."""
    with hold(dataset_lock_path(dataset_dir), f"dataset '{name}'", shared=True, wait_s=wait_s):
        with hold(map_lock_path(dataset_dir, metric), f"map {name}/{metric}", wait_s=wait_s):
            yield


@contextlib.contextmanager
def ingesting(dataset_dir: str | os.PathLike, wait_s: float | None = 0) -> Iterator[None]:
    """The lock an ingest into `dataset_dir` holds: the dataset's, exclusively (no build may run),
    waited for up to `wait_s` seconds."""
    folder = Path(dataset_dir).resolve()
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(hold(dataset_lock_path(folder), f"dataset folder {folder}", wait_s=wait_s))
    except LockedError:
        builds = running_builds(folder)
        if not builds:
            raise
        raise LockedError(f"dataset folder {folder} is in use by a running build ({'; '.join(builds)}); "
                          "wait for it to finish and run the command again, or give --wait SECONDS") from None
    with stack:
        yield
