"""What a trainer starts from: ``tai-lab init DIR`` and ``tai-lab interventions --export``.

The starting scenario is the standard plateau commented in French
(``scenarios/modele/`` in the project, shipped in the package), with an empty directory
for the centre's own interventions. Nothing is overwritten: an existing file stops the
command before anything is written.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from . import paths
from .errors import LabStateError

STARTER = "modele"
SCENARIO_FILE = "plateau.yaml"


def _starter_files() -> list[tuple[Path, Path]]:
    root = paths.data_dir("scenarios") / STARTER
    return [(f, f.relative_to(root)) for f in sorted(root.rglob("*")) if f.is_file()]


def init(directory: str | Path) -> list[Path]:
    """Write the starting scenario into ``directory`` (created if needed); return the files written."""
    target = Path(directory)
    files = _starter_files()
    clash = [target / rel for _src, rel in files if (target / rel).exists()]
    if clash:
        raise LabStateError(f"{clash[0]} already exists: nothing was written",
                            "choose an empty directory (tai-lab init NEW-DIR), or move your files away")
    written = []
    for src, rel in files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target / rel)
        written.append(target / rel)
    return written


def export_intervention(iid: str, directory: str | Path, *, catalogue=None) -> Path:
    """Copy the file of intervention ``iid`` of the catalogue into ``directory`` (a scenario's
    ``interventions_dir``), to be changed there; it replaces the catalogue's entry and keeps
    the catalogue's playbook (which includes shared tasks) until one is written beside it."""
    from .interventions.catalogue import load_catalogue
    cat = catalogue or load_catalogue()
    cat.get(iid)
    dest = Path(directory) / f"{iid}.yaml"
    if dest.exists():
        raise LabStateError(f"{dest} already exists: nothing was written", "remove it first, or edit it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cat.source(iid), dest)
    return dest
