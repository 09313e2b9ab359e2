"""The libvirt backend's contract: a lab's pods built, torn down, snapshotted and reached,
from the pieces beside it (placement, machines, wiring, storage)."""
from __future__ import annotations

import functools
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Literal

from ...errors import LabStateError, NotFoundError
from ...images import vm as images_vm
from ...plan import LabPlan, NodePlan, PodPlan
from ...state import LabState, Resource
from ..base import Backend, Progress
from . import connection, removal
from . import xml as lx
from .connection import DEFAULT_URI
from .storage import Storage
from .wiring import Wiring


class LibvirtBackend(Wiring, Backend):
    """Pods of libvirt domains on isolated networks, one or several hypervisors.

    Of the optional capabilities (see ``base``) it has none: a VM's disk is a qcow2 clone
    whose changes are not a directory of files (no prep start/seal), nothing copies a host
    directory into a guest (no prep depot), and a switch port is a libvirt network's tap
    device, not an interface in a namespace (no port interventions)."""

    name = "libvirt"
    silence_s = 1.5    # guests under emulation (TCG) answer in tens of milliseconds, more on a loaded host
    capabilities = frozenset()

    def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress = lambda _m: None,
                 *, connect: str | None = None, placement: dict | None = None,
                 inventory: str | None = None) -> None:
        self.state = state
        self.plan = plan  # type: ignore[assignment]   # None only for `down`
        self.progress = progress
        self.lab = state.lab
        opts = state.data.get("backend_options", {}) if state.exists else {}
        self.uri = connect or opts.get("connect") or DEFAULT_URI
        # pod → URI of the host it lives on (several hosts); the upstream is on self.uri.
        self.placement: dict[int, str] = {int(k): v for k, v in
                                          (placement or opts.get("placement") or {}).items()}
        self.inventory: str | None = inventory or opts.get("inventory")
        # libvirt's connections and domains: the bindings ship no type information (Any).
        self._conns: dict[str, Any] = {}
        self._booting: dict[tuple[int | None, str], Callable[[], None] | Literal[True]] = {}
        self._lock = threading.Lock()
        self.last_timings: dict[str, float] = {}
        self.storage = Storage(self.lab, state.journal, self.conn, progress)

    # ------------------------------------------------------------------ checks
    def check_host(self) -> None:
        """Before anything is created: libvirt-python, the images, every host reachable.
        (Which domain type each host runs is tried once the image is uploaded there.)"""
        connection.load()
        if self.inventory:
            self._place()
        for img in {n.image for p in self.plan.pods for n in p.nodes if n.image} | {self.plan.upstream.image}:
            images_vm.image(img)   # raises with the build command when missing
        for uri in self.hosts_in_use():
            self.conn(uri)

    # ------------------------------------------------------------------ upstream
    def create_upstream(self) -> None:
        """Per hypervisor in use: its pods' WAN networks and an ISP VM, which boots while the
        pods are created (see ``ready``). Placement is kept in the lab state."""
        if self.state.exists and self.placement:
            self.state.data.setdefault("backend_options", {})["placement"] = \
                {str(k): v for k, v in self.placement.items()}
            self.state.data["backend_options"]["connect"] = self.uri
            self.state.save()
        for node, uri in self.upstream_uris().items():
            pods = self.pods_on(uri)
            for n in pods:
                self._create_network(lx.network_name(self.lab, n, "wan"), None, f"WAN du pod {n}", uri)
            self._create_domain(None, node, "isp", self.plan.upstream.image, lx.isp_nics(self.plan, pods))
            self._booting[(None, node)] = functools.partial(self._configure_isp, node, pods)

    # ------------------------------------------------------------------ pods
    def create_pod(self, pod: PodPlan) -> None:
        uri = self.uri_of(pod.number)
        for v in pod.vlans:
            self._create_network(lx.network_name(self.lab, pod.number, v.name), pod.number,
                                 f"pod {pod.number}, VLAN {v.name} ({v.id})", uri)
        for node in self.vm_nodes(pod):
            self._create_domain(pod.number, node.name, node.kind, node.image or "",
                                lx.node_nics(self.plan, pod, node))
            self._booting[(pod.number, node.name)] = True     # finished by ready()

    # ------------------------------------------------------------------ removal
    def _remove(self, res: Resource) -> None:
        uri = (res.data or {}).get("uri", self.uri)
        if res.kind == "domain":
            removal.remove_domain(self.conn(uri), res.name)
        elif res.kind == "network":
            removal.remove_network(self.conn(uri), res.name)
        elif res.kind in ("volume", "pool"):
            self.storage.remove(res)
        elif res.kind == "file":
            Path(res.name).unlink(missing_ok=True)
        elif res.kind == "dir":
            shutil.rmtree(res.name, ignore_errors=True)
        self.state.journal.removed(res)

    def _teardown(self, resources: list[Resource]) -> list[str]:
        order = {"domain": 0, "network": 1, "volume": 2, "pool": 3, "file": 4, "dir": 5}
        doms = [r for r in resources if r.kind == "domain"]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._remove, doms))
        for r in sorted((r for r in resources if r.kind != "domain"), key=lambda r: order.get(r.kind, 9)):
            self._remove(r)
        return [f"{r.kind} {r.name}" for r in resources]

    def destroy_pod(self, pod: int) -> None:
        self._teardown([r for r in reversed(self.state.journal.live()) if r.pod == pod])
        shutil.rmtree(self.state.dir / f"pods/{pod}", ignore_errors=True)

    def destroy_all(self) -> list[str]:
        self._booting.clear()
        return self._teardown(list(reversed(self.state.journal.live())))

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, pod: PodPlan, name: str) -> None:
        """Internal snapshot (disk and memory) of every running VM of the pod, replacing one
        of the same name."""
        libvirt = connection.load()
        for node in self.vm_nodes(pod):
            dom = self.domain(pod.number, node.name)
            try:
                dom.snapshotLookupByName(name).delete(0)
            except libvirt.libvirtError:
                pass
            dom.snapshotCreateXML(lx.render_snapshot(name, f"tai-lab {self.lab} pod {pod.number}"), 0)

    def snapshots(self, pod: int) -> list[str]:
        try:
            names = [set(self.domain(pod, n.name).snapshotListNames(0))
                     for n in self.vm_nodes(self.plan.pod(pod))]
        except (LabStateError, KeyError):
            return []
        return sorted(set.intersection(*names)) if names else []

    def revert(self, pod: PodPlan, name: str) -> None:
        libvirt = connection.load()
        if name not in self.snapshots(pod.number):
            raise NotFoundError(f"pod {pod.number} has no snapshot {name!r}",
                                f"snapshots: {', '.join(self.snapshots(pod.number)) or '(none)'}")
        started = time.monotonic()

        def one(node: NodePlan) -> None:
            dom = self.domain(pod.number, node.name)
            dom.revertToSnapshot(dom.snapshotLookupByName(name),
                                 libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one, self.vm_nodes(pod)))
        reverted = time.monotonic()
        # The guests resume with their clock where the snapshot left it: set it again.
        for node in self.vm_nodes(pod):
            self._sync_clock(pod.number, node.name)
        self.last_timings = {"revert": round(reverted - started, 3),
                             "clock": round(time.monotonic() - reverted, 3)}

    # ------------------------------------------------------------------ access
    def node_running(self, pod: int | None, node: str) -> bool:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            libvirt = connection.load()
            p = self.plan.pod(pod)
            try:
                return all(self.conn(self.uri_of(pod)).networkLookupByName(n).isActive()
                           for n in lx.pod_networks(self.plan, p))
            except libvirt.libvirtError:
                return False
        try:
            return bool(self.domain(pod, node).isActive())
        except LabStateError:
            return False

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        self.ready(pod, node)
        return {
            # The connection copies modules with the guest agent: an absolute path, no "~".
            "ansible_remote_tmp": "/root/.ansible/tmp",
            "ansible_connection": "community.libvirt.libvirt_qemu",
            "ansible_host": lx.domain_name(self.lab, pod, node),
            "ansible_libvirt_uri": self.uri_of(pod, node),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
