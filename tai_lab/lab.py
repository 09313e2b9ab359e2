"""The API the faces call (CLI, web console, tests): one lab, its pods, its phases.

Every public method takes the lab's lock, so two commands never act on one lab at
once. Nothing here prints: progress goes through the ``progress`` callback.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import provision, servicedesk
from .backends.registry import get_backend
from .context import BASELINE, INTERNET, PHASES, LabContext, Progress, SessionOpenError, phase_hooks
from .errors import LabStateError, LockBusyError, NotFoundError, PrerequisiteError
from .lang import tr
from .hostcheck import require_root
from .plan import LabPlan
from .probes import FAST_DNS, ProbeResult, health_probes, run_probes
from .state import LabState, holder_since, lab_lock, resolve_lab
from .transports.base import CommandResult

# The prep phase registers its phase hook (seals verified before the jury phase, the depot's
# opening closed): imported here so that no phase change can run without it.
from .prep import hooks as _prep_hooks  # noqa: E402,F401

__all__ = ["BASELINE", "INTERNET", "PHASES", "DownResult", "Lab", "PodStatus", "Progress", "SessionOpenError",
           "lab_plan"]


@dataclass(frozen=True)
class PodStatus:
    number: int
    phase: str
    nodes: dict[str, bool]           # node → running
    snapshots: list[str]
    internet: bool                   # the WAN link as it really is, not as the phase says
    pending: str | None = None       # a phase change begun on this pod and not finished (a crash)
    reset_pending: str | None = None  # a reset (its snapshot) or "rebuild" begun and not finished

    def as_dict(self) -> dict:
        return {"pod": self.number, "phase": self.phase, "nodes": self.nodes,
                "snapshots": self.snapshots, "internet": self.internet, "pending_phase": self.pending,
                "reset_pending": self.reset_pending}


@dataclass(frozen=True)
class DownResult:
    removed: list[str]               # what the journal recorded and `down` removed
    archive: Path | None             # where the lab's evidence was kept (None: there was none)


_PLAN_CACHE = "plan.pickle"


def _plan_key(scenario: Path, pods: int) -> str:
    """What the cached plan was derived from: the lab's scenario copy, the pod count, and the
    code that derives a plan (a new version of tai-lab derives it again)."""
    h = hashlib.sha256(scenario.read_bytes())
    h.update(str(pods).encode())
    here = Path(__file__).parent
    for f in (here / "plan.py", here / "datafile.py", *sorted((here / "scenario").glob("*.py"))):
        h.update(f.read_bytes())
    return h.hexdigest()


def lab_plan(state: LabState) -> LabPlan:
    """The plan of a lab that is up: derived from its scenario copy the first time, then read
    from a cache in the lab's directory. Every command needs it, and deriving it (the scenario's
    models, its validation) costs a few tenths of a second before anything happens."""
    source = state.dir / "scenario.yaml"
    pods = state.data["pod_count"]
    key = _plan_key(source, pods)
    cache = state.dir / _PLAN_CACHE
    try:
        saved = pickle.loads(cache.read_bytes())   # written by root, in the lab's own directory
        if saved["key"] == key and isinstance(saved["plan"], LabPlan):
            return saved["plan"]
    except Exception:  # noqa: BLE001 — no cache, or an unreadable one: derive the plan again
        pass
    from .scenario import load_plan
    # Relative paths of the scenario (its own interventions) start where the trainer keeps it.
    plan = load_plan(source, pods=pods, base_dir=Path(state.data.get("scenario", source)).parent)
    try:
        tmp = cache.with_name(f".{_PLAN_CACHE}.{os.getpid()}")
        tmp.write_bytes(pickle.dumps({"key": key, "plan": plan}))
        os.replace(tmp, cache)
    except OSError:
        pass
    return plan


class Lab(LabContext):
    """A lab that is up (or was, and left a journal behind): the features' :class:`LabContext`,
    and the operations the faces call."""

    def __init__(self, name: str | None = None, *, progress: Progress = lambda _m: None) -> None:
        name = resolve_lab(name)
        state = LabState(name)
        if not state.exists:
            raise LabStateError(tr(f"le lab {name!r} n'a pas d'état (un arrêt brutal pendant `up` ?)",
                                   f"lab {name!r} has no state (a crash during `up`?)"),
                                tr("`tai-lab down --lab NOM` supprime ce qu'il a créé",
                                   "`tai-lab down --lab NAME` removes what it created"))
        plan: LabPlan = lab_plan(state)
        backend = get_backend(state.data["backend"])(state, plan, progress, **state.data.get("backend_options", {}))
        super().__init__(name, plan, state, backend, progress)

    # ------------------------------------------------------------------ up / down
    @classmethod
    def up(cls, scenario: str | Path, *, pods: int | None = None, backend: str = "nspawn",
           progress: Progress = lambda _m: None, backend_options: dict | None = None) -> "Lab":
        """Build the plateau: upstream, pods, provisioning, baseline snapshot.

        ``backend_options`` go to the backend (libvirt: ``connect``, ``placement``) and are
        kept in the lab's state for later commands. On any failure (or Ctrl-C) everything
        created so far is removed again.
        """
        backend_options = {k: v for k, v in (backend_options or {}).items() if v is not None}
        scenario = Path(scenario)
        from .scenario import load_plan
        plan = load_plan(scenario, pods=pods)       # every scenario error before any change
        require_root("tai-lab up")
        state = LabState(plan.lab)
        impl = get_backend(backend)(state, plan, progress, **backend_options)
        impl.check_host()
        if state.exists or state.journal.live():
            raise LabStateError(tr(f"le lab {plan.lab!r} est déjà démarré (ou n'a pas été nettoyé)",
                                   f"lab {plan.lab!r} is already up (or was not cleaned)"),
                                tr(f"lancer d'abord `tai-lab down --lab {plan.lab}`",
                                   f"run `tai-lab down --lab {plan.lab}` first"))
        started = time.monotonic()
        with lab_lock(plan.lab, "tai-lab up"):
            state.dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scenario, state.dir / "scenario.yaml")
            state.data = {"lab": plan.lab, "title": plan.title, "backend": backend,
                          "scenario": str(scenario.resolve()), "pod_count": len(plan.pods),
                          "backend_options": backend_options,
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "pods": {}}
            for pod in plan.pods:
                state.pod(pod.number).update(phase="building", snapshots=[])
            state.save()
            try:
                cls._build(plan, state, impl, progress)
            except BaseException:
                # Nothing half-built stays behind: remove what the journal recorded.
                progress(tr("échec de la construction : suppression de ce qui a été créé",
                            "build failed: removing what was created"))
                impl.destroy_all()
                if not state.journal.live():
                    state.remove_all()
                raise
            state.data["up_seconds"] = round(time.monotonic() - started, 1)
            state.save()
            state.journal.event("up", pods=len(plan.pods), seconds=state.data["up_seconds"])
        return cls(plan.lab, progress=progress)

    @staticmethod
    def _build(plan: LabPlan, state: LabState, impl, progress: Progress) -> None:
        progress(tr("FAI (fournisseur d'accès simulé)", "upstream ISP"))
        impl.create_upstream()
        progress(tr(f"{len(plan.pods)} pod(s) : réseau et machines", f"{len(plan.pods)} pod(s): network and containers"))
        # Pods are independent: build a few at once (booting is mostly waiting).
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(impl.create_pod, plan.pods))
        progress(tr("configuration des machines (Ansible)", "provisioning (Ansible)"))
        inv = provision.inventory(plan, [p.number for p in plan.pods], impl.ansible_host_vars,
                                  upstream=True, upstreams=impl.upstream_nodes())
        provision.run_playbook(state.dir / "ansible", "site.yml", inv, progress=progress)
        with ThreadPoolExecutor(max_workers=4) as pool:      # pods with a service desk: their assets
            list(pool.map(lambda p: servicedesk.register_inventory(p, impl.transport, progress), plan.pods))
        progress(tr("instantané de départ de chaque pod", "baseline snapshot of every pod"))
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda p: impl.snapshot(p, BASELINE), plan.pods))
        for pod in plan.pods:
            impl.set_upstream(pod.number, INTERNET["setup"])
            state.pod(pod.number).update(phase="setup", snapshots=[BASELINE])

    @staticmethod
    def down(name: str | None = None, *, progress: Progress = lambda _m: None) -> DownResult:
        """Remove exactly what the lab's journal records, then its state directory — after its
        evidence (the jury's logs, prep seals, scenario, state and journal) has been copied to
        ``<home>/archives/<lab>-<time>/`` and the copy checked: a candidate's record is never
        deleted by ``down`` (``tai-lab archives remove`` is the one way, and asks)."""
        from . import archive
        require_root("tai-lab down")
        lab = resolve_lab(name)
        state = LabState(lab)
        with lab_lock(lab, "tai-lab down"):
            backend = get_backend(state.data.get("backend", "nspawn"))(
                state, None, progress, **state.data.get("backend_options", {}))
            removed = backend.destroy_all()
            leftover = state.journal.live()
            if leftover:
                names = ", ".join(r.name for r in leftover)
                raise LabStateError(tr(f"impossible de supprimer : {names}", f"could not remove: {names}"),
                                    tr("relancer `tai-lab down` ; voir le journal dans " + str(state.dir),
                                       "run `tai-lab down` again; see the journal in " + str(state.dir)))
            try:
                kept = archive.archive_lab(state) if archive.has_evidence(state.dir) else None
            except OSError as exc:
                raise LabStateError(tr(f"impossible d'archiver les preuves du lab {lab!r} : {exc}",
                                       f"could not archive the evidence of lab {lab!r}: {exc}"),
                                    tr(f"rien n'a été supprimé ; libérer de la place dans {archive.archives_dir()}, "
                                       "puis relancer `tai-lab down`",
                                       f"nothing of it was removed; make room in {archive.archives_dir()}, "
                                       "then run `tai-lab down` again")) from exc
            if kept is not None:
                progress(tr(f"preuves archivées dans {kept.dir}", f"evidence archived in {kept.dir}"))
        state.remove_all()
        return DownResult(removed, kept.dir if kept is not None else None)

    # ------------------------------------------------------------------ reading
    def status(self) -> list[PodStatus]:
        out = []
        for p in self.plan.pods:
            nodes = {n.name: self.backend.node_running(p.number, n.name) for n in p.nodes}
            phase = self.phase_of(p.number)
            out.append(PodStatus(p.number, phase, nodes, self.backend.snapshots(p.number),
                                 self._internet_is_up(p.number), self.pending_phase(p.number),
                                 (self.state.pod(p.number).get("reset_pending") or {}).get("to")))
        return out

    def _internet_is_up(self, pod: int) -> bool:
        """The WAN link is up and no prep-phase filter leaves only the package depot."""
        if not self.backend.upstream_is_up(pod):
            return False
        if (self.state.pod(pod).get("prep") or {}).get("depot"):
            from .prep.depot import is_open_for
            return not is_open_for(self, pod)
        return True

    def exec(self, pod: int, node: str, command: Sequence[str], *, timeout: float = 300.0,
             input: str | None = None) -> CommandResult:
        """Run a command on a node, out of band (works with the lab network broken)."""
        self.check_node(pod, node)
        return self.backend.transport(pod, node).run(list(command), timeout=timeout, input=input)

    def verify(self, pod: int | None = None) -> list[ProbeResult]:
        """The plateau's health probes, from the users' point of view, per pod and phase."""
        results: list[ProbeResult] = []
        for n in self.pods(pod):
            p = self.plan.pod(n)
            probes = health_probes(self.plan, p, internet=INTERNET.get(self.phase_of(n), False))
            results += _with_second_try(n, run_probes(n, probes, self.backend.transport), self.backend.transport)
        return results

    # ------------------------------------------------------------------ changing
    def set_phase(self, phase: str, pod: int | None = None, *, override_seal: bool = False) -> None:
        """prep: Internet cut at the ISP side and pods isolated; jury/setup: Internet back.

        A pod sealed after its prep phase is verified first (see :mod:`tai_lab.prep.seal`).
        """
        if phase not in PHASES:
            raise NotFoundError(tr(f"phase inconnue {phase!r}", f"unknown phase {phase!r}"),
                                tr(f"phases : {', '.join(PHASES)}", f"phases: {', '.join(PHASES)}"))
        with lab_lock(self.name, f"tai-lab phase {phase}"):
            for hook in phase_hooks():
                hook(self, self.pods(pod), phase, override_seal=override_seal)
            for n in self.pods(pod):
                # Journaled per pod, before and after: a command killed between two pods
                # leaves each pod's state saying what was done to it (and a pending change
                # where it was under way), and running it again finishes the job.
                rec = self.state.pod(n)
                was = rec.get("phase", "setup")
                rec["phase_pending"] = {"to": phase, "from": was, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
                self.state.save()
                self.state.journal.event("phase-begin", pod=n, phase=phase, was=was)
                self.backend.set_upstream(n, INTERNET[phase])
                rec["phase"] = phase
                rec["phase_since"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                rec.pop("phase_pending", None)
                self.state.save()
                self.state.journal.event("phase", pod=n, phase=phase)

    def snapshot(self, name: str, pod: int | None = None) -> None:
        if not name or "/" in name or name.startswith("."):
            raise PrerequisiteError(tr(f"nom d'instantané invalide {name!r}", f"invalid snapshot name {name!r}"),
                                    tr("lettres, chiffres et tirets", "use letters, digits and dashes"))
        with lab_lock(self.name, f"tai-lab snapshot {name}"):
            for n in self.pods(pod):
                self.progress(tr(f"pod {n} : instantané {name}", f"pod {n}: snapshot {name}"))
                self.state.journal.event("snapshot", pod=n, name=name)
                self.backend.snapshot(self.plan.pod(n), name)
                self.backend.set_upstream(n, self.internet_allowed(n))

    def rebuild(self, pod: int, *, actor: str | None = None,
                confirm_open_session: bool = False) -> list[ProbeResult]:
        """Destroy one pod and build it again from the scenario (slow path; reset is the fast one).

        Refused while a candidate's session is open on the pod unless ``confirm_open_session``
        (see :meth:`open_sessions`); the interventions it undoes are recorded first as
        cleared by reset — not repaired."""
        self.pods(pod)
        p = self.plan.pod(pod)
        with lab_lock(self.name, f"tai-lab rebuild --pod {pod}"):
            self.refuse_open_sessions([pod], "rebuild", confirm_open_session)
            self.clear_before_wipe(pod, "rebuild", None, actor)
            self.state.journal.event("rebuild", pod=pod)
            rec = self.state.pod(pod)
            rec["reset_pending"] = {"to": "rebuild", "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
            self.state.save()
            self.progress(tr(f"pod {pod} : destruction", f"pod {pod}: destroy"))
            self.backend.destroy_pod(pod)
            self.progress(tr(f"pod {pod} : réseau et machines", f"pod {pod}: network and containers"))
            self.backend.create_pod(p)
            self.progress(tr(f"pod {pod} : configuration des machines (Ansible)", f"pod {pod}: provisioning (Ansible)"))
            inv = provision.inventory(self.plan, [pod], self.backend.ansible_host_vars, upstream=False)
            provision.run_playbook(self.state.dir / f"ansible-p{pod}", "site.yml", inv,
                                   progress=self.progress)
            servicedesk.register_inventory(p, self.backend.transport, self.progress)
            self.backend.snapshot(p, BASELINE)
            self.backend.set_upstream(pod, self.internet_allowed(pod))
            self.state.pod(pod)["snapshots"] = [BASELINE]
            self.state.pod(pod).pop("reset_pending", None)
            self.state.save()
        return self.verify(pod)

    # ------------------------------------------------------------------ interventions
    def allowed_interventions(self) -> list[str] | None:
        """The interventions the scenario lets the jury pick (None: the whole catalogue)."""
        return list(self.plan.interventions) if self.plan.interventions is not None else None

    def inject(self, iid: str, pod: int | None = None, *, variant: str | None = None,
               seed: int | None = None, randomise: bool = False, actor: str | None = None):
        pod = self.default_pod(pod)
        allowed = self.allowed_interventions()
        if allowed is not None and iid not in allowed:
            self.engine().catalogue.get(iid)  # unknown ids get the full list first
            raise NotFoundError(tr(f"{iid} n'est pas dans la liste de ce plateau", f"{iid} is not in this plateau's list"),
                                tr("autorisées : " + ", ".join(allowed), "allowed: " + ", ".join(allowed)))
        with lab_lock(self.name, f"tai-lab inject {iid} --pod {pod}"):
            ev = self.evidence_hook(pod)
            ev.before_inject(iid, variant, randomise, seed, actor)
            try:
                res = self.engine().inject(iid, pod, variant=variant, seed=seed, randomise=randomise)
            except BaseException as exc:
                ev.inject_failed(iid, variant, exc, actor)
                raise
            ev.after_inject(res, actor)
            return res

    def check(self, pod: int | None = None, iid: str | None = None, *, actor: str | None = None,
              record: str = "all", wait: float | None = None):
        """record: "all" (every result goes to the evidence log), "changes" (only a new verdict), "none".

        Takes the lab's lock shared (checks run together, never during a reset, an inject or
        a restore): a verdict is never given on a pod being changed. ``wait``: how long to wait
        for such a change to end (default ``TAI_LAB_CHECK_WAIT``, 30 s), then
        :class:`LockBusyError` says what is in progress."""
        pod = self.default_pod(pod)
        if wait is None:
            wait = float(os.environ.get("TAI_LAB_CHECK_WAIT", "30"))

        def busy(who: str) -> LockBusyError:
            return LockBusyError(tr(f"pas de verdict pour le pod {pod} : le lab est en cours de modification — {who}",
                                    f"no verdict for pod {pod}: the lab is being changed — {who}"),
                                 tr(f"une remise à zéro, une injection ou une restauration est en cours (attendu "
                                    f"{wait:g} s) ; vérifier à nouveau une fois terminée",
                                    f"a reset, an inject or a restore is in progress (waited {wait:g} s); "
                                    "check again when it has ended"),
                                 holder=who, since=holder_since(who))
        with lab_lock(self.name, f"tai-lab check --pod {pod}", shared=True, timeout=wait, busy=busy,
                      notify=self.progress):
            results = self.engine().check(pod, iid)
            self.evidence_hook(pod).after_check(results, actor, record)
        return results

    def check_reboot(self, pod: int | None, iid: str, *, actor: str | None = None, settle: float = 20.0):
        """"Survit au redémarrage ?": when ``iid`` is repaired, restart the machines the repair
        touched, check again (:meth:`Engine.check_reboot`); the verdict goes to the evidence log
        with the machines restarted. Takes the lab's lock exclusive: the pod changes."""
        pod = self.default_pod(pod)
        with lab_lock(self.name, f"tai-lab check --reboot {iid} --pod {pod}"):
            res = self.engine().check_reboot(pod, iid, settle=settle)
            self.evidence_hook(pod).after_check([res], actor, "all")
        return res

    def restore(self, pod: int | None = None, iid: str | None = None, *, actor: str | None = None) -> list[str]:
        pod = self.default_pod(pod)
        with lab_lock(self.name, f"tai-lab restore {iid or '--all'} --pod {pod}"):
            # the tickets as the candidate left them, before the restore ends the interventions
            self.evidence_hook(pod).tickets(self.engine().read_tickets(pod, iid), actor)
            done = self.engine().restore(pod, iid)
            self.evidence_hook(pod).after_restore(iid, done, actor)
            return done

    def active_interventions(self, pod: int | None = None):
        return self.engine().active(pod)

    def reset(self, pod: int | None = None, to: str = BASELINE, *, actor: str | None = None,
              confirm_open_session: bool = False) -> list[ProbeResult]:
        """Put pods back to a snapshot (default: the baseline of `up`), then verify them.

        Refused while a candidate's session is open on one of the pods unless
        ``confirm_open_session`` (every face must ask for it explicitly); the interventions the
        revert undoes are recorded first, as cleared by reset — not repaired."""
        pods = self.pods(pod)
        for n in pods:
            if to not in self.backend.snapshots(n):
                names = ", ".join(self.backend.snapshots(n))
                raise NotFoundError(tr(f"le pod {n} n'a pas d'instantané {to!r}", f"pod {n} has no snapshot {to!r}"),
                                    tr(f"instantanés : {names or '(aucun)'}", f"snapshots: {names or '(none)'}"))
        with lab_lock(self.name, f"tai-lab reset --to {to}"):
            self.refuse_open_sessions(pods, "reset", confirm_open_session)
            for n in pods:
                self.progress(tr(f"pod {n} : remise à zéro ({to})", f"pod {n}: reset to {to}"))
                self.clear_before_wipe(n, "reset", to, actor)
                self.state.journal.event("reset", pod=n, to=to)
                # Marked before and cleared after: a reset killed half-way (a console closed,
                # kill -9) leaves the pod refusing injects until the reset is run again.
                rec = self.state.pod(n)
                rec["reset_pending"] = {"to": to, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
                self.state.save()
                self.backend.revert(self.plan.pod(n), to)
                self.backend.set_upstream(n, self.internet_allowed(n))
                rec.pop("reset_pending", None)
                self.state.save()
        return self.verify(pod)


def _with_second_try(pod: int, results: list[ProbeResult], transport_for) -> list[ProbeResult]:
    """A user who sees nothing load tries again: so does ``verify``, once, with patience.

    On a loaded host (16 pods booting on two cores) a one-second DNS timeout can expire
    without anything being wrong. Only what should have worked is tried again, with the
    resolver's default patience and twice the time; what should have been unreachable and
    was reached is a real failure at once. A success at the second try says so.
    """
    again = [r.probe for r in results if not r.passed and r.probe.expect_ok]
    if not again:
        return results
    time.sleep(1.0)
    n = len(FAST_DNS)
    patient = [dataclasses.replace(p, command=p.command[n:] if p.command[:n] == FAST_DNS else p.command,
                                   timeout=p.timeout * 2) for p in again]
    second = {r.probe.id: r for r in run_probes(pod, patient, transport_for)}
    out = []
    for r in results:
        s = second.get(r.probe.id)
        if s is not None and s.passed:
            r = dataclasses.replace(r, passed=True, evidence=f"(2e essai) {s.evidence}",
                                    seconds=round(r.seconds + s.seconds, 3))
        out.append(r)
    return out

