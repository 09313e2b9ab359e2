"""The one contract every backend keeps (checked by tests/unit/test_backend_contract.py).

Same scenario, same phases, same interventions on every backend: the features (lab,
prep, interventions, consoles) only ever call the methods below. A backend builds what
the plan says, records every resource in the lab journal before creating it, and removes
exactly those.

The *core* is abstract: every backend implements all of it. Four *capabilities* are
optional; a backend lists those it has in ``capabilities``, and the base class answers the
others with a :class:`PrerequisiteError` that names the backend and the feature, before
anything changes (features call :meth:`Backend.require` first):

* ``layers``: a machine's disk as a base image plus a *written layer*, a host directory
  holding exactly what the machine wrote (the prep start state, the seal's manifest);
* ``files``: a host directory copied into a machine (the prep phase's package depot);
* ``switch-ports``: the pod's switch and access-point ports as host interfaces in a
  network namespace (the interventions on a port: cable, shut port, wrong VLAN);
* ``netns``: a machine's own network namespace, entered from this host (the candidates'
  portal connects there to the machine's terminal and desktop services).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from ..errors import PrerequisiteError
from ..plan import LabPlan, PodPlan
from ..state import LabState
from ..transports.base import Transport

Progress = Callable[[str], None]

# What each optional capability is, for the trainer who meets a backend without it.
CAPABILITIES: dict[str, str] = {
    "layers": "machines whose disk is a shared image plus a layer of what they wrote",
    "files": "copying a directory of the host into a machine",
    "switch-ports": "switch ports that are host interfaces",
    "netns": "a machine's network namespace entered from this host",
}

# A fresh written layer: a snapshot's layer for the node (its name), or a function that
# writes one into the empty directory it is given.
Layer = str | Callable[[Path], None]


class Backend(ABC):
    """Builds and runs the pods of one lab. ``plan`` is None only for ``down`` (the journal
    is enough to remove everything)."""

    name: ClassVar[str]
    # Seconds without an answer on a pod's network that the user would call broken
    # (intervention probes; see interventions.engine.build_probe).
    silence_s: ClassVar[float]
    capabilities: ClassVar[frozenset[str]] = frozenset()

    # Constructed as ``Backend(state, plan, progress, **options)``: the options (libvirt:
    # connect, placement, inventory) come from the command line and are kept in the lab's state.
    state: LabState
    plan: LabPlan

    if TYPE_CHECKING:   # the constructor every backend has (the registry hands out classes)
        def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress, **options: Any) -> None: ...

    # ------------------------------------------------------------------ capabilities
    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, feature: str) -> None:
        """Refuse ``feature`` up front, naming the backend, if it lacks ``capability``."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}")
        if not self.supports(capability):
            raise PrerequisiteError(
                f"{feature} is not available on the {self.name} backend: it needs "
                f"{CAPABILITIES[capability]} ({capability})",
                "run this plateau on the nspawn backend (containers) for it; "
                "see docs/libvirt.md for what VMs support")

    # ------------------------------------------------------------------ checks
    @abstractmethod
    def check_host(self) -> None:
        """Raise PrerequisiteError if this host cannot run the backend (before any change)."""

    # ------------------------------------------------------------------ lifecycle
    @abstractmethod
    def create_upstream(self) -> None:
        """The simulated ISP (one per hypervisor where pods are spread)."""

    @abstractmethod
    def upstream_nodes(self) -> list[str]:
        """The ISP's node names (``isp`` first), for provisioning."""

    @abstractmethod
    def create_pod(self, pod: PodPlan) -> None: ...

    @abstractmethod
    def destroy_pod(self, pod: int) -> None: ...

    @abstractmethod
    def destroy_all(self) -> list[str]:
        """Remove every resource the journal records; return what was removed."""

    # ------------------------------------------------------------------ state of the plateau
    @abstractmethod
    def set_upstream(self, pod: int, up: bool) -> None:
        """Connect or cut the pod's WAN link at the ISP side (out of the candidate's reach)."""

    @abstractmethod
    def upstream_is_up(self, pod: int) -> bool:
        """Whether the pod's WAN link is really connected right now (read from the system)."""

    # ------------------------------------------------------------------ snapshots
    @abstractmethod
    def snapshot(self, pod: PodPlan, name: str) -> None:
        """Save the state of the pod's running machines as ``name`` (replacing one); they run after."""

    @abstractmethod
    def revert(self, pod: PodPlan, name: str) -> None:
        """Put the pod back to snapshot ``name``, its machines running (network rebuilt from the plan)."""

    @abstractmethod
    def snapshots(self, pod: int) -> list[str]: ...

    # ------------------------------------------------------------------ power
    @abstractmethod
    def stop_pod(self, pod: PodPlan) -> None:
        """Power the pod's machines off cleanly; its network stays."""

    @abstractmethod
    def start_pod(self, pod: PodPlan) -> None:
        """Boot the pod's machines that are off, in dependency order, and wait for them."""

    # ------------------------------------------------------------------ access
    @abstractmethod
    def transport(self, pod: int | None, node: str) -> Transport:
        """Out-of-band access to a node (pod None: the upstream ISP)."""

    @abstractmethod
    def node_running(self, pod: int | None, node: str) -> bool: ...

    @abstractmethod
    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        """How Ansible reaches this node out of band (connection plugin and its vars)."""

    # ------------------------------------------------------------------ capability: layers
    def written_layer(self, pod: int, node: str) -> Path:
        """The host directory holding what the machine wrote over its image (read it while
        the machine is off: the seal's manifest)."""
        self.require("layers", "reading what a machine wrote (prep seal)")
        raise AssertionError("unreachable")

    def snapshot_stopped(self, pod: PodPlan, name: str) -> None:
        """Snapshot ``name`` of a pod whose machines are off (stop_pod); they stay off."""
        self.require("layers", "a snapshot of machines that stay off (prep seal)")

    def compose_snapshot(self, pod: PodPlan, name: str, layers: Mapping[str, Layer]) -> None:
        """Snapshot ``name`` made of a layer per machine (every machine of the pod): another
        snapshot's layer, or a fresh one written by a function (the prep start state)."""
        self.require("layers", "composing a snapshot from layers (prep start)")

    # ------------------------------------------------------------------ capability: files
    def copy_to_node(self, pod: int | None, node: str, source: Path, dest: str) -> None:
        """Copy the host directory ``source`` to ``dest`` inside the machine (replacing it)."""
        self.require("files", f"copying {source.name} into {node} (prep depot)")

    # ------------------------------------------------------------------ capability: switch-ports
    def port_namespace(self, pod: int, device: str) -> str:
        """The host network namespace holding the ports of the pod's switch or access point
        ``device`` (the port interventions act there, named ``<node>-<iface>``)."""
        self.require("switch-ports", "an intervention on a switch port")
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ capability: netns
    def node_netns(self, pod: int, node: str) -> str:
        """The path of the machine's own network namespace on this host (``/proc/<pid>/ns/net``):
        the candidates' portal reaches the machine's terminal and desktop services there."""
        self.require("netns", "the candidates' portal (terminals and desktops in the browser)")
        raise AssertionError("unreachable")
