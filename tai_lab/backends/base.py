"""The small interface every backend implements.

Same scenario, same phases, same interventions on every backend: the lab layer
only ever calls these methods. A backend builds what the plan says, records every
resource in the lab journal before creating it, and removes exactly those.
"""
from __future__ import annotations

from typing import Callable, Protocol

from ..plan import LabPlan, PodPlan
from ..state import LabState
from ..transports.base import Transport

Progress = Callable[[str], None]


class Backend(Protocol):
    name: str
    # Seconds without an answer on a pod's network that the user would call broken
    # (intervention probes; see interventions.engine.build_probe).
    silence_s: float

    def __init__(self, state: LabState, plan: LabPlan, progress: Progress) -> None: ...

    def check_host(self) -> None:
        """Raise PrerequisiteError if this host cannot run the backend (before any change)."""

    # lifecycle
    def create_upstream(self) -> None: ...
    def create_pod(self, pod: PodPlan) -> None: ...
    def destroy_pod(self, pod: int) -> None: ...
    def destroy_all(self) -> list[str]:
        """Remove every resource the journal records; return what was removed."""

    # state of the plateau
    def set_upstream(self, pod: int, up: bool) -> None:
        """Connect or cut the pod's WAN link at the ISP side (out of the candidate's reach)."""

    def upstream_is_up(self, pod: int) -> bool:
        """Whether the pod's WAN link is really connected right now (read from the system)."""

    def snapshot(self, pod: PodPlan, name: str) -> None: ...
    def revert(self, pod: PodPlan, name: str) -> None: ...
    def snapshots(self, pod: int) -> list[str]: ...
    def stop_pod(self, pod: PodPlan) -> None:
        """Power the pod's machines off (the prep seal); its network stays."""
    def start_pod(self, pod: PodPlan) -> None:
        """Boot the pod's machines that are off."""

    # access
    def transport(self, pod: int | None, node: str) -> Transport:
        """Out-of-band access to a node (pod None: the upstream ISP)."""

    def node_running(self, pod: int | None, node: str) -> bool: ...

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        """How Ansible reaches this node out of band (connection plugin and its vars)."""


def get_backend(name: str) -> type:
    """Backends are imported lazily so a missing optional dependency only hurts its user."""
    if name == "nspawn":
        from .nspawn import NspawnBackend
        return NspawnBackend
    if name == "libvirt":
        from .libvirt import LibvirtBackend
        return LibvirtBackend
    from ..errors import NotFoundError
    raise NotFoundError(f"unknown backend {name!r}", "available on this version: nspawn, libvirt")
