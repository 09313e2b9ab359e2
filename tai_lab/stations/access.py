"""Who may open a terminal on which pod, and when: access follows the exam.

The rule is folded from the lab's journal, the record every phase change already
writes *before* it acts, in order, so no command of the exam needs to know about the
portal and none can change a pod's phase without the portal seeing it:

=====================  ==========================================================
journal event          access of the pod
=====================  ==========================================================
``up``                 closed (setup), every pod gets a code
``phase-begin``        closed (any phase change closes first)
``phase`` prep|jury    open (``phase setup``: stays closed)
``prep-start``         closed; ``prep-started``: open
``prep-seal-begin``    closed (before the machines go off)
``reset`` ``rebuild``  closed, and a **new code** (the next candidate's)
``stations-open``      open (the trainer, by hand)
``stations-close``     closed (the trainer, by hand)
``stations-code``      a new code; open or closed as before
=====================  ==========================================================

A new code (reset, renewal) also ends every portal session made with the old one
(``generation``). The folded state lives in ``labs/<lab>/stations/access.json``
(root only: it holds the codes) with how far the journal was read; whoever folds first
(the portal, every 0.1 s, or a ``stations`` command) writes each change to the pod's
evidence log exactly once (a lock around the fold), with the journal event's own time.
"""
from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..evidence import EvidenceLog, default_actor
from ..state import Journal

# No 0/O, 1/I/L: read aloud, copied from a card, typed by someone in an exam.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, GROUP_LEN = 3, 4
OPEN_PHASES = ("prep", "jury")
MANUAL = {"stations-open": True, "stations-close": False}

