"""What the features (prep, interventions, the candidates' portal) receive of a running lab.

A :class:`LabContext` is the lab's name, its plan, its state on disk, its backend and the
progress callback, with the pods' numbers checked, their phases read, the pod's evidence log,
and the guard every command that wipes a pod goes through (a candidate's open session, the
interventions it clears). :class:`tai_lab.lab.Lab` is one (the API adds up, down, phases,
snapshots, inject/check/restore); a feature is typed against this class only, so it cannot
reach the API above it, and a test can hand it a context built on a fake backend.

Phase hooks: a feature that must act when a pod changes phase registers a function with
:func:`on_phase_change` (the prep phase does, in ``prep/hooks.py``); ``Lab.set_phase`` runs
every registered hook, lock held, before it changes anything.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from .errors import LabStateError, NotFoundError
from .evidence import EvidenceLog, LabHook
from .lang import Text, tr
from .plan import LabPlan, PodPlan
from .state import LabState

if TYPE_CHECKING:
    from .backends.base import Backend
    from .interventions.engine import Engine

Progress = Callable[[str], None]
BASELINE = "baseline"
PHASES = ("setup", "prep", "jury")
# Internet reachable from the pod in each phase.
INTERNET = {"setup": True, "prep": False, "jury": True}


class SessionOpenError(LabStateError):
    """A reset or rebuild would wipe the machines of a candidate whose session is open."""


class PhaseHook(Protocol):
    def __call__(self, lab: "LabContext", pods: list[int], phase: str, *, override_seal: bool = False) -> None: ...


_PHASE_HOOKS: list[PhaseHook] = []


def on_phase_change(hook: PhaseHook) -> PhaseHook:
    """Register ``hook(lab, pods, phase, override_seal=…)``: run by every phase change, lock held,
    before the phase is applied; an exception refuses the change. Registering twice is once."""
    if hook not in _PHASE_HOOKS:
        _PHASE_HOOKS.append(hook)
    return hook


def phase_hooks() -> tuple[PhaseHook, ...]:
    return tuple(_PHASE_HOOKS)


class LabContext:
    """One lab as the features see it (see the module's docstring)."""

    def __init__(self, name: str, plan: LabPlan, state: LabState, backend: "Backend",
                 progress: Progress = lambda _m: None) -> None:
        self.name = name
        self.plan = plan
        self.state = state
        self.backend = backend
        self.progress = progress

    # ------------------------------------------------------------------ pods and nodes
    def pods(self, pod: int | None = None) -> list[int]:
        """The pods a command acts on: all of them (``None``), or the one named, checked."""
        numbers = [p.number for p in self.plan.pods]
        if pod is None:
            return numbers
        if pod not in numbers:
            raise NotFoundError(tr(f"pas de pod {pod} dans le lab {self.name!r}", f"no pod {pod} in lab {self.name!r}"),
                                tr(f"pods : {', '.join(map(str, numbers))}", f"pods: {', '.join(map(str, numbers))}"))
        return [pod]

    def pod_plan(self, pod: int) -> PodPlan:
        self.pods(pod)
        return self.plan.pod(pod)

    def check_node(self, pod: int, node: str) -> None:
        """Refuse an unknown node of the pod, listing the pod's nodes."""
        names = [n.name for n in self.pod_plan(pod).nodes]
        if node not in names:
            raise NotFoundError(tr(f"pas de machine {node!r} dans le pod {pod}", f"no node {node!r} in pod {pod}"),
                                tr(f"machines : {', '.join(names)}", f"nodes: {', '.join(names)}"))

    def default_pod(self, pod: int | None) -> int:
        if pod is not None:
            self.pods(pod)
            return pod
        if len(self.plan.pods) == 1:
            return self.plan.pods[0].number
        raise NotFoundError(tr("quel pod ? ce lab en a plusieurs", "which pod? this lab has several"),
                            tr("ajouter --pod N", "add --pod N"))

    def require_pod_up(self, pod: int) -> None:
        """Refuse to act on a pod whose machines are not all running (say which), or whose
        reset or rebuild was interrupted (its machines may run a mix of before and after)."""
        pending = self.state.pod(pod).get("reset_pending")
        if pending:
            rebuild = pending.get("to") == "rebuild"
            again = f"tai-lab rebuild --pod {pod}" if rebuild else f"tai-lab reset --pod {pod} --to {pending.get('to')}"
            since = pending.get("since")
            raise LabStateError(
                tr(f"pod {pod} : sa {'reconstruction' if rebuild else 'remise à zéro'} commencée le {since} "
                   "a été interrompue",
                   f"pod {pod}: its {'rebuild' if rebuild else 'reset'} begun at {since} was interrupted"),
                tr(f"la relancer : {again}", f"run it again: {again}"))
        down = [n.name for n in self.pod_plan(pod).nodes if not self.backend.node_running(pod, n.name)]
        if down:
            raise LabStateError(tr(f"le pod {pod} n'est pas prêt : {', '.join(down)} à l'arrêt",
                                   f"pod {pod} is not up: {', '.join(down)} not running"),
                                tr(f"le remettre en marche : tai-lab reset --pod {pod}",
                                   f"bring it back with: tai-lab reset --pod {pod}"))

    # ------------------------------------------------------------------ phases
    def phase_of(self, pod: int) -> str:
        return self.state.pod(pod).get("phase", "setup")

    def pending_phase(self, pod: int) -> str | None:
        """A phase change begun on the pod and never finished (the command was killed)."""
        return (self.state.pod(pod).get("phase_pending") or {}).get("to")

    def internet_allowed(self, pod: int) -> bool:
        """What the WAN link must be: the phase's rule, and cut while a change to a phase
        without the Internet is pending (a killed `phase prep` never leaves a pod online)."""
        pending = self.pending_phase(pod)
        return INTERNET[self.phase_of(pod)] and (pending is None or INTERNET.get(pending, False))

    # ------------------------------------------------------------------ evidence, interventions
    def evidence(self, pod: int | None = None) -> EvidenceLog:
        """The pod's evidence log (tai_lab.evidence): what the jury did and saw, per candidate."""
        return EvidenceLog(self.state.dir, self.default_pod(pod))

    def evidence_hook(self, pod: int) -> LabHook:
        return LabHook(self.evidence(pod))

    def engine(self) -> "Engine":
        """The interventions of this lab (imported when asked: the feature sits above this module)."""
        from .interventions.engine import Engine
        return Engine(self, progress=self.progress)

    # ------------------------------------------------------------------ before a pod is wiped
    def open_sessions(self, pod: int | None = None) -> dict:
        """pod → its current Session, for the pods where a named candidate's session is open
        (no reset or rebuild since the candidate was named or the jury last acted)."""
        out = {}
        for n in self.pods(pod):
            s = self.evidence(n).current()
            if s.is_open:
                out[n] = s
        return out

    def describe_open_sessions(self, sessions: dict) -> Text:
        lines = []
        for n, s in sessions.items():
            active = [a.id for a in self.engine().active(n)]
            lines.append(tr(f"pod {n} : session de {s.candidate} ouverte"
                            + (f", actives : {', '.join(active)}" if active else ", aucune intervention active"),
                            f"pod {n}: session of {s.candidate} open"
                            + (f", active: {', '.join(active)}" if active else ", no active intervention")))
        return tr("\n".join(getattr(line, "fr", line) for line in lines),
                  "\n".join(getattr(line, "en", line) for line in lines))

    def refuse_open_sessions(self, pods: list[int], command: str, confirmed: bool) -> None:
        """A command that wipes pods refuses while a candidate's session is open on one of
        them, unless the trainer confirmed it."""
        sessions = {n: s for n, s in self.open_sessions().items() if n in pods}
        if sessions and not confirmed:
            described = self.describe_open_sessions(sessions)
            raise SessionOpenError(
                tr(f"{command} refusé : cela efface les machines d'un candidat dont la session est ouverte\n"
                   + described.fr,
                   f"{command} refused: it wipes the machines of a candidate whose session is open\n"
                   + described.en),
                tr("confirmer dans un terminal, ou ajouter --yes : les interventions actives sont alors "
                   "consignées « effacée par remise à zéro — non réparée », et la session se termine",
                   "confirm on a terminal, or add --yes: the active interventions are then recorded as "
                   "cleared by reset — not repaired, and the session ends"))

    def clear_before_wipe(self, pod: int, command: str, to: str | None, actor: str | None) -> None:
        """Before a reset/rebuild touches the pod: its interventions go to the evidence log as
        cleared (never "fixed": no check ran on them after this), then leave the journal."""
        cleared = [a.id for a in self.engine().active(pod)]
        # the service desk's tickets as the candidate left them: the reset puts its database back
        self.evidence_hook(pod).tickets(self.engine().read_tickets(pod), actor)
        self.evidence_hook(pod).before_reset(command, to, cleared, actor)
        self.engine().clear(pod)
