"""A lab's state on disk: its directory, the resource journal, and its lock.

``<home>/labs/<lab>/``
  ``state.json``    what the lab is (scenario, backend, pods, phases, snapshots)
  ``journal.jsonl`` every resource the lab creates, appended *before* it is created,
                    and every removal after it is done; replaying it gives what may
                    exist, so ``down`` works after a crash, a kill or a power cut
  ``lock``          one lock per lab (``flock``); ``lock.owner`` says who holds it
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from . import paths
from .errors import LockBusyError, NotFoundError
from .lang import tr

Notify = Callable[[str], None]


def lab_dir(lab: str) -> Path:
    return paths.labs_dir() / lab


def existing_labs() -> list[str]:
    root = paths.labs_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "state.json").is_file() or (p / "journal.jsonl").is_file())


@dataclass(frozen=True)
class Resource:
    """One thing the lab created on the host, by its recorded name."""

    kind: str            # netns, mount, dir, process
    name: str            # the name (netns), path (mount, dir) or "pod/node" (process)
    pod: int | None = None
    data: dict | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


class Journal:
    """Append-only record of created and removed resources."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Records parsed so far and where the file was read up to: the journal only grows, so
        # each call parses just what was appended since (checks and transports read it often).
        self._parsed: list[dict] = []
        self._offset = 0
        # The live resources, folded as records are parsed: a lab's journal grows by about a
        # hundred records per reset, and live() is asked many times per operation.
        self._current: dict[tuple[str, str], Resource] = {}
        self._inode: int | None = None
        # Pods are built in parallel threads sharing this object: one reader at a time, or two
        # readers both advance the offset and the records between are never seen.
        self._lock = threading.Lock()

    def _append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line   # a torn last line (power cut): never glue a record to it
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def will_create(self, res: Resource) -> None:
        """Record a resource before creating it."""
        self._append({"op": "add", "kind": res.kind, "name": res.name, "pod": res.pod,
                      "data": res.data or {}, "t": time.time()})

    def removed(self, res: Resource) -> None:
        self._append({"op": "remove", "kind": res.kind, "name": res.name, "t": time.time()})

    def event(self, kind: str, **data: Any) -> None:
        """A non-resource event worth keeping (phase change, snapshot, reset)."""
        self._append({"op": "event", "kind": kind, "data": data, "t": time.time()})

    def records(self) -> list[dict]:
        with self._lock:
            return self._read_new()

    def _read_new(self) -> list[dict]:
        self._advance()
        return list(self._parsed)

    def _advance(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._parsed, self._offset, self._inode, self._current = [], 0, None, {}
            return
        if st.st_ino != self._inode or st.st_size < self._offset:
            # a new file: read it all
            self._parsed, self._offset, self._inode, self._current = [], 0, st.st_ino, {}
        if st.st_size > self._offset:
            start = self._offset
            with self.path.open("rb") as f:
                f.seek(start)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1          # a line still being written waits for the next call
            for line in chunk[:end].decode(errors="replace").splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    # A torn line after a power cut: everything around it still counts.
                    continue
                self._parsed.append(r)
                self._fold(r)
            self._offset = start + end

    def _fold(self, r: dict) -> None:
        if r.get("op") == "add":
            res = Resource(r["kind"], r["name"], r.get("pod"), r.get("data") or None)
            self._current.pop(res.key, None)      # re-created: it moves to the end
            self._current[res.key] = res
        elif r.get("op") == "remove":
            self._current.pop((r["kind"], r["name"]), None)

    def live(self) -> list[Resource]:
        """Resources recorded as created and not yet removed, in creation order."""
        with self._lock:
            self._advance()
            return list(self._current.values())


class LabState:
    """The state file of one lab (small JSON, rewritten atomically)."""

    def __init__(self, lab: str) -> None:
        self.lab = lab
        self.dir = lab_dir(lab)
        self.path = self.dir / "state.json"
        self.journal = Journal(self.dir / "journal.jsonl")
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            self.data = json.loads(self.path.read_text())

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def pod(self, number: int) -> dict:
        return self.data.setdefault("pods", {}).setdefault(str(number), {})

    def remove_all(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def resolve_lab(lab: str | None) -> str:
    """The lab a command acts on: the one named, or the only one there is."""
    labs = existing_labs()
    if lab:
        if lab not in labs:
            raise NotFoundError(tr(f"aucun lab nommé {lab!r} n'est démarré", f"no lab named {lab!r} is up"),
                                tr(f"labs sur cet hôte : {', '.join(labs) or '(aucun)'} ; en démarrer un : "
                                   "tai-lab up SCENARIO",
                                   f"labs on this host: {', '.join(labs) or '(none)'}; start one with: tai-lab up SCENARIO"))
        return lab
    if not labs:
        raise NotFoundError(tr("aucun lab n'est démarré sur cet hôte", "no lab is up on this host"),
                            tr("en démarrer un : tai-lab up scenarios/tai-standard.yaml",
                               "start one with: tai-lab up scenarios/tai-standard.yaml"))
    if len(labs) > 1:
        raise NotFoundError(tr(f"plusieurs labs sont démarrés : {', '.join(labs)}", f"several labs are up: {', '.join(labs)}"),
                            tr("préciser lequel avec --lab NOM", "say which one with --lab NAME"))
    return labs[0]


def _acquire(fd: int, mode: int, deadline: float, lab: str, owner: Path, notify: Notify,
             told: list[bool], busy: Callable[[str], Exception]) -> None:
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            who = owner.read_text().strip() if owner.is_file() else "another command"
            if time.monotonic() >= deadline:
                raise busy(who) from None
            if not told[0]:
                notify(tr(f"attente du lab {lab!r} : {who}", f"waiting for lab {lab!r}: {who}"))
                told[0] = True
            time.sleep(0.2)


def holder_since(who: str) -> str | None:
    """When the holder of a lab's lock took it (``HH:MM``), from what its lock file says."""
    m = re.search(r"\bsince (\d\d:\d\d)", who)
    return m.group(1) if m else None


@contextlib.contextmanager
def lab_lock(lab: str, command: str, *, timeout: float | None = None,
             notify: Notify = lambda m: print(m, file=sys.stderr), shared: bool = False,
             busy: Callable[[str], Exception] | None = None) -> Iterator[None]:
    """Hold the lab's lock; a second command waits (saying who holds it) or gives up.

    Commands that change the lab hold it alone. ``shared``: a command that only looks
    (``check``) holds it with other lookers, never with a change — it never reports on a
    pod being reset or injected. A change that waits goes first: it holds the *gate*
    (``lock.gate``) while it waits, and lookers pass the gate to take their share, so a
    stream of checks from the consoles cannot starve an inject. ``busy(who)`` makes the
    error raised after ``timeout``.
    """
    if timeout is None:
        timeout = float(os.environ.get("TAI_LAB_LOCK_TIMEOUT", "600"))
    if busy is None:
        def busy(who: str) -> Exception:
            return LockBusyError(tr(f"le lab {lab!r} est occupé : {who}", f"lab {lab!r} is busy: {who}"),
                                 tr("attendre la fin de l'action en cours, puis relancer la commande",
                                    "wait for it to finish, then run the command again"),
                                 holder=who, since=holder_since(who))
    d = lab_dir(lab)
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    gate = os.open(d / "lock.gate", os.O_RDWR | os.O_CREAT, 0o600)
    owner = d / "lock.owner"
    try:
        deadline = time.monotonic() + timeout
        told = [False]
        _acquire(gate, fcntl.LOCK_EX, deadline, lab, owner, notify, told, busy)
        try:
            _acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, deadline, lab, owner, notify, told, busy)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        if not shared:
            owner.write_text(f"pid {os.getpid()} ({command}) since {time.strftime('%H:%M:%S')}\n")
        try:
            yield
        finally:
            if not shared:
                with contextlib.suppress(FileNotFoundError):
                    owner.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(gate)
        os.close(fd)
