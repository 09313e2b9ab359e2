"""The evidence log of a candidate's jury session: what the jury did and saw, when, who.

``<lab state dir>/evidence/pod-<N>.jsonl`` — one JSON object per line, appended only
(``O_APPEND`` + ``flock`` + ``fsync``), so the CLI, the web console and the terminal
console can all write at once and nothing is lost when one of them is killed.

Every record: ``t`` (epoch seconds), ``at`` (local ISO time), ``pod``, ``kind``,
``actor`` (who: the Unix user for the CLI, the jury member's name in the consoles)
and the kind's own fields:

``candidate``       name — a new candidate on the pod: starts a new *session*
``timer``           action (start, pause); without one, the first ``inject-begin`` starts the timer
``inject-begin``    id, variant (None: the first), random — written before anything changes
``inject``          id, variant, seconds, evidence — the fault took
``inject-failed``   id, variant, error
``check``           id, variant, fixed, evidence, verdict (fixed, broken, bypassed,
                    lost-at-reboot), reason ({fr, en}: why bypassed or lost), reboot (the
                    machines a reboot check restarted)
``restore``         id (None: all), restored
``note``            id, text
``criterion``       id, competency, index, text, checked
``reset``           to (the snapshot), cleared (interventions the revert undoes), command
                    (reset, rebuild, prep-start) — written *before* the pod is touched: the
                    cleared attempts are closed there, "cleared by reset — not repaired"
                    unless a check had seen them fixed while they were applied; the
                    candidate's session on the pod ends with it
``seal``            intact, override, changes, count — the prep seal checked when the jury phase opened
``station``         event (open, close, code, login, refused, session-end), and its fields — the
                    candidates' portal (:mod:`tai_lab.stations`): access that follows the phases,
                    terminal sessions and what was refused

A ``check`` record counts only for an attempt that is applied and still open (not
restored, not cleared): "fixed" is only ever recorded from a check that ran on the
intervention while it was applied. ``interrupted`` (True): the check found an inject that
never finished; it says nothing about a fix.

Records are never rewritten: a note edited or a criterion unticked is a new record;
readers (:class:`Session`) fold them into the state the jury sees.
"""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("candidate", "timer", "inject-begin", "inject", "inject-failed", "check", "restore",
         "note", "criterion", "reset", "seal", "station", "ticket")


