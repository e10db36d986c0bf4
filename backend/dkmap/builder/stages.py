"""Times each build stage and samples the process's peak resident memory while it runs; the
summary a build prints."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)


class Stages:
    """`with stages("fit"): ...` records {seconds, peak_rss_mb} of the block under timings["fit"]."""

    def __init__(self, progress: bool):
        self.timings: dict[str, dict] = {}
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, name: str):
        peak = [_rss_mb()]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                peak[0] = max(peak[0], _rss_mb())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        started = time.perf_counter()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            peak[0] = max(peak[0], _rss_mb())
            self.timings[name] = {"seconds": round(time.perf_counter() - started, 3),
                                  "peak_rss_mb": round(peak[0], 1)}
            log.info("stage %s: %.1fs, peak RSS %.0f MB", name, self.timings[name]["seconds"], peak[0])


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(name: str, metric: str, manifest: dict) -> str:
    """What a finished build prints: size, levels, α per level, stage timings, indexes."""
    lines = [f"map {name}/{metric}: {manifest['n_items']} items, levels 0..{manifest['max_level']} "
             f"(stored {len(manifest['precomputed_levels'])}), colour domain "
             f"[{manifest['colour_domain'][0]:.4g}, {manifest['colour_domain'][1]:.4g}]",
             "  α per level: " + ", ".join(f"{lv['z']}:{lv['alpha']:.4g}{'' if lv['accepted'] else '*'}"
                                           for lv in manifest["levels"])
             + f"  (refinement stopped at {manifest['refinement_stopped_at']})"]
    for stage, t in manifest["timings"].items():
        lines.append(f"  {stage:<12} {t['seconds']:8.1f} s   peak RSS {t['peak_rss_mb']:8.0f} MB")
    for space, entry in manifest["indexes"].items():
        breadth = "" if entry.get("nprobe") is None else f" nprobe {entry['nprobe']}"
        lines.append(f"  index {space}: {entry['kind']}{breadth} recall@10 {entry['recall_at_10']:.3f}")
    return "\n".join(lines)


def report(text: str, progress: bool) -> None:
    log.info("%s", text)
    if progress:
        print(text, file=sys.stderr)
