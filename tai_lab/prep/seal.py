"""The seal between the phases: the candidate's machines off, their state fingerprinted.

``seal`` cuts the pod (depot included), powers its machines off, snapshots their layers
(``sealed``) and records a manifest: every file, directory, link and deletion of each
machine's overlay upper layer — exactly what the candidate's work changed on top of the
shared image — with its content hash, mode and owner. ``verify`` recomputes it; the jury
phase refuses a pod whose seal does not match, unless overridden (which is journaled).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LabStateError
from ..state import lab_lock
from . import depot
from .phase import prep_plan

if TYPE_CHECKING:
    from ..context import LabContext

SEALED = "sealed"
_CHUNK = 1 << 20


class SealBrokenError(LabStateError):
    """A sealed pod changed between the seal and the jury phase."""


def fingerprint(upper: Path) -> dict[str, str]:
    """path → what is there (content hash, link target, deletion…), for one upper layer."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(upper))
            st = path.lstat()
            owner = f"{stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}"
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link {os.readlink(path)}"
            elif stat.S_ISDIR(st.st_mode):
                opaque = _xattr(path, "trusted.overlay.opaque") == b"y"
                out[rel] = f"dir {owner}{' opaque' if opaque else ''}"
            elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out[rel] = "deleted"          # an overlay whiteout: the candidate removed it
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                out[rel] = f"file {owner} {h.hexdigest()}"
            else:
                out[rel] = f"special {stat.S_IFMT(st.st_mode):o} {owner}"
    return out


