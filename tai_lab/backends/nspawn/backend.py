"""The container backend's contract (``backends/base.py``): build a lab, tear it down, reset a
pod, cut its Internet, open its nodes to the trainer's tools. See the package's docstring."""
from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ... import images
from ...errors import NotFoundError, PrerequisiteError
from ...lang import tr
from ...hostcheck import require_root, require_tools
from ...plan import NodePlan, PodPlan
from ...state import Resource
from ...transports.nsenter import NetnsTransport, NsenterTransport, enter_argv
from ..base import Backend
from . import cgroups, mounts, userns
from .machines import Machines
from .wiring import Wiring, _ip_batch


class _Stopwatch:
    """Durations of the steps of a long operation (kept for the benchmarks)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self._t, 3)
        self._t = now


class NspawnBackend(Wiring, Machines, Backend):
    """Pods of systemd-nspawn containers wired by veth pairs and bridges in namespaces."""

    name = "nspawn"
    silence_s = 0.5    # containers on one kernel: a LAN answer takes well under a millisecond
    capabilities = frozenset({"layers", "files", "switch-ports", "netns"})

    def check_host(self) -> None:
        require_root(tr("le backend nspawn", "the nspawn backend"))
        require_tools("systemd-nspawn", "ip", "nsenter", "mount", "umount")
        if not Path("/proc/filesystems").read_text().count("overlay"):
            subprocess.run(["modprobe", "overlay"], capture_output=True)
            if "overlay" not in Path("/proc/filesystems").read_text():
                raise PrerequisiteError(tr("ce noyau n'a pas le système de fichiers overlay",
                                           "this kernel has no overlay filesystem"),
                                        tr("le charger avec : modprobe overlay", "load it with: modprobe overlay"))
        for img in {n.image for p in self.plan.pods for n in p.nodes if n.image} | {self.plan.upstream.image}:
            images.rootfs(img)  # raises with the build command when missing
        self._ensure_inotify(sum(n.is_container for p in self.plan.pods for n in p.nodes) + 1)

    def _ensure_inotify(self, containers: int) -> None:
        """Each container's systemd needs a dozen inotify instances; Debian's default (128)
        stops at about ten containers ("Failed to allocate manager object: Too many open files")."""
        need = {"max_user_instances": 8192, "max_user_watches": 1048576} if containers > 4 else \
            {"max_user_instances": 1024, "max_user_watches": 262144}
        for key, value in need.items():
            path = Path(f"/proc/sys/fs/inotify/{key}")
            current = int(path.read_text())
            if current < value:
                self.progress(tr(f"fs.inotify.{key} relevé de {current} à {value} (les conteneurs en ont besoin)",
                                 f"raising fs.inotify.{key} from {current} to {value} (containers need it)"))
                self.state.journal.event("host-sysctl", key=f"fs.inotify.{key}", old=current, new=value)
                path.write_text(str(value))

    def create_upstream(self) -> None:
        ns = self.netns(None, "isp")
        self._add_netns(ns, None)
        up = self.plan.upstream
        lines = [f"addr add {up.resolver}/32 dev lo"]
        lines += [f"addr add {s.address}/32 dev lo" for s in up.sites if s.address != up.resolver]
        _ip_batch(ns, lines)
        self._start_container(None, "isp", up.image)
        self._wait_ready([(None, "isp")])

    def create_pod(self, pod: PodPlan) -> None:
        self._wire_pod(pod)
        containers = [x for x in pod.nodes if x.is_container]
        for node in containers:
            self._prepare_root(pod.number, node)
        self._boot(pod.number, containers)

    def _remove(self, res: Resource, *, graceful: bool = False) -> None:
        if res.kind == "process":
            self._stop_process(res, graceful=graceful)
            return
        if res.kind == "mount":
            mounts.umount(res.name)
        elif res.kind == "netns":
            mounts.delete_netns(res.name)
        elif res.kind == "dir":
            shutil.rmtree(res.name, ignore_errors=True)
        elif res.kind == "userns":
            userns.release(res.name, (res.data or {}).get("owner"))
        elif res.kind == "cgroup":
            if not cgroups.remove((res.data or {}).get("dirs", [])):
                return      # a process of it is still dying: stays recorded for the next try
        self.state.journal.removed(res)

    def _teardown(self, resources: list[Resource], *, graceful: bool = False) -> list[str]:
        # Processes first (in parallel), then mounts, namespaces, directories.
        order = {"process": 0, "cgroup": 1, "mount": 2, "netns": 3, "dir": 4, "userns": 5}
        procs = [r for r in resources if r.kind == "process"]
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda r: self._stop_process(r, graceful=graceful), procs))
        rest = sorted((r for r in resources if r.kind != "process"), key=lambda r: order.get(r.kind, 9))
        for r in rest:
            self._remove(r)
        return [f"{r.kind} {r.name}" for r in resources]

    def destroy_pod(self, pod: int) -> None:
        self._teardown([r for r in reversed(self.state.journal.live()) if r.pod == pod])
        shutil.rmtree(self.state.dir / f"pods/{pod}", ignore_errors=True)  # its snapshots too

    def destroy_all(self) -> list[str]:
        return self._teardown(list(reversed(self.state.journal.live())))

    def snapshot(self, pod: PodPlan, name: str) -> None:
        """Stop the pod's containers cleanly, copy their upper layers, boot them again."""
        n = pod.number
        containers = [x for x in pod.nodes if x.is_container]
        self._teardown(self._pod_processes(n), graceful=True)
        self.snapshot_stopped(pod, name)
        self._boot(n, containers)

    def revert(self, pod: PodPlan, name: str) -> None:
        """Power the pod off, put back the snapshot's layers and a fresh network, boot."""
        n = pod.number
        snap = self.snapshot_dir(n, name)
        if not snap.is_dir():
            raise NotFoundError(f"pod {n} has no snapshot {name!r}",
                                f"snapshots of pod {n}: {', '.join(self.snapshots(n)) or '(none)'}")
        containers = [x for x in pod.nodes if x.is_container]
        clock = _Stopwatch()
        live = [r for r in reversed(self.state.journal.live()) if r.pod == n and r.kind not in ("dir", "userns")]
        self._teardown(live)  # processes, mounts, namespaces (the network is rebuilt from the plan)
        clock.lap("power off")
        def layer_back(node: NodePlan) -> None:
            d = self.node_dir(n, node.name)
            shutil.rmtree(d / "upper", ignore_errors=True)
            shutil.rmtree(d / "work", ignore_errors=True)
            subprocess.run(["cp", "-a", "--reflink=auto", str(snap / node.name), str(d / "upper")],
                           check=True, capture_output=True)
        with ThreadPoolExecutor(max_workers=len(containers) or 1) as pool:
            list(pool.map(layer_back, containers))
        clock.lap("layers back")
        self._wire_pod(pod)
        for node in containers:
            self._mount_root(n, node.name, node.image or "")
        clock.lap("network and mounts")
        self._boot(n, containers)
        clock.lap("boot")
        self.last_timings = clock.laps

    def transport(self, pod: int | None, node: str):
        if pod is not None:
            plan_node = self.plan.pod(pod).node(node)
            if not plan_node.is_container:
                return NetnsTransport(node, self.netns(pod, node))
        return NsenterTransport(node, self.leader(pod, node), userns=pod is not None)

    def node_netns(self, pod: int, node: str) -> str:
        return f"/proc/{self.leader(pod, node)}/ns/net"

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        return {
            # playbooks/plugins/connection/tai_nsenter.py: the transports' way in, with pipelining
            "ansible_connection": "tai_nsenter",
            "ansible_nsenter_argv": enter_argv(self.leader(pod, node), userns=pod is not None),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def stop_pod(self, pod: PodPlan) -> None:
        """Power the pod's machines off cleanly; network and overlay mounts stay (the seal)."""
        self._teardown(self._pod_processes(pod.number), graceful=True)

    def start_pod(self, pod: PodPlan) -> None:
        """Boot the pod's machines that are not running, in dependency order."""
        self._boot(pod.number, [x for x in pod.nodes if x.is_container
                                and not self.node_running(pod.number, x.name)])

    def upstream_nodes(self) -> list[str]:
        return ["isp"]
