"""What both jury consoles (web and terminal) do, over the public API of :class:`tai_lab.lab.Lab`.

Long actions (inject, restore, verify) run as *jobs* in a small thread pool so a
console stays responsive; a watcher re-checks the active interventions of the pods
someone is looking at and writes each new verdict to the evidence log.
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import referentiel
from ..errors import LockBusyError, TaiLabError
from ..evidence import Session, evidence_dicts

LabFactory = Callable[[], Any]


@dataclass
class Job:
    id: int
    kind: str
    pod: int
    label: str
    actor: str
    state: str = "running"             # running, done, failed
    started: float = field(default_factory=time.time)
    ended: float | None = None
    result: Any = None
    error: str | None = None
    hint: str | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "pod": self.pod, "label": self.label, "state": self.state,
                "started": self.started, "ended": self.ended, "result": self.result, "error": self.error,
                "hint": self.hint, "actor": self.actor}


class JuryService:
    """One lab seen by the jury. ``lab_factory`` returns a fresh Lab (its state re-read)."""

    def __init__(self, lab_factory: LabFactory, *, check_interval: float = 1.5) -> None:
        self.lab_factory = lab_factory
        self.lab = lab_factory()
        self.name = self.lab.name
        self.ref = referentiel.load()
        self.check_interval = check_interval
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tai-jury")
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._watched: dict[int, float] = {}          # pod → last time someone looked
        self._live: dict[int, dict] = {}              # pod → {t, checks: {id: {...}}}
        self._health: dict[int, dict] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------------ data
    @property
    def pods(self) -> list[int]:
        return [p.number for p in self.lab.plan.pods]

    def catalogue(self):
        from ..interventions.catalogue import catalogue_of
        return catalogue_of(self.lab.plan)

    def interventions(self, pod: int, lang: str = "fr") -> list[dict]:
        """The plateau's interventions for this candidate: used ones and useful ones marked."""
        session = self.session(pod)
        items = self.catalogue().select(allowed=self.lab.allowed_interventions())
        used = set(session.used())
        evaluated = {c for i in items if i.id in used for c in i.competencies}
        out = []
        for i in items:
            todo = [c for c in i.competencies if c not in evaluated]
            out.append({"id": i.id, "title": i.title.fr, "title_en": i.title.en, "symptom": i.symptom,
                        "competencies": list(i.competencies), "difficulty": i.difficulty,
                        "category": i.category, "used": i.id in used, "useful": bool(todo),
                        "variants": [{"id": v.id, "title": v.title.fr, "title_en": v.title.en} for v in i.variants],
                        "criteria": self.criteria(i.competencies, lang),
                        "jury": {"diagnostic": list(i.jury.diagnostic), "fixes": list(i.jury.fixes)}})
        return out

    def criteria(self, competencies, lang: str = "fr") -> list[dict]:
        out = []
        for cid in competencies:
            try:
                c = self.ref.competency(cid)
            except KeyError:
                continue
            out.append({"id": c.id, "title": c.title, "criteria": list(c.criteria_in(lang))})
        return out

    def jury_minutes(self) -> int:
        return self.ref.jury_phase_minutes()

    def session(self, pod: int) -> Session:
        return self.lab.evidence(pod).current()

    def terminals(self, pod: int, session: int | None = None, *, commands: bool = False) -> list:
        """The candidate's terminal sessions (:class:`tai_lab.terminal_sessions.TerminalSession`),
        from the evidence log; ``session``: an earlier candidate of the pod (1 = the first)."""
        from ..report import pick_session
        from ..terminal_sessions import terminal_sessions
        log = self.lab.evidence(pod)
        return terminal_sessions(log, pick_session(log, session), commands=commands)

    def recording(self, pod: int, number: int, session: int | None = None) -> tuple[Any, dict, list]:
        """The candidate's terminal session ``number`` (1, 2… as listed) and its recording
        (header, output events). The file is the one the evidence log names in the pod's
        directory: a number outside the list, or a recording missing, is NotFoundError."""
        from ..errors import NotFoundError
        from ..terminal_sessions import MAX_CAST_BYTES, read_cast
        sessions = self.terminals(pod, session)
        if not 1 <= number <= len(sessions):
            raise NotFoundError(f"pas de session de terminal n°{number} pour ce candidat",
                                f"1 à {len(sessions)}" if sessions else "aucune session de terminal")
        ts = sessions[number - 1]
        if ts.path is None or ts.path.stat().st_size > MAX_CAST_BYTES:
            raise NotFoundError(f"enregistrement de la session n°{number} introuvable ou trop grand")
        header, events = read_cast(ts.path)
        return ts, header, events

    def overview(self) -> list[dict]:
        lab = self.lab_factory()
        rows = []
        for st in lab.status():
            s = lab.evidence(st.number).current()
            rows.append({"pod": st.number, "phase": st.phase, "candidate": s.candidate,
                         "nodes_up": sum(st.nodes.values()), "nodes": len(st.nodes), "internet": st.internet,
                         "active": [a.as_dict() for a in lab.active_interventions(st.number)],
                         "health": self._health.get(st.number),
                         "timer": {"running": s.timer_running, "elapsed": round(s.elapsed())}})
        return rows

    def state(self, pod: int) -> dict:
        """Everything the session page shows, for its polling."""
        self._watched[pod] = time.time()
        self._ensure_watcher()
        lab = self.lab
        s = self.session(pod)
        active = {a.id: a.as_dict() for a in lab.active_interventions(pod)}
        live = self._live.get(pod, {})
        running = [j.as_dict() for j in self._jobs.values() if j.pod == pod and j.state == "running"]
        busy = {j["label"] for j in running}
        attempts = []
        for a in s.attempts:
            d = a.as_dict()
            d["active"] = a.id in active and a.open
            lv = live.get("checks", {}).get(a.id)
            if d["active"] and lv and a.applied is not None and lv["t"] >= a.applied and not lv.get("interrupted"):
                d["fixed"], d["evidence"], d["checked_at"] = lv["fixed"], lv["evidence"], lv["t"]
                d["verdict"], d["reason"] = lv.get("verdict"), lv.get("reason")
            if a.open and a.applied is None:
                # killed mid-inject: restorable if the engine journalled it, else nothing changed
                d["status"] = "injecting" if a.id in busy else ("interrupted" if a.id in active else "aborted")
            elif a.failed:
                d["status"] = "failed"
            elif a.cleared_at:
                d["status"] = "cleared"       # a reset/rebuild undid it: not repaired
            elif a.restored_at:
                d["status"] = "restored"
            elif not d["active"]:
                d["status"] = "gone"          # the pod was reset since
            elif any(j["kind"] == "reboot-check" and j["label"] == a.id for j in running):
                d["status"] = "rebooting"
            else:
                # the verdict kind (fixed, broken, bypassed, lost-at-reboot) with its reason
                d["status"] = d.get("verdict") or ("fixed" if d["fixed"] else "broken")
                if d["status"] == "broken" and a.outcome == "lost-at-reboot":
                    d["status"], d["reason"] = "lost-at-reboot", a.reason   # until a check sees it fixed
            d["seconds_since_inject"] = round(time.time() - a.applied, 1) if a.applied else None
            attempts.append(d)
        return {"pod": pod, "now": time.time(), "session": s.as_dict(), "attempts": attempts,
                "active": list(active.values()), "jobs": running,
                "recent_jobs": [j.as_dict() for j in list(self._jobs.values())[-5:] if j.pod == pod],
                "minutes": self.jury_minutes(), "checked_at": live.get("t"), "busy": live.get("busy")}

    # ------------------------------------------------------------------ quick actions
    def set_candidate(self, pod: int, name: str, actor: str) -> None:
        name = " ".join(name.split())
        if not name or len(name) > 120:
            raise TaiLabError("nom du candidat vide ou trop long", "1 à 120 caractères")
        self.lab.evidence(pod).record("candidate", actor=actor, name=name)

    def timer(self, pod: int, action: str, actor: str) -> None:
        if action not in ("start", "pause"):
            raise TaiLabError(f"action de chronomètre inconnue {action!r}", "start ou pause")
        self.lab.evidence(pod).record("timer", actor=actor, action=action)

    def note(self, pod: int, iid: str, text: str, actor: str) -> None:
        self.catalogue().get(iid)
        text = text.strip()
        if not text or len(text) > 5000:
            raise TaiLabError("note vide ou trop longue", "1 à 5000 caractères")
        self.lab.evidence(pod).record("note", actor=actor, id=iid, text=text)

    def criterion(self, pod: int, iid: str, competency: str, index: int, checked: bool, actor: str) -> None:
        item = self.catalogue().get(iid)
        if competency not in item.competencies:
            raise TaiLabError(f"{iid} n'évalue pas {competency}", "compétences : " + ", ".join(item.competencies))
        crit = self.ref.competency(competency).criteria_in("fr")   # the evidence log is in French
        if not 0 <= index < len(crit):
            raise TaiLabError(f"pas de critère n°{index} pour {competency}", f"0 à {len(crit) - 1}")
        self.lab.evidence(pod).record("criterion", actor=actor, id=iid, competency=competency, index=index,
                                      text=crit[index], checked=bool(checked))

    # ------------------------------------------------------------------ jobs
    def _submit(self, kind: str, pod: int, label: str, actor: str, fn: Callable[[], Any]) -> Job:
        if pod not in self.pods:
            raise TaiLabError(f"pas de pod {pod}", "pods : " + ", ".join(map(str, self.pods)))
        with self._lock:
            clash = [j for j in self._jobs.values() if j.pod == pod and j.state == "running"
                     and j.kind in ("inject", "restore")]
            if kind in ("inject", "restore") and clash:
                raise TaiLabError(f"pod {pod} occupé : {clash[0].kind} {clash[0].label}",
                                  "attendez la fin de l'action en cours")
            job = Job(next(self._ids), kind, pod, label, actor)
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = fn()
                job.state = "done"
            except TaiLabError as exc:
                job.error, job.hint, job.state = exc.message, exc.hint, "failed"
            except Exception as exc:  # noqa: BLE001 - shown to the jury, not lost in a thread
                job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"
                traceback.print_exc()
            finally:
                job.ended = time.time()
                self._live.pop(pod, None)
                self._wake.set()

        self._pool.submit(run)
        return job

    def job(self, jid: int) -> Job | None:
        return self._jobs.get(jid)

    def inject(self, pod: int, iid: str, variant: str | None, actor: str) -> Job:
        item = self.catalogue().get(iid)          # a bad id is refused at once, not in a job
        randomise = variant == "random"
        if variant and not randomise:
            if variant not in [v.id for v in item.variants]:
                raise TaiLabError(f"{iid} n'a pas de variante {variant!r}",
                                  "variantes : " + ", ".join(v.id for v in item.variants))

        def run():
            res = self.lab_factory().inject(iid, pod, variant=None if randomise else variant,
                                            randomise=randomise, actor=actor)
            return {"id": res.intervention.id, "variant": res.variant.id, "seconds": res.seconds,
                    "evidence": evidence_dicts(res.evidence)}
        return self._submit("inject", pod, iid, actor, run)

    def restore(self, pod: int, iid: str | None, actor: str) -> Job:
        if iid:
            self.catalogue().get(iid)
        return self._submit("restore", pod, iid or "*", actor,
                            lambda: self.lab_factory().restore(pod, iid, actor=actor))

    def reboot_check(self, pod: int, iid: str, actor: str) -> Job:
        """"Survit au redémarrage ?": restart the machines the repair touched and check again."""
        self.catalogue().get(iid)

        def run():
            return self.lab_factory().check_reboot(pod, iid, actor=actor).as_dict()
        return self._submit("reboot-check", pod, iid, actor, run)

    def verify(self, pod: int, actor: str) -> Job:
        def run():
            results = self.lab_factory().verify(pod)
            h = {"t": time.time(), "ok": all(r.passed for r in results), "passed": sum(r.passed for r in results),
                 "total": len(results), "failed": [f"{r.probe.title}: {r.evidence}" for r in results if not r.passed]}
            self._health[pod] = h
            return h
        return self._submit("verify", pod, "verify", actor, run)

    # ------------------------------------------------------------------ watcher
    def _ensure_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="tai-jury-watch", daemon=True)
            self._watcher.start()

    def check_now(self, pod: int, wait: float = 2.0) -> dict:
        """Check the pod's active interventions; a new verdict goes to the evidence log.

        While a reset, an inject or a restore changes the lab, no verdict: after ``wait``
        seconds the last one stays shown, with what is in progress (``busy``)."""
        t = time.time()
        try:
            results = self.lab.check(pod, actor="console", record="changes", wait=wait)
        except LockBusyError as exc:
            live = dict(self._live.get(pod) or {})
            live["busy"] = exc.message
            self._live[pod] = live
            return live
        live = {"t": t, "checks": {c.id: {"t": t, "fixed": c.fixed, "interrupted": c.interrupted,
                                          "verdict": c.state, "reason": c.reason,
                                          "evidence": evidence_dicts(c.results)} for c in results}}

        self._live[pod] = live
        return live

    def _watch(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for pod, seen in list(self._watched.items()):
                if now - seen > 30:
                    continue              # nobody looks at this pod: no probes
                if any(j.pod == pod and j.state == "running" and j.kind in ("inject", "restore")
                       for j in self._jobs.values()):
                    continue
                try:
                    if any(a.step == "applied" for a in self.lab.active_interventions(pod)):
                        self.check_now(pod)
                except Exception:  # noqa: BLE001 - keep watching; the page shows the last result
                    traceback.print_exc()
            self._wake.wait(self.check_interval)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