def _xattr(path: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def diff(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[dict]:
    """What changed, per node: added, removed and changed paths (sorted)."""
    changes: list[dict] = []
    for node in sorted(set(before) | set(after)):
        a, b = before.get(node, {}), after.get(node, {})
        for path in sorted(set(a) | set(b)):
            if path not in b:
                changes.append({"node": node, "path": "/" + path, "change": "removed", "was": a[path]})
            elif path not in a:
                changes.append({"node": node, "path": "/" + path, "change": "added", "now": b[path]})
            elif a[path] != b[path]:
                changes.append({"node": node, "path": "/" + path, "change": "changed", "was": a[path],
                                "now": b[path]})
    return changes


def _manifest_path(lab: "LabContext", pod: int) -> Path:
    return lab.state.dir / "prep" / f"seal-pod{pod}.json"


def _current(lab: "LabContext", pod: int) -> dict[str, dict[str, str]]:
    p = lab.plan.pod(pod)
    return {x.name: fingerprint(lab.backend.written_layer(pod, x.name)) for x in p.nodes if x.is_container}


def _digest(nodes: dict[str, dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(nodes, sort_keys=True).encode()).hexdigest()


def seal(lab: "LabContext", pod: int | None = None) -> dict[int, dict]:
    """Seal each pod: cut, power off, snapshot, fingerprint. Returns each pod's seal summary."""
    pods = lab.pods(pod)
    for n in pods:
        prep_plan(lab, n)
    lab.backend.require("layers", "prep seal (the manifest of what the candidate wrote)")
    done: dict[int, dict] = {}
    with lab_lock(lab.name, "tai-lab prep seal"):
        for n in pods:
            p = lab.plan.pod(n)
            t0 = time.monotonic()
            lab.state.journal.event("prep-seal-begin", pod=n)
            lab.backend.set_upstream(n, False)
            depot.close_for(lab, n)
            lab.progress(f"pod {n}: machines off")
            lab.backend.stop_pod(p)
            lab.progress(f"pod {n}: snapshot {SEALED!r} and manifest")
            lab.backend.snapshot_stopped(p, SEALED)
            nodes = _current(lab, n)
            now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            record = {"pod": n, "sealed_at": now, "digest": _digest(nodes), "nodes": nodes}
            path = _manifest_path(lab, n)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=1, sort_keys=True))
            seconds = round(time.monotonic() - t0, 2)
            summary = {"sealed_at": now, "digest": record["digest"], "files": sum(map(len, nodes.values())),
                       "seconds": seconds, "manifest": str(path)}
            rec = lab.state.pod(n)
            rec["seal"] = summary
            rec["snapshots"] = lab.backend.snapshots(n)
            started = (rec.get("prep") or {}).get("epoch")
            if started:
                summary["prep_minutes"] = round((time.time() - started) / 60, 1)
            lab.state.save()
            lab.state.journal.event("prep-sealed", pod=n, digest=record["digest"], files=summary["files"])
            done[n] = summary
    return done


def verify(lab: "LabContext", pod: int) -> list[dict]:
    """What changed on a sealed pod since its seal ([] = untouched)."""
    path = _manifest_path(lab, pod)
    if not path.is_file():
        raise LabStateError(f"pod {pod} has no seal manifest", f"seal it with: tai-lab prep seal --pod {pod}")
    record = json.loads(path.read_text())
    return diff(record["nodes"], _current(lab, pod))


def is_sealed(lab: "LabContext", pod: int) -> bool:
    seal_rec = lab.state.pod(pod).get("seal")
    return bool(seal_rec) and not (seal_rec or {}).get("opened")


def open_for_jury(lab: "LabContext", pods: list[int], *, override: bool = False) -> dict[int, list[dict]]:
    """Before the jury phase (lock held): every sealed pod must be untouched, then it boots.

    All pods are verified before anything changes; a changed pod refuses the whole
    command unless ``override``, which is journaled with what changed.
    """
    changes: dict[int, list[dict]] = {}
    resumed: list[int] = []
    for n in pods:
        if is_sealed(lab, n):
            if lab.state.pod(n)["seal"].get("verified_at"):
                # verified (and recorded) by a `phase jury` killed before it booted the pod:
                # its machines may have started since, so verifying again would see them run
                resumed.append(n)
                continue
            t0 = time.monotonic()
            changes[n] = verify(lab, n)
            lab.state.pod(n)["seal"]["verify_seconds"] = round(time.monotonic() - t0, 2)
    broken = {n: c for n, c in changes.items() if c}
    if broken and not override:
        for n, c in broken.items():
            lab.state.journal.event("seal-broken", pod=n, changes=c[:200], count=len(c))
        raise SealBrokenError(describe(broken),
                              "find out who touched the machines; `tai-lab phase jury --override-seal` "
                              "goes on anyway and records it")
    for n in changes:
        if broken.get(n):
            lab.state.journal.event("seal-override", pod=n, changes=broken[n][:200], count=len(broken[n]))
        else:
            lab.state.journal.event("seal-verified", pod=n)
        # The jury's evidence log of the candidate says how their work was found.
        lab.evidence(n).record("seal", intact=not broken.get(n), override=bool(broken.get(n)),
                               changes=broken.get(n, [])[:50], count=len(broken.get(n, [])))
        # Saved per pod before its machines start: a command killed between two pods leaves
        # each pod's state true, and running it again finishes the job.
        lab.state.pod(n)["seal"].update(verified_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                         intact=not broken.get(n), changes=len(broken.get(n, [])))
        lab.state.save()
    for n in [*changes, *resumed]:
        lab.progress(f"pod {n}: seal {'OVERRIDDEN' if broken.get(n) else 'intact'}; machines on")
        lab.backend.start_pod(lab.plan.pod(n))
        lab.state.pod(n)["seal"].update(opened=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        lab.state.save()
    return changes


def describe(broken: dict[int, list[dict]], limit: int = 15) -> str:
    lines = []
    for n, changes in broken.items():
        lines.append(f"pod {n}: the seal is broken, {len(changes)} change(s) since it was sealed:")
        for c in changes[:limit]:
            lines.append(f"  {c['node']}: {c['change']} {c['path']}")
        if len(changes) > limit:
            lines.append(f"  … and {len(changes) - limit} more (see the journal)")
    return "\n".join(lines)