def default_actor() -> str:
    """Who acts from the command line: the Unix user (``cli`` if it cannot be told)."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in a bare container
        return "cli"


class EvidenceLog:
    """The append-only log of one pod (all its candidates, one session after another)."""

    def __init__(self, state_dir: Path, pod: int) -> None:
        self.pod = pod
        self.path = Path(state_dir) / "evidence" / f"pod-{pod}.jsonl"

    def record(self, kind: str, *, actor: str | None = None, **data: Any) -> dict:
        if kind not in KINDS:
            raise ValueError(f"unknown evidence kind {kind!r}")
        now = time.time()
        rec = {"t": round(now, 3), "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)),
               "pod": self.pod, "kind": kind, "actor": actor or default_actor(), **data}
        line = (json.dumps(rec, ensure_ascii=False, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One write per record under an exclusive lock: lines never interleave,
            # even between processes on filesystems where O_APPEND alone is not atomic.
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return rec

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue          # a torn last line after a power cut; the rest still counts
        return out

    def sessions(self) -> list[Session]:
        """The pod's candidates in order; records before the first ``candidate`` form an unnamed one.

        The portal's records (``station``) written while no candidate's session is open —
        the prep phase, before the jury names the candidate, or after the previous one's
        reset — belong to the next candidate named, not to the previous one."""
        groups: list[list[dict]] = []
        waiting: list[dict] = []
        named = ended = False             # the last group's candidate, and whether a reset ended it
        for r in self.records():
            k = r["kind"]
            if k == "station" and (not groups or ended):
                waiting.append(r)
                continue
            if k == "candidate" or not groups:
                groups.append(waiting)
                waiting = []
                named = ended = False
            elif waiting:
                groups[-1] += waiting
                waiting = []
            groups[-1].append(r)
            # as Session._fold decides `ended`
            if k == "candidate":
                named = bool(r.get("name"))
            elif k == "reset" and named:
                ended = True
            elif k in ("inject-begin", "timer", "note", "criterion"):
                ended = False
        if waiting:
            if groups:
                groups[-1] += waiting
            else:
                groups.append(waiting)
        return [Session(self.pod, g) for g in groups]

    def current(self) -> Session:
        s = self.sessions()
        return s[-1] if s else Session(self.pod, [])


@dataclass
class Attempt:
    """One injection of an intervention in a session, and what became of it."""

    id: str
    variant: str | None
    began: float
    actor: str
    applied: float | None = None
    failed: str | None = None
    fixed_at: float | None = None           # first check that saw it fixed
    fixed: bool | None = None               # the last check's verdict
    verdict: str | None = None              # the last check's verdict kind (fixed, broken, bypassed, lost-at-reboot)
    reason: dict | None = None              # why bypassed or lost ({fr, en}), from that check
    lost_at_reboot: bool = False            # a reboot check lost the repair; until a check sees it fixed
    last_evidence: list = field(default_factory=list)
    restored_at: float | None = None
    cleared_at: float | None = None         # a reset/rebuild undid it (recorded before it acted)
    inject_evidence: list = field(default_factory=list)
    ticket: dict | None = None              # the user's ticket in the service desk, as last read

    @property
    def seconds_to_fix(self) -> float | None:
        if self.fixed_at is None or self.applied is None:
            return None
        # whole seconds, rounded once here: every console and the report show this number
        return float(round(self.fixed_at - self.applied))

    @property
    def open(self) -> bool:
        return self.restored_at is None and self.failed is None and self.cleared_at is None

    @property
    def outcome(self) -> str:
        """What the record says became of it, for the report and the consoles: failed,
        interrupted (the inject never finished), fixed (a check saw it fixed while it was
        applied), cleared (a reset undid it before any check saw it fixed), not-fixed."""
        if self.failed is not None:
            return "failed"
        if self.applied is None:
            return "interrupted"
        if self.lost_at_reboot:
            return "lost-at-reboot"   # repaired, but a reboot check saw the repair go away
        if self.verdict == "bypassed":
            return "bypassed"         # the last check that ran saw the fault masked, not repaired
        if self.fixed_at is not None:
            return "fixed"
        if self.cleared_at is not None:
            return "cleared"
        return "not-fixed"

    def as_dict(self) -> dict:
        return {"id": self.id, "variant": self.variant, "began": self.began, "applied": self.applied,
                "failed": self.failed, "fixed": self.fixed, "fixed_at": self.fixed_at,
                "verdict": self.verdict, "reason": self.reason,
                "seconds_to_fix": self.seconds_to_fix, "restored_at": self.restored_at,
                "cleared_at": self.cleared_at, "outcome": self.outcome,
                "evidence": self.last_evidence, "inject_evidence": self.inject_evidence,
                "actor": self.actor, "open": self.open, "ticket": self.ticket}


class Session:
    """One candidate's records, folded into what the jury sees."""

    def __init__(self, pod: int, records: Iterable[dict]) -> None:
        self.pod = pod
        self.records = list(records)
        self.candidate: str | None = None
        self.started: float | None = self.records[0]["t"] if self.records else None
        self.attempts: list[Attempt] = []
        self.notes: dict[str, list[dict]] = {}
        self.criteria: dict[str, dict[str, set[int]]] = {}   # intervention → competency → indexes
        self.ended: float | None = None                      # a reset/rebuild of the pod ended it
        self._timer_runs: list[list[float | None]] = []
        for r in self.records:
            self._fold(r)

    def _last(self, iid: str) -> Attempt | None:
        for a in reversed(self.attempts):
            if a.id == iid:
                return a
        return None

    def applied_attempt(self, iid: str) -> Attempt | None:
        """The latest attempt of ``iid`` that took (the one checks are about)."""
        return next((a for a in reversed(self.attempts) if a.id == iid and a.applied is not None), None)

    def _fold(self, r: dict) -> None:
        k, t = r["kind"], r["t"]
        if k in ("inject-begin", "timer", "note", "criterion"):
            self.ended = None             # the jury works with this candidate again after a reset
        if k == "candidate":
            self.candidate = r.get("name") or None
        elif k == "timer":
            if r.get("action") == "start" and not self.timer_running:
                self._timer_runs.append([t, None])
            elif r.get("action") == "pause" and self.timer_running:
                self._timer_runs[-1][1] = t
        elif k == "inject-begin":
            if not self._timer_runs:
                # the jury's 40 minutes start at the first inject unless a jury member started
                # the timer before (an explicit start, or a pause, is never overridden)
                self._timer_runs.append([t, None])
            self.attempts.append(Attempt(r["id"], r.get("variant"), t, r.get("actor", "?")))
        elif k in ("inject", "inject-failed"):
            a = self._last(r["id"])
            if a is None or a.applied is not None or a.failed is not None:
                a = Attempt(r["id"], r.get("variant"), t, r.get("actor", "?"))
                self.attempts.append(a)
            a.variant = r.get("variant") or a.variant
            if k == "inject":
                a.applied = t
                a.fixed = False
                a.verdict, a.reason = "broken", None
                a.inject_evidence = r.get("evidence", [])
                a.last_evidence = a.inject_evidence
                a.ticket = r.get("ticket")
            else:
                a.failed = r.get("error", "?")
        elif k == "check":
            a = self.applied_attempt(r["id"])
            if a is not None and a.open and not r.get("interrupted"):
                a.fixed = bool(r.get("fixed"))
                a.verdict = r.get("verdict") or ("fixed" if a.fixed else "broken")
                if a.verdict == "lost-at-reboot":
                    a.lost_at_reboot, a.reason = True, r.get("reason")
                elif a.fixed:
                    a.lost_at_reboot, a.reason = False, None
                if not a.lost_at_reboot:
                    a.reason = r.get("reason")
                a.last_evidence = r.get("evidence", [])
                if a.fixed and a.fixed_at is None:
                    a.fixed_at = t
        elif k == "ticket":
            a = self.applied_attempt(r["id"])
            if a is not None and r.get("ticket"):
                a.ticket = r["ticket"]
        elif k == "restore":
            for iid in r.get("restored") or []:
                # the latest attempt that may have changed the pod (applied, or interrupted mid-inject)
                for a in reversed(self.attempts):
                    if a.id == iid and a.failed is None:
                        if a.restored_at is None:
                            a.restored_at = t
                        break
        elif k == "reset":
            if self.candidate is not None:
                self.ended = t
            for iid in r.get("cleared") or []:
                # the latest attempt that may have changed the pod, as for a restore
                for a in reversed(self.attempts):
                    if a.id == iid and a.failed is None:
                        if a.open:
                            a.cleared_at = t
                        break
        elif k == "note":
            self.notes.setdefault(r["id"], []).append(
                {"at": r["at"], "t": t, "text": r.get("text", ""), "actor": r.get("actor")})
        elif k == "criterion":
            ticked = self.criteria.setdefault(r["id"], {}).setdefault(r["competency"], set())
            (ticked.add if r.get("checked") else ticked.discard)(int(r["index"]))

    # ------------------------------------------------------------------ views
    @property
    def is_open(self) -> bool:
        """A named candidate's session that no reset or rebuild of the pod has ended (or the
        jury acted again since): their machines and their record are at stake."""
        return self.candidate is not None and self.ended is None

    @property
    def timer_running(self) -> bool:
        return bool(self._timer_runs) and self._timer_runs[-1][1] is None

    def elapsed(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        total = 0.0
        for start, end in self._timer_runs:
            assert start is not None          # a run is recorded with its start
            total += (end if end is not None else now) - start
        return total

    def used(self) -> list[str]:
        """Interventions injected (and taken) in this session, in order, without repeats."""
        seen: list[str] = []
        for a in self.attempts:
            if a.applied is not None and a.id not in seen:
                seen.append(a.id)
        return seen

    def ticked(self, iid: str) -> dict[str, list[int]]:
        return {c: sorted(ix) for c, ix in self.criteria.get(iid, {}).items() if ix}

    def as_dict(self, now: float | None = None) -> dict:
        return {"pod": self.pod, "candidate": self.candidate, "started": self.started,
                "timer": {"running": self.timer_running, "elapsed": round(self.elapsed(now), 1)},
                "attempts": [a.as_dict() for a in self.attempts], "used": self.used(),
                "open": self.is_open, "ended": self.ended,
                "notes": self.notes, "criteria": {i: self.ticked(i) for i in self.criteria}}


def evidence_dicts(results) -> list[dict]:
    """Probe results as short dicts for the log (title, passed, evidence: the command and its
    output; about: the check's kind and the values its sentence names, with the node; the check's
    id and the machine it ran on when known: a check that runs from every client, a "contourné:" check)."""
    out = []
    for r in results:
        d = {"title": r.probe.title, "passed": r.passed, "evidence": r.evidence}
        about = dict(getattr(r.probe, "about", ()) or ())
        if about:
            d["about"] = {**about, "node": getattr(r.probe, "node", None),
                          "expect": "reachable" if getattr(r.probe, "expect_ok", True) else "unreachable"}
        for key, attr in (("check", "id"), ("node", "node")):
            value = getattr(r.probe, attr, None)
            if isinstance(value, str):
                d[key] = value
        out.append(d)
    return out


def _same_ticket(a: dict | None, b: dict | None) -> bool:
    """Two reads of a ticket that the record need not both keep (same state, people, links, history)."""
    if a is None or b is None:
        return a is b
    keys = ("id", "status", "owner", "assets", "error")
    return all(a.get(k) == b.get(k) for k in keys) and len(a.get("history") or []) == len(b.get("history") or [])


class LabHook:
    """What :class:`tai_lab.lab.Lab` writes to the log around inject, check and restore."""

    def __init__(self, log: EvidenceLog) -> None:
        self.log = log

    def before_inject(self, iid: str, variant: str | None, randomise: bool, seed: int | None,
                      actor: str | None) -> None:
        self.log.record("inject-begin", actor=actor, id=iid, variant=variant, random=randomise, seed=seed)

    def inject_failed(self, iid: str, variant: str | None, exc: BaseException, actor: str | None) -> None:
        details = getattr(exc, "details", None)
        self.log.record("inject-failed", actor=actor, id=iid, variant=variant,
                        error=str(exc) or type(exc).__name__, **({"details": str(details)} if details else {}))

    def after_inject(self, res, actor: str | None) -> None:
        extra = {"ticket": res.ticket} if getattr(res, "ticket", None) else {}
        self.log.record("inject", actor=actor, id=res.intervention.id, variant=res.variant.id,
                        seconds=res.seconds, evidence=evidence_dicts(res.evidence), **extra)

    def tickets(self, read: list[tuple[str, str, dict]], actor: str | None) -> None:
        """Tickets read from the service desk (before a restore or a reset wipes them): each
        one that changed since the record last saw it."""
        session = self.log.current()
        for iid, variant, ticket in read:
            a = session.applied_attempt(iid)
            if a is not None and _same_ticket(a.ticket, ticket):
                continue
            self.log.record("ticket", actor=actor, id=iid, variant=variant, ticket=ticket)

    def after_check(self, results, actor: str | None, record: str) -> None:
        if record == "none":
            return
        session = self.log.current() if record == "changes" else None
        tickets = [(c.id, c.variant, c.ticket) for c in results if getattr(c, "ticket", None)]
        if tickets:
            self.tickets(tickets, actor)
        for c in results:
            if session is not None and getattr(c, "interrupted", False):
                continue              # no verdict, and nothing new to a console that polls
            if session is not None:
                a = session.applied_attempt(c.id)
                if a is not None and a.open and a.fixed == c.fixed and \
                        (a.verdict or ("fixed" if a.fixed else "broken")) == getattr(c, "state", "fixed" if c.fixed else "broken") and \
                        getattr(c, "reboot", None) is None:
                    continue
            extra: dict[str, Any] = {"interrupted": True} if getattr(c, "interrupted", False) else {}
            if not extra:
                extra["verdict"] = getattr(c, "state", "fixed" if c.fixed else "broken")
                if getattr(c, "reason", None):
                    extra["reason"] = c.reason
                if getattr(c, "reboot", None) is not None:
                    extra["reboot"] = list(c.reboot)
            self.log.record("check", actor=actor, id=c.id, variant=c.variant, fixed=c.fixed,
                            evidence=evidence_dicts(c.results), **extra)

    def after_restore(self, iid: str | None, done: list[str], actor: str | None) -> None:
        self.log.record("restore", actor=actor, id=iid, restored=done)

    def before_reset(self, command: str, to: str | None, cleared: list[str], actor: str | None) -> None:
        """Before a reset/rebuild touches the pod: what it will undo is not repaired."""
        self.log.record("reset", actor=actor, command=command, to=to, cleared=cleared)
