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
from ..lang import in_lang, tr
from . import sentences
from .sentences import ticket_label
from .i18n import translate

LabFactory = Callable[[], Any]


def _mmss(seconds: float | None) -> str:
    s = max(0, round(seconds or 0))
    return f"{s // 60:02d}:{s % 60:02d}"


def _status_label(status: str, repaired: bool, to_fix: float | None, lang: str) -> str:
    """The state of an intervention in words: "en panne", "réparée en 00:54", "restaurée
    (réparée en 00:54)", "restaurée sans avoir été réparée"…"""
    if status == "fixed":
        return translate("label_fixed", lang).format(t=_mmss(to_fix))
    if status in ("restored", "gone", "cleared") and repaired:
        return translate(f"label_{status}_fixed", lang).format(t=_mmss(to_fix))
    return translate(f"status_{status}", lang)


def _t(text, lang: str) -> str:
    """A data file's ``{fr, en}`` text in the jury's language."""
    return text.en if lang == "en" else text.fr


def jury_words(exc: TaiLabError) -> tuple[str, str | None, str | None]:
    """What a jury member reads of an error: (message, hint, technical details). Never a
    trainer's command line: a lock held by another command is said in words, with its time."""
    if isinstance(exc, LockBusyError):
        since_fr = f" (depuis {exc.since})" if exc.since else ""
        since_en = f" (since {exc.since})" if exc.since else ""
        return (tr(f"une autre commande du formateur travaille sur ce pod{since_fr}",
                   f"another of the trainer's commands is working on this pod{since_en}"),
                tr("attendre qu'elle se termine, puis recommencer", "wait for it to end, then try again"),
                str(exc.holder or exc.message))
    return exc.message, exc.hint, (str(exc.details) if exc.details else None)


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
    details: str | None = None         # technical: shown only when a jury member asks ("Détails")
    titles: tuple[str, str] | None = None   # what it acts on, French and English (an intervention's title)

    def what(self, lang: str = "fr") -> str:
        """The action as a jury member reads it: "Injection : Site intranet inaccessible"."""
        verb = translate(f"job_{self.kind}", lang)
        if self.titles:
            return f"{verb} : {self.titles[1] if lang == 'en' else self.titles[0]}"
        return verb

    def as_dict(self, lang: str = "fr") -> dict:
        return {"id": self.id, "kind": self.kind, "pod": self.pod, "label": self.label, "state": self.state,
                "started": self.started, "ended": self.ended, "result": self.result,
                "error": in_lang(self.error, lang), "hint": in_lang(self.hint, lang), "actor": self.actor,
                "details": self.details, "what": self.what(lang)}


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
        self._phase: dict[int, tuple[float, str | None]] = {}   # pod → (read at, phase)
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
        """The plateau's interventions for this candidate: used ones and useful ones marked.

        Titles in the jury's language; ``jury.fixes`` with, for each, the variants it repairs
        (the intervention file lists its expected fixes in the order of its variants when
        there is one per variant; with a single variant, every fix is its)."""
        session = self.session(pod)
        items = self.catalogue().select(allowed=self.lab.allowed_interventions())
        used = set(session.used())
        evaluated = {c for i in items if i.id in used for c in i.competencies}
        names = self.competency_names(lang)
        out = []
        for i in items:
            todo = [c for c in i.competencies if c not in evaluated]
            vids = [v.id for v in i.variants]
            fixes = []
            for n, text in enumerate(i.jury.fixes):
                if len(vids) == 1:
                    fixes.append({"text": text, "variants": vids})
                elif len(vids) == len(i.jury.fixes):
                    fixes.append({"text": text, "variants": [vids[n]]})
                else:
                    fixes.append({"text": text, "variants": []})
            out.append({"id": i.id, "title": _t(i.title, lang), "title_fr": i.title.fr, "title_en": i.title.en,
                        "symptom": i.symptom, "competencies": list(i.competencies),
                        "competency_names": {c: names.get(c, c) for c in i.competencies},
                        "difficulty": i.difficulty, "category": i.category, "used": i.id in used,
                        "useful": bool(todo), "todo": todo,
                        "variants": [{"id": v.id, "title": _t(v.title, lang), "note": v.note} for v in i.variants],
                        "criteria": self.criteria(i.competencies, lang),
                        "jury": {"diagnostic": list(i.jury.diagnostic), "fixes": fixes,
                                 "pitfalls": list(i.jury.pitfalls)}})
        return out

    def competency_names(self, lang: str = "fr") -> dict[str, str]:
        """Competency id → its name in the référentiel (French; the référentiel has no English)."""
        return {c.id: c.title for c in self.ref.competencies}

    def names(self, lang: str = "fr") -> dict:
        """What the history shows instead of identifiers: intervention id → title, and
        (id, variant) → the variant's title."""
        out: dict = {"interventions": {}, "variants": {}}
        try:
            items = list(self.catalogue().interventions.values())
        except Exception:  # noqa: BLE001 - the history still shows what it can
            items = []
        for i in items:
            out["interventions"][i.id] = _t(i.title, lang)
            for v in i.variants:
                out["variants"][f"{i.id}/{v.id}"] = _t(v.title, lang)
        return out

    def _titles(self, iid: str, variant: str | None = None, lang: str = "fr") -> tuple[str, str | None]:
        """An intervention's title and its variant's, in the jury's language (the id if the
        catalogue no longer has it)."""
        try:
            item = self.catalogue().get(iid)
        except Exception:  # noqa: BLE001 - removed from the catalogue since
            return iid, variant
        vt = None
        if variant:
            vt = next((_t(v.title, lang) for v in item.variants if v.id == variant), variant)
        return _t(item.title, lang), vt

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

    def terminals(self, pod: int, session: int | None = None, *, commands: bool = False,
                  files: bool = True) -> list:
        """The candidate's terminal sessions (:class:`tai_lab.terminal_sessions.TerminalSession`),
        from the evidence log; ``session``: an earlier candidate of the pod (1 = the first);
        ``files=False``: the log only, no recording read (what a page polls)."""
        from .report import pick_session
        from ..terminal_sessions import terminal_sessions
        log = self.lab.evidence(pod)
        return terminal_sessions(log, pick_session(log, session), commands=commands, files=files)

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

    def live(self, pod: int, number: int, offset: int, lang: str = "fr") -> dict:
        """What the candidate's terminal session ``number`` (as listed for the current candidate)
        recorded from byte ``offset`` on, for the jury's live view: complete events only, the
        offset to ask next, and whether the session has ended (then its reason)."""
        from ..errors import NotFoundError
        from ..terminal_sessions import end_reason, read_cast_from, terminal_sessions
        log = self.lab.evidence(pod)
        sessions = terminal_sessions(log, log.current(), commands=False, files=False)
        path = sessions[number - 1].path if 1 <= number <= len(sessions) else None
        if path is None:
            raise NotFoundError(f"pas de session de terminal n°{number} pour ce candidat")
        ts = sessions[number - 1]
        header, events, nxt, more = read_cast_from(path, offset)
        ended = ts.ended or any(e[1] == "m" for e in events)
        out = {"number": number, "node": ts.node, "offset": nxt, "events": events,
               "more": more, "ended": ended,
               "end": end_reason(ts.reason, lang) if ts.ended else None}
        if header is not None:
            out.update(width=header.get("width", 80), height=header.get("height", 24))
        return out

    def overview(self, lang: str = "fr") -> list[dict]:
        lab = self.lab_factory()
        minutes = self.jury_minutes()
        rows = []
        for st in lab.status():
            s = lab.evidence(st.number).current()
            active = []
            for a in lab.active_interventions(st.number):
                d = a.as_dict()
                d["title"], d["variant_title"] = self._titles(a.id, a.variant, lang)
                att = s.applied_attempt(a.id)
                d["fixed"] = bool(att and att.open and att.fixed)
                active.append(d)
            elapsed = round(s.elapsed())
            rows.append({"pod": st.number, "phase": st.phase, "phase_label": translate(f"phase_{st.phase}", lang),
                         "candidate": s.candidate,
                         "nodes_up": sum(st.nodes.values()), "nodes": len(st.nodes), "internet": st.internet,
                         "active": active, "fault": any(not a["fixed"] for a in active),
                         "health": self._health.get(st.number),
                         "timer": {"running": s.timer_running, "elapsed": elapsed,
                                   "left": minutes * 60 - elapsed}})
        return rows

    def phase(self, pod: int) -> str | None:
        """The pod's phase, read again from the lab's state every few seconds (a trainer may
        change it while the console runs)."""
        t, phase = self._phase.get(pod, (0.0, None))
        if time.time() - t > 5:
            reader = getattr(self.lab_factory(), "phase_of", None)
            phase = reader(pod) if reader else None
            self._phase[pod] = (time.time(), phase)
        return phase

    def state(self, pod: int, lang: str = "fr") -> dict:
        """Everything the session page shows, for its polling."""
        self._watched[pod] = time.time()
        self._ensure_watcher()
        lab = self.lab
        s = self.session(pod)
        active = {a.id: a.as_dict() for a in lab.active_interventions(pod)}
        live = self._live.get(pod, {})
        running = [j.as_dict(lang) for j in self._jobs.values() if j.pod == pod and j.state == "running"]
        busy = {j["label"] for j in running}
        now = time.time()
        attempts = []
        for a in s.attempts:
            d = a.as_dict()
            d["title"], d["variant_title"] = self._titles(a.id, a.variant, lang)
            d["active"] = a.id in active and a.open
            lv = live.get("checks", {}).get(a.id)
            if d["active"] and lv and a.applied is not None and lv["t"] >= a.applied and not lv.get("interrupted"):
                d["fixed"], d["evidence"], d["checked_at"] = lv["fixed"], lv["evidence"], lv["t"]
                d["verdict"], d["reason"] = lv.get("verdict"), lv.get("reason")
                if lv.get("ticket"):
                    d["ticket"] = lv["ticket"]        # read by the check that gave this verdict
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
            # The clock since the injection runs while the fault is on the candidate's machines
            # and stops at the repair (the repair time stays shown), the restore or the reset.
            end = a.fixed_at or a.restored_at or a.cleared_at or (None if d["status"] == "broken" else now)
            d["seconds_since_inject"] = round((end or now) - a.applied) if a.applied else None
            d["repaired"] = a.fixed_at is not None
            d["sentences"] = sentences.render(d.get("evidence"), lang)
            d["status_label"] = _status_label(d["status"], d["repaired"], a.seconds_to_fix, lang)
            d["ticket_label"] = ticket_label(d.get("ticket"), lang)
            attempts.append(d)
        phase = self.phase(pod)
        busy_text = None
        if live.get("busy"):
            busy_text = translate("busy_check", lang)
        return {"pod": pod, "now": now, "session": s.as_dict(), "attempts": attempts, "phase": phase,
                "phase_label": translate(f"phase_{phase}", lang) if phase else None,
                "active": list(active.values()), "jobs": running,
                "recent_jobs": [j.as_dict(lang) for j in list(self._jobs.values())[-5:] if j.pod == pod],
                "minutes": self.jury_minutes(), "checked_at": live.get("t"), "busy": busy_text,
                "busy_raw": live.get("busy")}

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
    def _submit(self, kind: str, pod: int, label: str, actor: str, fn: Callable[[], Any],
                titles: tuple[str, str] | None = None) -> Job:
        if pod not in self.pods:
            raise TaiLabError(f"pas de pod {pod}", "pods : " + ", ".join(map(str, self.pods)))
        with self._lock:
            clash = [j for j in self._jobs.values() if j.pod == pod and j.state == "running"
                     and j.kind in ("inject", "restore", "reset")]
            if kind in ("inject", "restore", "reset") and clash:
                raise TaiLabError(f"pod {pod} occupé : {clash[0].what()}",
                                  "attendez la fin de l'action en cours")
            job = Job(next(self._ids), kind, pod, label, actor, titles=titles)
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = fn()
                job.state = "done"
            except TaiLabError as exc:
                job.error, job.hint, job.details = jury_words(exc)
                job.state = "failed"
            except Exception as exc:  # noqa: BLE001 - shown to the jury, not lost in a thread
                job.error = tr("l'action n'a pas abouti à cause d'un défaut de tai-lab",
                               "the action did not complete because of a bug in tai-lab")
                job.hint = tr("le formateur trouve la trace dans le terminal de la console",
                              "the trainer finds the traceback in the console's terminal")
                job.details = f"{type(exc).__name__}: {exc}"
                job.state = "failed"
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
        return self._submit("inject", pod, iid, actor, run, titles=(item.title.fr, item.title.en))

    def restore(self, pod: int, iid: str | None, actor: str) -> Job:
        titles = None
        if iid:
            item = self.catalogue().get(iid)
            titles = (item.title.fr, item.title.en)
        return self._submit("restore", pod, iid or "*", actor,
                            lambda: self.lab_factory().restore(pod, iid, actor=actor), titles=titles)

    def reset_question(self, pod: int, lang: str = "fr") -> dict | None:
        """What a jury member must confirm before a reset wipes an open candidate's session
        (None: no session open, nothing to ask)."""
        lab = self.lab_factory()
        s = lab.open_sessions(pod).get(pod)
        if s is None:
            return None
        active = [self._titles(a.id, a.variant, lang)[0] for a in lab.active_interventions(pod)]
        q = translate("reset_question", lang).format(candidate=s.candidate, pod=pod)
        if active:
            q += "\n" + translate("reset_active", lang).format(
                items=", ".join(active), recorded=translate("status_cleared", lang))
        q += "\n" + translate("reset_ends", lang)
        return {"question": q, "candidate": s.candidate, "active": active,
                "recorded": translate("status_cleared", lang)}

    def reset(self, pod: int, actor: str, *, confirmed: bool) -> Job:
        """Back to the pod's baseline; ``confirmed``: a jury member answered reset_question."""
        def run():
            results = self.lab_factory().reset(pod, actor=actor, confirm_open_session=confirmed)
            h = {"t": time.time(), "ok": all(r.passed for r in results), "passed": sum(r.passed for r in results),
                 "total": len(results), "failed": [r.probe.title for r in results if not r.passed]}
            self._health[pod] = h
            return h
        return self._submit("reset", pod, "reset", actor, run)

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
                 "total": len(results), "failed": [r.probe.title for r in results if not r.passed],
                 "details": [f"{r.probe.title}: {r.evidence}" for r in results if not r.passed]}
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
                                          "verdict": c.state, "reason": c.reason, "ticket": getattr(c, "ticket", None),
                                          "evidence": evidence_dicts(c.results)} for c in results}}

        self._live[pod] = live
        return live

    def _watch(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for pod, seen in list(self._watched.items()):
                if now - seen > 30:
                    continue              # nobody looks at this pod: no probes
                if any(j.pod == pod and j.state == "running" and j.kind in ("inject", "restore", "reset")
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
