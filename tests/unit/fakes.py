"""The unit tests' shared fakes: a backend that keeps the whole contract (checked with the real
backends in test_backend_contract.py), a node that answers commands from a script, and the
:class:`LabContext` a feature receives, built on them.

They run nothing: the fake backend records what it was asked and keeps the state a real one
would (which machines run, which snapshots exist, whether each pod's WAN link is up).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from tai_lab.backends.base import Backend, Progress
from tai_lab.context import LabContext
from tai_lab.plan import LabPlan, PodPlan
from tai_lab.state import LabState
from tai_lab.transports.base import CommandResult, Transport

Answer = str | tuple[int, str, str]      # stdout (exit 0), or (exit status, stdout, stderr)


class ScriptedNode:
    """A node that answers a command by the first prefix of ``answers`` its words start with;
    anything else fails (exit 1, nothing said). ``calls`` keeps what it was asked."""

    def __init__(self, answers: Mapping[str, Answer] | None = None, *, node: str = "node") -> None:
        self.answers = dict(answers or {})
        self.node = node
        self.calls: list[tuple[str, ...]] = []

    def run(self, command: Sequence[str], *, timeout: float = 30.0, input: str | None = None) -> CommandResult:
        argv = tuple(command)
        self.calls.append(argv)
        key = " ".join(argv)
        for prefix, answer in self.answers.items():
            if key.startswith(prefix):
                rc, out, err = answer if isinstance(answer, tuple) else (0, answer, "")
                return CommandResult(argv, rc, out, err)
        return CommandResult(argv, 1, "", "")


class FakeBackend(Backend):
    """In memory; claims ``switch-ports`` (a port's namespace is a name), not ``layers`` nor
    ``files`` (those refuse as on a backend without them). ``nodes(pod, node)`` gives each
    node's transport (default: a :class:`ScriptedNode` that knows nothing)."""

    name = "fake"
    silence_s = 0.1
    capabilities = frozenset({"switch-ports"})

    def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress = lambda _m: None, *,
                 nodes: Callable[[int | None, str], Transport] | None = None) -> None:
        self.state = state
        self.plan = plan  # type: ignore[assignment]   # None only for `down`, as the real ones
        self.progress = progress
        self.calls: list[tuple] = []
        self.running: set[tuple[int | None, str]] = set()
        self.upstream: dict[int, bool] = {}
        self._snapshots: dict[int, list[str]] = {}
        self._nodes = nodes or (lambda pod, node: ScriptedNode(node=node))

    # core
    def check_host(self) -> None:
        self.calls.append(("check_host",))

    def create_upstream(self) -> None:
        self.calls.append(("create_upstream",))
        self.running.add((None, "isp"))

    def upstream_nodes(self) -> list[str]:
        return ["isp"]

    def create_pod(self, pod: PodPlan) -> None:
        self.calls.append(("create_pod", pod.number))
        self.running |= {(pod.number, n.name) for n in pod.nodes}
        self.upstream[pod.number] = False

    def destroy_pod(self, pod: int) -> None:
        self.calls.append(("destroy_pod", pod))
        self.running = {(p, n) for p, n in self.running if p != pod}
        self._snapshots.pop(pod, None)

    def destroy_all(self) -> list[str]:
        self.calls.append(("destroy_all",))
        gone = sorted(f"{p}/{n}" for p, n in self.running)
        self.running.clear()
        return gone

    def set_upstream(self, pod: int, up: bool) -> None:
        self.calls.append(("set_upstream", pod, up))
        self.upstream[pod] = up

    def upstream_is_up(self, pod: int) -> bool:
        return self.upstream.get(pod, False)

    def snapshot(self, pod: PodPlan, name: str) -> None:
        self.calls.append(("snapshot", pod.number, name))
        names = self._snapshots.setdefault(pod.number, [])
        if name not in names:
            names.append(name)

    def revert(self, pod: PodPlan, name: str) -> None:
        if name not in self.snapshots(pod.number):
            raise AssertionError(f"revert to a snapshot that does not exist: {name}")
        self.calls.append(("revert", pod.number, name))
        self.running |= {(pod.number, n.name) for n in pod.nodes}

    def snapshots(self, pod: int) -> list[str]:
        return list(self._snapshots.get(pod, []))

    def stop_pod(self, pod: PodPlan) -> None:
        self.calls.append(("stop_pod", pod.number))
        self.running = {(p, n) for p, n in self.running if p != pod.number}

    def start_pod(self, pod: PodPlan) -> None:
        self.calls.append(("start_pod", pod.number))
        self.running |= {(pod.number, n.name) for n in pod.nodes}

    def transport(self, pod: int | None, node: str) -> Transport:
        return self._nodes(pod, node)

    def node_running(self, pod: int | None, node: str) -> bool:
        return (pod, node) in self.running

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        return {"ansible_connection": "local"}

    # capability: switch-ports
    def port_namespace(self, pod: int, device: str) -> str:
        return f"fake-p{pod}-{device}"


def fake_context(plan: LabPlan, *, lab: str | None = None, backend: Backend | None = None,
                 nodes: Callable[[int | None, str], Transport] | None = None,
                 progress: Progress = lambda _m: None) -> LabContext:
    """A feature's view of a lab on a :class:`FakeBackend` (its pods built), its state in
    ``TAI_LAB_HOME`` (set it to a temporary directory)."""
    name = lab or plan.lab
    state = LabState(name)
    if backend is None:
        backend = FakeBackend(state, plan, progress, nodes=nodes)
        for pod in plan.pods:
            backend.create_pod(pod)
    return LabContext(name, plan, state, backend, progress)


class JournalContext(LabContext):
    """A lab reduced to its state and journal, for what folds the journal (the engine's
    bookkeeping, the verdicts) and must not touch a machine: every pod is taken as up and
    ``checked_up`` keeps the pods a command asked about. ``backend`` and ``plan`` are whatever
    the test hands over (default none: a call that reaches them fails loudly)."""

    def __init__(self, state: LabState, backend: Backend | None = None, plan: LabPlan | None = None) -> None:
        super().__init__(state.lab, plan, state, backend)  # type: ignore[arg-type]
        self.checked_up: list[int] = []

    def require_pod_up(self, pod: int) -> None:
        self.checked_up.append(pod)
