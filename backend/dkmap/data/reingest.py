"""Re-ingest: which folders `dkmap ingest --out` may replace, and which builds of the old dataset
live on. Only an empty folder or a DKMap dataset (its dataset.yaml says so) is replaced; maps (with
the Faiss indexes inside them) whose inputs did not change are hard-linked into the new folder, the
rest are named before they are removed."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dkmap.atomic import read_json
from dkmap.data.store import DatasetError, dataset_meta, list_datasets

# What a dataset folder holds (data/README.md); anything else in it is named before it goes.
# `index` is where map format 1 kept the Faiss indexes (now inside each map): removed quietly.
DATASET_ENTRIES = {"dataset.yaml", "items.parquet", "items", "embeddings", "images", "maps", "index"}


def check_out_folder(out: Path) -> dict | None:
    """The old dataset.yaml when `out` is a dataset folder (to be replaced); None when `out` is
    absent or an empty folder; DatasetError naming the folder for anything else."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise DatasetError(f"--out {out}: is a file, not a dataset folder; ingest will not replace it")
    if not any(out.iterdir()):
        return None
    try:
        return dataset_meta(out)
    except DatasetError as exc:
        inside = [p.name for p in list_datasets(out)]
        hint = (f"; it holds the dataset folders {', '.join(inside)}: did you mean --out {out / 'NAME'}?"
                if inside else "; choose a new or empty folder")
        reason = "no dataset.yaml" if not (out / "dataset.yaml").exists() else f"its dataset.yaml is not one: {exc}"
        raise DatasetError(f"--out {out}: this folder is not a DKMap dataset ({reason}), so ingest will not "
                           f"replace or delete it{hint}") from None


@dataclass
class Carried:
    """What of the old dataset the new one keeps (hard-linked) and what is removed, with why."""

    kept_maps: list[str] = field(default_factory=list)
    removed_maps: dict[str, str] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def message(self, out: Path, name: str) -> str:
        """One paragraph saying what re-ingest keeps and removes, said before it does."""
        parts = [f"replacing dataset '{name}' at {out}"]
        if self.kept_maps:
            parts.append(f"keeping maps {', '.join(self.kept_maps)} (their inputs are unchanged)")
        gone = [f"map {m} ({why})" for m, why in self.removed_maps.items()]
        gone += [f"{name} (not part of a dataset)" for name in self.other]
        if gone:
            parts.append("removing " + ", ".join(gone))
        if self.removed_maps:
            parts.append("rebuild with: " + "; ".join(f"dkmap build {out} --metric {m}" for m in self.removed_maps))
        return "; ".join(parts)


def carry_over(old: Path, new: Path) -> Carried:
    """Hard-link into `new` the maps of `old` (their indexes with them) whose inputs `new` holds
    unchanged. A map's indexes depend on every generator's image embedding, not only its inputs."""
    from dkmap.builder.reuse import input_checksums, indexes_unchanged

    new_meta = dataset_meta(new)
    done = Carried(other=sorted(p.name for p in old.iterdir()
                                if p.name not in DATASET_ENTRIES and not p.name.startswith(".")))
    for folder in sorted(p for p in (old / "maps").glob("*") if p.is_dir() and not p.name.startswith(".")):
        metric = folder.name
        manifest = read_json(folder / "manifest.json")
        inputs = manifest.get("inputs")
        if metric not in new_meta["metrics"]:
            done.removed_maps[metric] = "the new table has no such metric"
        elif inputs is None:
            done.removed_maps[metric] = "incomplete or damaged"
        elif inputs != input_checksums(new, new_meta, metric):
            done.removed_maps[metric] = "its inputs changed"
        elif not indexes_unchanged(manifest, new, new_meta):
            done.removed_maps[metric] = "an image embedding its indexes are built from changed"
        else:
            _link_tree(folder, new / "maps" / metric)
            done.kept_maps.append(metric)
    return done


def _link(source: Path, target: Path) -> None:
    """Hard-link (files are never written in place, so sharing them is safe); copy across devices."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _link_tree(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, copy_function=lambda s, t: _link(Path(s), Path(t)))
