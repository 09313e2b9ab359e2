"""The containers as machines: started under a small supervisor (reboots, cgroups), waited for
in boot order, powered off cleanly or cut."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import CommandFailed, LabStateError
from ...plan import NodePlan
from ...state import Resource
from ...transports.nsenter import NsenterTransport
from . import cgroups, mounts, userns
from .storage import Storage

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


# The served tier boots beside the serving one (a pod's boot is one tier long, not two) and
# asks for its address only once the first tier serves: its networking.service waits, at the
# start of each boot of the node, for a flag the host raises then. The flag and the drop-in
# that waits for it are the host's files, bind-mounted read-only on the node's /run/tai-lab
# (the node writes nothing the host reads); the node's systemd finds the drop-in through
# $SYSTEMD_UNIT_PATH (its default paths after it), so nothing of the node's /run/systemd is
# the host's. Once raised, the flag stays: a reboot typed by the candidate does not wait.
# The wait is bounded (a pod whose router never serves still boots).
_GATE_DIR = "/run/tai-lab"                               # in the node
_GATE_FLAG = "reseau-pret"
_GATE_WAIT_S = 30
_GATE_SCRIPT = f"""\
# tai-lab : au démarrage du pod, ce poste attend que le routeur et le serveur soient prêts à lui
# donner une adresse (au plus {_GATE_WAIT_S} s) avant de la demander.
i=0
while [ ! -e {_GATE_DIR}/{_GATE_FLAG} ] && [ "$i" -lt {_GATE_WAIT_S * 10} ]; do sleep 0.1; i=$((i + 1)); done
"""
_GATE_DROPIN = f"""\
# tai-lab : voir {_GATE_DIR}/attendre-le-reseau (le poste demande son adresse quand le pod est prêt).
[Service]
ExecStartPre=-/bin/sh {_GATE_DIR}/attendre-le-reseau
"""


def _nspawn_path(path: Path) -> str:
    """A path in a systemd-nspawn --bind option (its ':' separate the fields)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:")


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


def _listens(leader: int, socket: str = "/run/systemd/private") -> bool:
    """The node's systemd (or, with ``socket="/run/dbus/system_bus_socket"``, its D-Bus: what
    ``systemd-run --wait`` needs) takes requests: asking before only costs a pair of processes
    that fail, a dozen times per node and boot, on a machine the boot keeps busy. Only a stat,
    never an open, of a path inside the node."""
    try:
        os.lstat(f"/proc/{leader}/root{socket}")
        return True
    except OSError:
        return False


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


class Machines(Storage):
    """Start, supervise, wait for and stop the containers."""

    def _gate(self, pod: int) -> Path:
        """The host's side of the served tier's wait (see _GATE_SCRIPT): the pod's directory
        that each served node sees read-only as /run/tai-lab."""
        d = self.state.dir / f"pods/{pod}/.gate"       # a node name never starts with a dot
        if not (d / "attendre-le-reseau").is_file():
            (d / "units/networking.service.d").mkdir(parents=True, exist_ok=True)
            (d / "units/networking.service.d/tai-lab.conf").write_text(_GATE_DROPIN)
            (d / "attendre-le-reseau").write_text(_GATE_SCRIPT)
        return d

    def _boot(self, pod: int, nodes: list[NodePlan]) -> None:
        """Boot the pod's machines: those that serve (router, servers) and those served
        (clients, printer) at once, the served asking for their addresses when the first
        tier serves (the gate); with TAI_LAB_BOOT=tiers, the served start only then (the
        earlier way, kept to measure one against the other)."""
        serving = [x for x in nodes if _TIERS.get(x.kind, 1) == 0]
        served = [x for x in nodes if _TIERS.get(x.kind, 1) != 0]
        gate = self._gate(pod)
        flag = gate / _GATE_FLAG
        together = os.environ.get("TAI_LAB_BOOT", "together") != "tiers"
        if serving and served:
            flag.unlink(missing_ok=True)
        else:
            flag.touch()
        for node in serving + (served if together else []):
            self._start_container(pod, node.name, node.image or "")
        if serving and served:
            self._wait_serving([(pod, x.name) for x in serving])
            flag.touch()
            if not together:
                for node in served:
                    self._start_container(pod, node.name, node.image or "")
        self._wait_ready([(pod, x.name) for x in serving + served])

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
                if leader is not None and _listens(leader, "/run/dbus/system_bus_socket"):
                    t = NsenterTransport(node, leader, userns=pod is not None)
                    if t.run(_SERVING, timeout=max(1.0, deadline - time.monotonic())).ok:
                        return
                time.sleep(0.02)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(wait, nodes))

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
            plan_node = self.plan.pod(pod).node(node)
            ifaces = [i.name for i in plan_node.interfaces]
            argv += [f"--private-users={self.userns_base(pod, node)}:{userns.RANGE}",
                     "--private-users-ownership=off", "--private-network",
                     *[f"--network-interface={i}" for i in ifaces]]
            if _TIERS.get(plan_node.kind, 1) != 0:
                gate = self._gate(pod)
                argv += [f"--bind-ro={_nspawn_path(gate)}:{_GATE_DIR}",
                         f"--setenv=SYSTEMD_UNIT_PATH={_GATE_DIR}/units:"]
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
            while not _listens(leader) and time.monotonic() < deadline and _proc_start_time(leader):
                time.sleep(0.02)
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
        dirs: list[str] = next(((r.data or {}).get("dirs", []) for r in self.state.journal.live()
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

    def node_running(self, pod: int | None, node: str) -> bool:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            return Path(f"/run/netns/{self.netns(pod, node)}").exists()
        pid = self._nspawn_pid(pod, node)
        return bool(pid and _container_init(pid))

    def _pod_processes(self, pod: int) -> list[Resource]:
        return [r for r in self.state.journal.live() if r.kind == "process" and r.pod == pod]