# Why a pod is open or closed, in French first (the evidence log and the trainer's table).
REASONS = {
    "setup": "mise en place (fermé)",
    "phase-change": "changement de phase en cours",
    "prep": "phase de préparation",
    "jury": "phase d'entretien avec le jury",
    "setup-phase": "phase de mise en place",
    "prep-start": "démarrage de la préparation",
    "seal": "fin de la préparation (scellé)",
    "reset": "remise à zéro du pod (nouveau code)",
    "rebuild": "reconstruction du pod (nouveau code)",
    "manual-open": "ouvert par le formateur",
    "manual-close": "fermé par le formateur",
    "code": "nouveau code",
}


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_GROUPS * GROUP_LEN))
    return "-".join(raw[i:i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def normalise_code(text: str) -> str:
    """What a candidate typed, as the code is written: case, spaces and dashes do not matter."""
    raw = "".join(c for c in text.upper() if c.isalnum())[: CODE_GROUPS * GROUP_LEN * 2]
    return "-".join(raw[i:i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


@dataclass(frozen=True)
class PodAccess:
    pod: int
    open: bool
    reason: str                 # a key of REASONS
    since: float
    code: str
    generation: int             # bumped with every new code: older portal sessions end

    def as_dict(self, *, with_code: bool = False) -> dict:
        d = {"pod": self.pod, "open": self.open, "reason": self.reason,
             "reason_text": REASONS.get(self.reason, self.reason), "since": self.since,
             "generation": self.generation}
        if with_code:
            d["code"] = self.code
        return d


class Access:
    """The access state of a lab's pods, folded from its journal (see the module's doc)."""

    def __init__(self, lab_dir: Path, pods: list[int]) -> None:
        self.lab_dir = Path(lab_dir)
        self.pods = list(pods)
        self.dir = self.lab_dir / "stations"
        self.path = self.dir / "access.json"
        self.journal = Journal(self.lab_dir / "journal.jsonl")
        self._data: dict = {}
        self._stamp: tuple | None = None

    # ------------------------------------------------------------------ reading
    def refresh(self) -> dict[int, PodAccess]:
        """Fold what the journal gained since the last call; every pod's access now."""
        if self._journal_grew() or self._file_changed() or not self._data:
            with self._locked():
                self._data = self._load()
                self._fold()
            self._stamp = self._stamps()
        return self.current()

    def current(self) -> dict[int, PodAccess]:
        return {int(n): PodAccess(int(n), p["open"], p["reason"], p["since"], p["code"], p["generation"])
                for n, p in self._data.get("pods", {}).items()}

    def of(self, pod: int) -> PodAccess:
        return self.refresh()[pod]

    def pod_of_code(self, typed: str) -> int | None:
        """The pod whose current code this is (compared in constant time with every pod's)."""
        code = normalise_code(typed).encode()
        found = None
        for a in self.refresh().values():
            if hmac.compare_digest(code, a.code.encode()):
                found = a.pod
        return found

    # ------------------------------------------------------------------ the trainer's actions
    def set_open(self, pod: int, opened: bool, actor: str | None = None) -> None:
        """Open or close a pod by hand (journaled; the portal applies it within its poll)."""
        self.journal.event("stations-open" if opened else "stations-close", pod=pod,
                           actor=actor or default_actor())
        self.refresh()

    def renew(self, pod: int, actor: str | None = None) -> str:
        self.journal.event("stations-code", pod=pod, actor=actor or default_actor())
        return self.refresh()[pod].code

    # ------------------------------------------------------------------ the fold
    def _stamps(self) -> tuple:
        out: list[tuple[int, int, int] | None] = []
        for p in (self.journal.path, self.path):
            try:
                st = p.stat()
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def _journal_grew(self) -> bool:
        return self._stamp is None or self._stamps()[0] != self._stamp[0]

    def _file_changed(self) -> bool:
        return self._stamp is None or self._stamps()[1] != self._stamp[1]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _load(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save(self, data: dict) -> None:
        tmp = self.path.with_name(f".access.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _fold(self) -> None:
        records = self.journal.records()
        data = self._data
        first = not data
        if first:
            data = {"cursor": 0, "pods": {}}
        pods = data["pods"]
        now = time.time()
        for n in self.pods:
            pods.setdefault(str(n), {"open": False, "reason": "setup", "since": now, "code": new_code(),
                                     "generation": 1})
        changes: list[tuple[int, dict, dict]] = []        # pod, record, what changed
        cursor = data.get("cursor", 0)
        if cursor > len(records):                         # a journal that shrank: not ours any more
            cursor = 0
        for r in records[cursor:]:
            if r.get("op") != "event":
                continue
            kind, ev = r.get("kind"), r.get("data") or {}
            targets = [int(ev["pod"])] if ev.get("pod") is not None else (self.pods if kind == "up" else [])
            for n in targets:
                p = pods.get(str(n))
                if p is None:
                    continue
                change = _apply(p, str(kind or ""), ev, r.get("t", now))
                if change:
                    changes.append((n, r, change))
        data["cursor"] = len(records)
        if first:
            # The portal's first look at a lab: its history gives today's state; only that
            # state goes to the evidence log, not a replay of every past phase.
            changes = []
            for n in self.pods:
                p = pods[str(n)]
                changes.append((n, {"kind": "portal", "t": now}, {"open": p["open"], "reason": p["reason"]}))
        if changes or first or cursor != data["cursor"]:
            self._save(data)
        self._data = data
        for n, r, change in changes:
            _record_change(self.lab_dir, n, r, change, pods[str(n)])


def _apply(p: dict, kind: str, ev: dict, t: float) -> dict | None:
    """Apply one journal event to one pod's access; what changed (None: nothing)."""
    before = (p["open"], p["generation"])
    if kind == "up":
        p.update(open=False, reason="setup", since=t)
    elif kind == "phase-begin":
        p.update(open=False, reason="phase-change", since=t)
    elif kind == "phase":
        phase = ev.get("phase")
        p.update(open=phase in OPEN_PHASES, reason=phase if phase in OPEN_PHASES else "setup-phase", since=t)
    elif kind == "prep-start":
        p.update(open=False, reason="prep-start", since=t)
    elif kind == "prep-started":
        p.update(open=True, reason="prep", since=t)
    elif kind == "prep-seal-begin":
        p.update(open=False, reason="seal", since=t)
    elif kind in ("reset", "rebuild"):
        p.update(open=False, reason=kind, since=t, code=new_code(), generation=p["generation"] + 1)
    elif kind in MANUAL:
        p.update(open=MANUAL[kind], reason="manual-open" if MANUAL[kind] else "manual-close", since=t)
    elif kind == "stations-code":
        p.update(code=new_code(), generation=p["generation"] + 1, since=t)
        return {"code": True, "open": p["open"], "reason": "code", "actor": ev.get("actor")}
    else:
        return None
    if (p["open"], p["generation"]) == before and kind not in MANUAL:
        return None
    return {"open": p["open"], "reason": p["reason"], "new_code": p["generation"] != before[1],
            "actor": ev.get("actor")}


def _record_change(lab_dir: Path, pod: int, r: dict, change: dict, p: dict) -> None:
    event = "code" if change.get("code") else ("open" if change["open"] else "close")
    extra = {"new_code": True} if change.get("new_code") else {}
    EvidenceLog(lab_dir, pod).record(
        "station", actor=change.get("actor") or "stations", event=event, reason=change["reason"],
        text=REASONS.get(change["reason"], change["reason"]), cause=r.get("kind"),
        cause_t=r.get("t"), open=p["open"], **extra)
