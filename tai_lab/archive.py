"""Archives of labs taken down: the candidates' evidence outlives the plateau.

``tai-lab down`` removes the lab's directory only after copying what the jury's record
needs into ``<home>/archives/<lab>-<YYYYmmdd-HHMMSS>/`` and checking the copy:

``evidence/pod-N.jsonl``  the evidence logs (what the jury did and saw, per candidate)
``prep/``                 the prep seals' manifests
``scenario.yaml``         the scenario copy the logs refer to (the plateau as it was)
``state.json``            the lab's state (phases, seals, pods) when it went down
``journal.jsonl``         the lab's journal (phase changes, resets, interventions)
``manifest.json``         lab, title, pods, when and by whom, and the SHA-256 of every file

A report is made from an archive as from a live lab (``tai-lab report --archive NAME``).
Removing an archive is a separate, explicit command (``tai-lab archives remove NAME``) that
says what it removes; each removal is appended to ``<home>/archives/removals.jsonl``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from . import paths
from .errors import LabStateError, NotFoundError
from .evidence import EvidenceLog, default_actor

KEPT = ("evidence", "prep", "scenario.yaml", "state.json", "journal.jsonl")
MANIFEST = "manifest.json"
REMOVALS = "removals.jsonl"


def archives_dir() -> Path:
    return paths.home() / "archives"


def has_evidence(lab_dir: Path) -> bool:
    """Whether the lab's directory holds anything of a candidate (evidence logs, prep seals)."""
    return any(p.is_file() and p.stat().st_size for d in ("evidence", "prep") if (lab_dir / d).is_dir()
               for p in (lab_dir / d).rglob("*"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _files(root: Path) -> list[Path]:
    out = []
    for name in KEPT:
        p = root / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.is_file())
    return out


@dataclass(frozen=True)
class Archive:
    """A lab's evidence as it was when the lab went down; reads like a lab for the report."""

    dir: Path
    manifest: dict

    @property
    def name(self) -> str:            # the report's "lab" line: the lab's own name
        return self.manifest.get("lab", self.dir.name)

    @property
    def archive_name(self) -> str:
        return self.dir.name

    @property
    def plan(self):
        return SimpleNamespace(title=self.manifest.get("title") or self.name,
                               pods=[SimpleNamespace(number=n) for n in self.pods])

    @property
    def pods(self) -> list[int]:
        return list(self.manifest.get("pods") or [])

    def default_pod(self, pod: int | None) -> int:
        if pod is None:
            if len(self.pods) == 1:
                return self.pods[0]
            raise NotFoundError(f"which pod? archive {self.archive_name} has several",
                                f"add --pod N (pods: {', '.join(map(str, self.pods))})")
        if pod not in self.pods:
            raise NotFoundError(f"no pod {pod} in archive {self.archive_name}",
                                f"pods: {', '.join(map(str, self.pods)) or '(none)'}")
        return pod

    def evidence(self, pod: int | None = None) -> EvidenceLog:
        return EvidenceLog(self.dir, self.default_pod(pod))

    def damaged(self) -> list[str]:
        """Files missing or changed since the archive was made (empty: intact)."""
        bad = []
        for rel, digest in (self.manifest.get("files") or {}).items():
            p = self.dir / rel
            if not p.is_file():
                bad.append(f"{rel}: missing")
            elif _sha256(p) != digest:
                bad.append(f"{rel}: changed")
        return bad

    def candidates(self) -> dict[int, list[str]]:
        return {n: [s.candidate or "(sans nom)" for s in EvidenceLog(self.dir, n).sessions()]
                for n in self.pods}

    def summary(self) -> dict:
        files = self.manifest.get("files") or {}
        return {"archive": self.archive_name, "lab": self.name, "title": self.manifest.get("title"),
                "archived_at": self.manifest.get("archived_at"), "archived_by": self.manifest.get("archived_by"),
                "pods": self.pods, "candidates": self.candidates(), "files": len(files),
                "bytes": sum((self.dir / f).stat().st_size for f in files if (self.dir / f).is_file()),
                "path": str(self.dir), "damaged": self.damaged()}


def _load(d: Path) -> Archive | None:
    try:
        return Archive(d, json.loads((d / MANIFEST).read_text()))
    except (OSError, ValueError):
        return None


def archive_lab(state, *, actor: str | None = None) -> Archive:
    """Copy the lab's evidence into a new archive and check the copy byte for byte (lock held).

    Written under a hidden name and renamed once complete: an archive that is listed is whole.
    Raises (and the lab's directory stays) if the copy cannot be made or differs."""
    root = archives_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name, n = f"{state.lab}-{stamp}", 2
    while (root / name).exists():
        name, n = f"{state.lab}-{stamp}-{n}", n + 1
    tmp = root / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    files: dict[str, str] = {}
    try:
        for src in _files(state.dir):
            rel = src.relative_to(state.dir)
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            digest = _sha256(src)
            if _sha256(dst) != digest:
                raise LabStateError(f"the copy of {src} differs from the original",
                                    "nothing was removed; check the disk, then run `tai-lab down` again")
            with open(dst, "rb") as f:
                os.fsync(f.fileno())
            files[str(rel)] = digest
        pods = set(range(1, int(state.data.get("pod_count") or 0) + 1))
        for p in (tmp / "evidence").glob("pod-*.jsonl"):
            m = re.fullmatch(r"pod-(\d+)\.jsonl", p.name)
            if m:
                pods.add(int(m.group(1)))
        manifest = {"lab": state.lab, "title": state.data.get("title"), "scenario": state.data.get("scenario"),
                    "backend": state.data.get("backend"), "created": state.data.get("created"),
                    "archived_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "archived_by": actor or default_actor(),
                    "pods": sorted(pods), "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True))
        with open(tmp / MANIFEST, "rb") as f:
            os.fsync(f.fileno())
        os.rename(tmp, root / name)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Archive(root / name, manifest)


def list_archives(lab: str | None = None) -> list[Archive]:
    """Every archive (of one lab), oldest first."""
    root = archives_dir()
    if not root.is_dir():
        return []
    found = [a for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
             and (a := _load(d)) is not None]
    found = [a for a in found if lab is None or a.name == lab]
    return sorted(found, key=lambda a: (a.manifest.get("archived_at") or "", a.archive_name))


def find(name: str) -> Archive:
    """An archive by its name, or the latest archive of the lab named ``name``."""
    if "/" in name or name.startswith("."):
        raise NotFoundError(f"invalid archive name {name!r}", "see `tai-lab archives list`")
    d = archives_dir() / name
    if d.is_dir():
        a = _load(d)
        if a is None:
            raise LabStateError(f"archive {name} has no readable manifest", f"look into {d}")
        return a
    of_lab = list_archives(name)
    if of_lab:
        return of_lab[-1]
    names = [a.archive_name for a in list_archives()]
    raise NotFoundError(f"no archive named {name!r}",
                        f"archives: {', '.join(names) or '(none)'} (`tai-lab archives list`)")


def remove(name: str, *, actor: str | None = None) -> dict:
    """Delete one archive (by its exact name), after recording what it held in
    ``removals.jsonl``. Returns that record."""
    d = archives_dir() / name
    if "/" in name or name.startswith(".") or not d.is_dir():
        find(name)           # the same "no archive named …" with the list
        raise NotFoundError(f"{name!r} is a lab's name, not an archive's",
                            "give the archive's full name (`tai-lab archives list`)")
    a = _load(d)
    summary = a.summary() if a is not None else {"archive": name, "path": str(d)}
    rec = {"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "by": actor or default_actor(), "removed": summary,
           "files": (a.manifest.get("files") if a is not None else None)}
    line = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
    fd = os.open(archives_dir() / REMOVALS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    shutil.rmtree(d)
    return rec
