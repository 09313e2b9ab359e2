"""The embedded default backend: systemd-nspawn system containers in network namespaces.

Layout on the host, for lab ``std`` pod 1:

* one network namespace per node, ``tai-std-p1-<node>``; the switch is a namespace
  holding one bridge per VLAN (``vlan10``…) — this host kernel has neither bridge VLAN
  filtering nor 802.1Q, so an access port is the node's veth on its VLAN's bridge;
* the access point is a namespace holding ``br0``: its uplink to the users VLAN and the
  wireless clients' veths (radios cannot be emulated here);
* the upstream ISP is one container ``tai-std-isp`` shared by all pods, with one
  point-to-point veth ``pod<N>`` per pod router;
* every OS node is a container booting systemd on an overlay of the shared image
  (``pods/<N>/<node>/upper`` holds only what that node wrote);
* every container of a pod runs in its own user namespace (``backends/userns.py``): its
  root is an unprivileged range of host IDs, the image is seen through an ID-mapped mount,
  and its network namespace is its own, created by systemd-nspawn at each boot. The node's
  named namespace ``tai-std-p1-<node>`` is where its cables stay plugged while it is off:
  systemd-nspawn moves them in at boot and puts them back when the node stops or reboots
  (addresses and routes are gone then, as on a real machine; the switch side keeps its state).

No lab interface ever sits in the host's root namespace. Every namespace, mount,
directory and process is recorded in the journal before it is created.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

from .. import images
from . import cgroups, mounts, userns
from ..errors import CommandFailed, LabStateError, NotFoundError, PrerequisiteError
from ..hostcheck import require_root, require_tools
from ..plan import LabPlan, NodePlan, PodPlan
from ..state import LabState, Resource
from ..transports.nsenter import NetnsTransport, NsenterTransport
from .base import Backend, Layer, Progress

# A node that reboots itself (a candidate types `reboot`) makes systemd-nspawn exit with
# 133: start it again, as systemd-nspawn@.service does. SIGTERM powers the node off.
# The supervisor first moves itself into the node's own cgroups ($TAI_CGROUPS: see cgroups.py).
_SUPERVISOR = (
    'for g in $TAI_CGROUPS; do echo $$ > "$g/cgroup.procs" || exit 125; done; '
    'trap \'kill -TERM "$c" 2>/dev/null; wait "$c"; exit 0\' TERM INT; '
    'while :; do "$@" & c=$!; wait "$c"; rc=$?; [ "$rc" -eq 133 ] || exit "$rc"; done'
)
# A pod's node starts from its named network namespace (its cables) in a mount namespace
# of its own where /sys is read-only: systemd-nspawn then takes the host for one without
# udev (this host has none running) and moves the interfaces in without waiting for it.
_SUPERVISOR_USERNS = 'mount -o remount,bind,ro /sys || exit 125; ' + _SUPERVISOR

# Boot order inside a pod: what serves the others' boot (the router and its DHCP relay,
# the servers) starts first; who is served (clients, printer) starts as soon as it is
# served — the DHCP path answers — not when the servers' whole boot is over, so the two
# tiers overlap. A client's first DHCP request must be answered: a lost one costs the
# client dhclient's initial retry interval (10 s).
_TIERS = {"router": 0, "server": 0, "printer": 1, "client": 1}
_BOOT_TIMEOUT = 60.0
# The services a client's boot needs from the first tier: the network raised and every
# DHCP server or relay that this boot starts. A transient unit ordered after them runs
# when their start jobs are over (at once when none is queued), so the wait costs one
# blocking call and no polling. A DHCP server this list does not know (a candidate's own
# choice) is not waited for: the clients then retry their requests as real ones would.
_DHCP_PATH = ("networking.service", "isc-dhcp-server.service", "isc-dhcp-relay.service",
              "dnsmasq.service", "kea-dhcp4-server.service")
_SERVING = ["systemd-run", "--wait", "--quiet", "--collect", "--unit=tai-lab-boot-order",
            "--description=tai-lab: clients start once DHCP answers",
            *[f"--property=After={u}" for u in _DHCP_PATH], "true"]


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandFailed(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc


def _ip_batch(netns: str, lines: list[str]) -> None:
    if not lines:
        return
    proc = subprocess.run(["ip", "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandFailed(f"network setup in {netns} failed: {proc.stderr.strip()}")


def _mac(*parts: object) -> str:
    """A stable, locally administered MAC: the same node gets the same lease after a reset."""
    h = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "02:7a:" + ":".join(f"{b:02x}" for b in h[:4])


def _proc_start_time(pid: int) -> int | None:
    """Start time of a live process (None if gone or a zombie; a child of ours is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        # A dead child of this (long-lived) process: reap it so the PID can go.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return None
    return int(fields[19])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:   # the process ended meanwhile (a container rebooting, a helper exiting)
        return out
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _container_init(nspawn_pid: int) -> int | None:
    """The host PID of the container's PID 1 (a descendant of systemd-nspawn)."""
    todo = _children(nspawn_pid)
    while todo:
        pid = todo.pop(0)
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("NSpid:") and line.split()[1:] and line.split()[-1] == "1" \
                        and len(line.split()) == 3:
                    return pid
        except OSError:
            continue
        todo += _children(pid)
    return None


class _Stopwatch:
    """Durations of the steps of a long operation (kept for the benchmarks)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self._t, 3)
        self._t = now


class NspawnBackend(Backend):
    """Pods of systemd-nspawn containers wired by veth pairs and bridges in namespaces."""

    name = "nspawn"
    silence_s = 0.5    # containers on one kernel: a LAN answer takes well under a millisecond
    capabilities = frozenset({"layers", "files", "switch-ports"})

    def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress = lambda _m: None) -> None:
        # plan is None only for `down`, which works from the journal alone.
        self.state = state
        self.plan = plan  # type: ignore[assignment]
        self.progress = progress
        self.prefix = f"tai-{state.lab}"
        self.last_timings: dict[str, float] = {}

    # ------------------------------------------------------------------ names
    def netns(self, pod: int | None, node: str) -> str:
        return f"{self.prefix}-isp" if pod is None else f"{self.prefix}-p{pod}-{node}"

    def node_dir(self, pod: int | None, node: str) -> Path:
        return self.state.dir / ("isp" if pod is None else f"pods/{pod}/{node}")

    def snapshot_dir(self, pod: int, name: str) -> Path:
        return self.state.dir / f"pods/{pod}/snapshots/{name}"

    # ------------------------------------------------------------------ checks
    def check_host(self) -> None:
        require_root("the nspawn backend")
        require_tools("systemd-nspawn", "ip", "nsenter", "mount", "umount")
        if not Path("/proc/filesystems").read_text().count("overlay"):
            subprocess.run(["modprobe", "overlay"], capture_output=True)
            if "overlay" not in Path("/proc/filesystems").read_text():
                raise PrerequisiteError("this kernel has no overlay filesystem",
                                        "load it with: modprobe overlay")
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
                self.progress(f"raising fs.inotify.{key} from {current} to {value} (containers need it)")
                self.state.journal.event("host-sysctl", key=f"fs.inotify.{key}", old=current, new=value)
                path.write_text(str(value))

    # ------------------------------------------------------------------ namespaces
    def _add_netns(self, name: str, pod: int | None) -> None:
        self.state.journal.will_create(Resource("netns", name, pod))
        if Path(f"/run/netns/{name}").exists():
            raise LabStateError(f"network namespace {name} already exists",
                                "a previous lab of this name was not cleaned: run `tai-lab down` first")
        _ip("netns", "add", name)
        _ip("link", "set", "lo", "up", netns=name)

    # ------------------------------------------------------------------ upstream
    def create_upstream(self) -> None:
        ns = self.netns(None, "isp")
        self._add_netns(ns, None)
        up = self.plan.upstream
        lines = [f"addr add {up.resolver}/32 dev lo"]
        lines += [f"addr add {s.address}/32 dev lo" for s in up.sites if s.address != up.resolver]
        _ip_batch(ns, lines)
        self._start_container(None, "isp", up.image)
        self._wait_ready([(None, "isp")])

    # ------------------------------------------------------------------ pods
    def _wire_pod(self, pod: PodPlan) -> None:
        """Namespaces, bridges and veth pairs of one pod, exactly as the plan says."""
        n = pod.number
        for node in pod.nodes:
            self._add_netns(self.netns(n, node.name), n)
        switch = next((x for x in pod.nodes if x.kind == "switch"), None)
        if switch:
            sw = self.netns(n, switch.name)
            _ip_batch(sw, [f"link add vlan{v.id} type bridge" for v in pod.vlans]
                      + [f"link set vlan{v.id} up" for v in pod.vlans])
        for ap in (x for x in pod.nodes if x.kind == "ap"):
            _ip_batch(self.netns(n, ap.name), ["link add br0 type bridge", "link set br0 up"])
        isp = self.netns(None, "isp")
        for node in pod.nodes:
            if node.kind == "switch":
                continue
            ns = self.netns(n, node.name)
            for iface in node.interfaces:
                seg = iface.segment
                mac = _mac(self.plan.lab, n, node.name, iface.name)
                if seg.kind == "upstream":
                    peer_ns, peer, master = isp, f"pod{n}", None
                elif seg.kind == "vlan":
                    if switch is None:
                        raise LabStateError(f"pod {n}: {node.name}.{iface.name} is on a VLAN but the pod has no switch")
                    peer_ns, peer, master = self.netns(n, switch.name), f"{node.name}-{iface.name}", \
                        f"vlan{pod.vlan(seg.name).id}"
                else:  # wireless: a port of the access point's bridge
                    peer_ns, peer, master = self.netns(n, seg.name), f"{node.name}-{iface.name}", "br0"
                _ip("link", "add", iface.name, "address", mac, "type", "veth",
                    "peer", "name", peer, "netns", peer_ns, netns=ns)
                if seg.kind == "upstream":
                    # Born cut: the lab connects it when the pod's phase allows the Internet,
                    # so a pod rebuilt during the prep phase never sees the Internet, not even briefly.
                    _ip_batch(isp, [f"addr add {pod.wan.isp_address} dev {peer}"])
                else:
                    _ip_batch(peer_ns, [f"link set {peer} master {master} up"])
            if node.kind == "ap":
                lines = [f"link set {i.name} master br0 up" for i in node.interfaces]
                lines += [f"addr add {i.address} dev br0" for i in node.interfaces if i.address]
                gw = next((i.gateway for i in node.interfaces if i.gateway), None)
                _ip_batch(ns, lines)
                if gw:
                    _ip_batch(ns, [f"route add default via {gw}"])

    def create_pod(self, pod: PodPlan) -> None:
        self._wire_pod(pod)
        containers = [x for x in pod.nodes if x.is_container]
        for node in containers:
            self._prepare_root(pod.number, node)
        self._boot(pod.number, containers)

    def _boot(self, pod: int, nodes: list[NodePlan]) -> None:
        started: list[tuple[int | None, str]] = []
        for tier in sorted({_TIERS.get(x.kind, 1) for x in nodes}):
            if started:
                self._wait_serving(started)
            batch = [x for x in nodes if _TIERS.get(x.kind, 1) == tier]
            for node in batch:
                self._start_container(pod, node.name, node.image or "")
            started += [(pod, x.name) for x in batch]
        self._wait_ready(started)

    def _wait_serving(self, nodes: list[tuple[int | None, str]]) -> None:
        """Wait until each node serves the next tier's boot (see _SERVING), or has booted."""
        def wait(item: tuple[int | None, str]) -> None:
            pod, node = item
            deadline = time.monotonic() + _BOOT_TIMEOUT
            while time.monotonic() < deadline:
                pid = self._nspawn_pid(pod, node)
                if pid is None:
                    return                  # it died: _wait_ready says why
                leader = _container_init(pid)
                if leader is not None:
                    t = NsenterTransport(node, leader, userns=pod is not None)
                    if t.run(_SERVING, timeout=max(1.0, deadline - time.monotonic())).ok:
                        return
                time.sleep(0.05)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(wait, nodes))

    # ------------------------------------------------------------------ containers
    def userns_base(self, pod: int, node: str) -> int:
        """The first host ID of the node's user namespace (its root), allocated once per node."""
        owner = f"{self.state.dir}:{pod}/{node}"
        for res in self.state.journal.live():
            if res.kind == "userns" and (res.data or {}).get("owner") == owner:
                return int(res.data["base"])
        return userns.allocate(owner, lambda path, base: self.state.journal.will_create(
            Resource("userns", path, pod, {"owner": owner, "base": base})))

    def _mount_root(self, pod: int | None, node: str, image: str) -> Path:
        d = self.node_dir(pod, node)
        if not d.exists():
            self.state.journal.will_create(Resource("dir", str(d), pod))
        base = self.userns_base(pod, node) if pod is not None else None
        for sub in ("upper", "work", "root") + (("lower",) if base is not None else ()):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if base is not None and (d / "upper").stat().st_uid < userns.RANGE:
            # A new node, or a layer the host wrote (prep's bare layers): never a layer the node
            # wrote, whatever its root did to the ownership of its own / (those IDs are ≥ base).
            userns.shift_tree(d / "upper", base)
        root = d / "root"
        if not mounts.mounted(root):
            lower = images.rootfs(image)
            if base is not None:
                # The shared image, owned by the host's root, seen by this node as its own.
                if not mounts.mounted(d / "lower"):
                    self.state.journal.will_create(Resource("mount", str(d / "lower"), pod))
                    userns.idmapped_bind(lower, d / "lower", base)
                lower = d / "lower"
            self.state.journal.will_create(Resource("mount", str(root), pod))
            opts = f"lowerdir={lower},upperdir={d / 'upper'},workdir={d / 'work'}"
            mounts.mount_overlay(self.netns(pod, node), root, opts)
        return root

    def _prepare_root(self, pod: int, node: NodePlan) -> None:
        """The node's identity, written before its first boot (what cloud-init does for a VM)."""
        root = self._mount_root(pod, node.name, node.image or "")
        pod_plan = self.plan.pod(pod)
        (root / "etc/hostname").write_text(f"{node.name}\n")
        (root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.fqdn or node.name} {node.name}\n"
            f"# pod {pod} of lab {self.plan.lab}, domain {pod_plan.domain}\n")

    def _start_container(self, pod: int | None, node: str, image: str) -> None:
        root = self._mount_root(pod, node, image)
        if pod is None:
            (root / "etc/hostname").write_text(f"{node}\n")
        machine = self.netns(pod, node)
        key = f"{pod if pod is not None else 'isp'}/{node}"
        argv = [
            "systemd-nspawn", "--boot", f"--directory={root}", f"--machine={machine}",
            f"--hostname={node}", "--register=no", "--keep-unit", "--resolv-conf=off", "--timezone=off",
            "--link-journal=no", "--console=passive",
        ]
        if pod is None:
            # The simulated ISP is the lab's own, never a candidate's: it runs in the named
            # namespace that holds every pod's WAN link (the prep phase's cut lives there).
            argv += [f"--network-namespace-path=/run/netns/{machine}", "--capability=CAP_NET_ADMIN"]
            launch = ["sh", "-c", _SUPERVISOR, f"tai-node:{machine}"]
        else:
            # A candidate's node: its own user namespace (root inside is nobody outside) and
            # its own network namespace, into which its cables are moved at each boot.
            ifaces = [i.name for i in self.plan.pod(pod).node(node).interfaces]
            argv += [f"--private-users={self.userns_base(pod, node)}:{userns.RANGE}",
                     "--private-users-ownership=off", "--private-network",
                     *[f"--network-interface={i}" for i in ifaces]]
            launch = ["unshare", "--mount", "--propagation", "slave", "--",
                      "nsenter", f"--net=/run/netns/{machine}", "--",
                      "sh", "-c", _SUPERVISOR_USERNS, f"tai-node:{machine}"]
        groups = cgroups.plan_dirs(machine)
        self.state.journal.will_create(Resource("cgroup", machine, pod, {"dirs": groups}))
        cgroups.create(groups)
        self.state.journal.will_create(Resource("process", key, pod, {"machine": machine}))
        # systemd-nspawn keeps a mount-propagation directory named after the machine.
        self.state.journal.will_create(Resource("dir", f"/run/systemd/nspawn/propagate/{machine}", pod))
        log = (self.node_dir(pod, node) / "console.log").open("ab")
        # /proc/sys/net writable: a router must be able to turn forwarding on.
        env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network", TAI_CGROUPS=" ".join(groups))
        proc = subprocess.Popen([*launch, *argv],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
        log.close()
        self.state.journal.will_create(Resource("process", key, pod, {
            "machine": machine, "pid": proc.pid, "start": _proc_start_time(proc.pid)}))

    def _nspawn_pid(self, pod: int | None, node: str) -> int | None:
        key = f"{pod if pod is not None else 'isp'}/{node}"
        for res in self.state.journal.live():
            if res.kind == "process" and res.name == key:
                return self._verified_pid(res)
        return None

    @staticmethod
    def _verified_pid(res: Resource) -> int | None:
        """The recorded supervisor PID if it is still that very process (not a reused PID)."""
        data = res.data or {}
        pid = data.get("pid")
        machine = data.get("machine")
        if pid and _proc_start_time(pid) == data.get("start"):
            return pid
        # Crash between spawn and record: find it by its recorded machine name only.
        orphan = None
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                args = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(args) > 3 and args[3] == f"tai-node:{machine}".encode():
                return int(p.name)            # the supervisor
            if args and args[0].endswith(b"systemd-nspawn") and f"--machine={machine}".encode() in args:
                orphan = int(p.name)          # an nspawn whose supervisor is gone
        return orphan

    def leader(self, pod: int | None, node: str) -> int:
        pid = self._nspawn_pid(pod, node)
        leader = _container_init(pid) if pid else None
        if leader is None:
            where = "the upstream ISP" if pod is None else f"pod {pod}"
            raise LabStateError(f"{node} of {where} is not running",
                                "see `tai-lab status`; `tai-lab reset --pod N` restarts a pod")
        return leader

    def _wait_ready(self, nodes: list[tuple[int | None, str]]) -> None:
        """Wait until each container's systemd finished booting."""
        def wait(item: tuple[int | None, str]) -> None:
            pod, node = item
            deadline = time.monotonic() + _BOOT_TIMEOUT
            leader = None
            while leader is None:
                pid = self._nspawn_pid(pod, node)
                leader = _container_init(pid) if pid else None
                if leader is None:
                    if time.monotonic() > deadline or (pid is None):
                        log = self.node_dir(pod, node) / "console.log"
                        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                        raise CommandFailed(f"container {node} (pod {pod}) did not start:\n{tail}")
                    time.sleep(0.05)
            t = NsenterTransport(node, leader, userns=pod is not None)
            while True:
                left = max(1.0, deadline - time.monotonic())
                res = t.run(["systemctl", "is-system-running", "--wait"], timeout=left)
                if res.text in ("running", "degraded"):
                    return
                if time.monotonic() > deadline:
                    jobs = t.run(["systemctl", "list-jobs", "--no-pager"], timeout=5)
                    log = self.node_dir(pod, node) / "console.log"
                    tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
                    raise CommandFailed(f"container {node} (pod {pod}) did not finish booting in "
                                        f"{_BOOT_TIMEOUT:.0f} s: {res.text or res.stderr}\n"
                                        f"{jobs.stdout[-600:]}\n{tail}")
                time.sleep(0.1)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(wait, nodes))

    def _stop_process(self, res: Resource, *, graceful: bool) -> None:
        pid = self._verified_pid(res)
        if pid is not None:
            leader = _container_init(pid)
            if graceful:
                os.kill(pid, signal.SIGTERM)  # → nspawn asks the container's systemd to power off
                deadline = time.monotonic() + 10
                while _proc_start_time(pid) is not None and time.monotonic() < deadline:
                    time.sleep(0.05)
            if not graceful:
                # Power cut: every process of the node at once — supervisor, systemd-nspawn, the
                # container — through its cgroup. systemd-nspawn then has no clean-up to do but
                # its image lock: the caller drops the node's network and mounts anyway.
                self._power_cut(res, pid)
            if _proc_start_time(pid) is not None:
                # Killing the container's PID 1 ends its whole PID namespace.
                if leader:
                    try:
                        os.kill(leader, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 10
                while _proc_start_time(pid) is not None and time.monotonic() < deadline:
                    time.sleep(0.02)
                if _proc_start_time(pid) is not None:
                    for child in [pid, *_children(pid)]:   # supervisor first: it must not restart
                        try:
                            os.kill(child, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            # reap if it is our child
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.state.journal.removed(res)

    def _power_cut(self, res: Resource, pid: int) -> None:
        machine = (res.data or {}).get("machine")
        dirs = next(((r.data or {}).get("dirs", []) for r in self.state.journal.live()
                     if r.kind == "cgroup" and r.name == machine), [])
        pod, _, node = res.name.partition("/")
        root = self.node_dir(None if pod == "isp" else int(pod), node) / "root"
        try:
            st = os.stat(root) if mounts.mounted(root) else None
        except OSError:
            st = None
        if not dirs or not cgroups.kill(dirs, timeout=10):
            return                  # the caller's slower way (PID 1, then each process)
        while _proc_start_time(pid) is not None:    # reaped if it is our child
            time.sleep(0.01)
        if st is not None:
            # What systemd-nspawn removes when it exits on its own (image_path_lock()).
            Path(f"/run/systemd/nspawn/locks/inode-{st.st_dev}:{st.st_ino}").unlink(missing_ok=True)

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

    # ------------------------------------------------------------------ phases
    def set_upstream(self, pod: int, up: bool) -> None:
        _ip("link", "set", f"pod{pod}", "up" if up else "down", netns=self.netns(None, "isp"))

    def upstream_is_up(self, pod: int) -> bool:
        """The real state of the pod's WAN link at the ISP side (administratively up)."""
        proc = _ip("-o", "link", "show", f"pod{pod}", netns=self.netns(None, "isp"), check=False)
        flags = proc.stdout.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in proc.stdout else []
        return proc.returncode == 0 and "UP" in flags

    # ------------------------------------------------------------------ snapshots
    def _pod_processes(self, pod: int) -> list[Resource]:
        return [r for r in self.state.journal.live() if r.kind == "process" and r.pod == pod]

    def snapshot(self, pod: PodPlan, name: str) -> None:
        """Stop the pod's containers cleanly, copy their upper layers, boot them again."""
        n = pod.number
        containers = [x for x in pod.nodes if x.is_container]
        self._teardown(self._pod_processes(n), graceful=True)
        self.snapshot_stopped(pod, name)
        self._boot(n, containers)

    def snapshots(self, pod: int) -> list[str]:
        d = self.state.dir / f"pods/{pod}/snapshots"
        return sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if d.is_dir() else []

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

    # ------------------------------------------------------------------ access
    def transport(self, pod: int | None, node: str):
        if pod is not None:
            plan_node = self.plan.pod(pod).node(node)
            if not plan_node.is_container:
                return NetnsTransport(node, self.netns(pod, node))
        return NsenterTransport(node, self.leader(pod, node), userns=pod is not None)

    def node_running(self, pod: int | None, node: str) -> bool:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            return Path(f"/run/netns/{self.netns(pod, node)}").exists()
        pid = self._nspawn_pid(pod, node)
        return bool(pid and _container_init(pid))

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        return {
            # playbooks/plugins/connection/tai_nsenter.py: the transports' way in, with pipelining
            "ansible_connection": "tai_nsenter",
            "ansible_nsenter_pid": self.leader(pod, node),
            "ansible_nsenter_userns": pod is not None,
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    # ------------------------------------------------------------------ power (prep seal)
    def stop_pod(self, pod: PodPlan) -> None:
        """Power the pod's machines off cleanly; network and overlay mounts stay (the seal)."""
        self._teardown(self._pod_processes(pod.number), graceful=True)

    def start_pod(self, pod: PodPlan) -> None:
        """Boot the pod's machines that are not running, in dependency order."""
        self._boot(pod.number, [x for x in pod.nodes if x.is_container
                                and not self.node_running(pod.number, x.name)])

    def upstream_nodes(self) -> list[str]:
        return ["isp"]

    # ------------------------------------------------------------------ layers (the prep phase)
    def written_layer(self, pod: int, node: str) -> Path:
        return self.node_dir(pod, node) / "upper"

    def snapshot_stopped(self, pod: PodPlan, name: str) -> None:
        """Copy the upper layers of a pod whose containers are off; they stay off."""
        self.compose_snapshot(pod, name, {})

    def compose_snapshot(self, pod: PodPlan, name: str, layers: Mapping[str, Layer]) -> None:
        """Each container's layer from ``layers`` (a snapshot's name, or a function writing a
        fresh one), or, for a container not named there, its current upper layer."""
        n = pod.number
        dest = self.snapshot_dir(n, name)
        tmp = dest.with_name(f".{name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for node in (x for x in pod.nodes if x.is_container):
            layer = layers.get(node.name)
            if callable(layer):
                (tmp / node.name).mkdir()
                layer(tmp / node.name)
                continue
            src = self.snapshot_dir(n, layer) / node.name if layer else self.node_dir(n, node.name) / "upper"
            subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(tmp / node.name)],
                           check=True, capture_output=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)

    # ------------------------------------------------------------------ files, ports
    def copy_to_node(self, pod: int | None, node: str, source: Path, dest: str) -> None:
        """Copied into the container's root (reflinks where possible); a pod's node gets it
        owned by its own root (its user namespace)."""
        target = self.node_dir(pod, node) / "root" / dest.lstrip("/")
        if not mounts.mounted(self.node_dir(pod, node) / "root"):
            raise LabStateError(f"{node} has no mounted root to copy {source.name} into",
                                "see `tai-lab status`; `tai-lab reset --pod N` restarts a pod")
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)], check=True, capture_output=True)
        if pod is not None:
            userns.shift_tree(target, self.userns_base(pod, node))

    def port_namespace(self, pod: int, device: str) -> str:
        return self.netns(pod, device)
