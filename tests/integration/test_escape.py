"""Root in a pod stays in the pod: escape attempts from inside the nodes, as a candidate.

Every attempt runs with the candidate's rights: started by the node's own init
(``systemd-run`` inside the node: the node's user namespace, capability bounding set,
system-call filter and cgroup — what a login on the node gets), never through
``tai-lab exec``'s own door, which is tested separately. Each attempt must fail, and the
test checks on the host (and at the ISP) that nothing happened, not only that a command
printed an error.
"""
from __future__ import annotations

import os
import shlex
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from .conftest import lab_name, standard_lab

LAB = lab_name("tesc")
NODES = ["pc1", "srv", "router"]


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    with standard_lab(LAB, 2, tmp_path_factory.mktemp("escape")) as lab:
        yield lab


def as_candidate(lab, node: str, script: str, pod: int = 1, timeout: float = 90):
    """Run a shell script on the node as its root user would: a service of the node's init."""
    argv = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--", "sh", "-s"]
    res = lab.backend.transport(pod, node).run(argv, input=script, timeout=timeout)
    assert res.exit_status != 124, f"the attempt on {node} hung: {res.stdout} {res.stderr}"
    return res.stdout + res.stderr


def marker() -> Path:
    return Path(f"/tmp/tai-escape-{uuid.uuid4().hex[:12]}")


def test_candidate_context_is_the_nodes(lab):
    """The harness itself: what runs is confined like a login on the node."""
    for node in NODES:
        out = as_candidate(lab, node, "id -u; grep -E '^(Seccomp|CapEff):' /proc/self/status; "
                                      "cat /proc/self/uid_map")
        lines = out.split()
        assert lines[0] == "0", out                      # root inside…
        assert "Seccomp:" in out and out.split("Seccomp:")[1].split()[0] == "2", out
        inside, outside, count = out.strip().splitlines()[-1].split()
        assert inside == "0" and int(outside) >= 65536 and count == "65536", out   # …nobody outside


def test_each_node_has_its_own_unprivileged_ids(lab):
    bases = {}
    for pod in (1, 2):
        for node in [x.name for x in lab.plan.pod(pod).nodes if x.is_container]:
            leader = lab.backend.leader(pod, node)
            first = Path(f"/proc/{leader}/uid_map").read_text().split()
            assert first[0] == "0" and first[1] != "0", (pod, node, first)
            assert os.stat(f"/proc/{leader}").st_uid == int(first[1])   # host sees an unprivileged user
            bases[(pod, node)] = int(first[1])
            # its own cgroup (not the host's, not another node's), a fork bomb stops there
            groups = dict(line.split(":", 2)[1:] for line in Path(f"/proc/{leader}/cgroup").read_text().splitlines())
            assert groups["pids"].endswith(lab.backend.netns(pod, node)), groups
            pids_max = Path("/sys/fs/cgroup/pids", groups["pids"].lstrip("/"), "pids.max")
            assert pids_max.read_text().strip() == "8192"
    assert len(set(bases.values())) == len(bases), bases              # no two nodes share IDs


def _host_release_agents() -> dict[str, str]:
    out = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mnt = line.split()[4]
        agent = Path(mnt, "release_agent")
        if " - cgroup " in line and agent.exists():
            out[str(agent)] = agent.read_text()
    return out


@pytest.mark.parametrize("node", NODES)
def test_cgroup_release_agent_escape_fails(lab, node):
    """The classic cgroup v1 escape: a release agent pointing at a script in the node's
    layer (its host path leaks through mountinfo), run by the host when a cgroup empties."""
    mark = marker()
    agents = _host_release_agents()
    script = f"""
upper=$(sed -n 's/.*upperdir=\\([^,]*\\).*/\\1/p' /proc/self/mountinfo | head -n 1)
printf '#!/bin/sh\\ntouch {mark}\\n' > /escape.sh; chmod +x /escape.sh
for h in memory pids devices freezer "none,name=tai" rdma; do
  d=/tmp/cg-$(echo "$h" | tr -c 'a-z' _); mkdir -p "$d"
  mount -t cgroup -o "$h" cgroup "$d" 2>/dev/null || {{ echo "mount $h refused"; continue; }}
  for f in "$d/release_agent" /sys/fs/cgroup/*/release_agent; do
    [ -f "$f" ] && echo "$upper/escape.sh" > "$f" 2>/dev/null && echo "WROTE $f"
  done
  mkdir -p "$d/x" && echo 1 > "$d/x/notify_on_release" 2>/dev/null
  sh -c "echo \\$\\$ > '$d/x/cgroup.procs'; true" 2>/dev/null
done
for f in /sys/fs/cgroup/*/release_agent; do
  [ -f "$f" ] && echo "$upper/escape.sh" > "$f" 2>/dev/null && echo "WROTE $f"
done
sleep 1
"""
    out = as_candidate(lab, node, script)
    time.sleep(1)
    assert not mark.exists(), f"the host ran the node's release agent:\n{out}"
    assert "WROTE" not in out, out
    assert _host_release_agents() == agents


@pytest.mark.parametrize("node", NODES)
def test_host_wide_kernel_settings_stay_the_hosts(lab, node):
    """core_pattern and modprobe run programs as the host's root: the node cannot set them,
    neither through its /proc nor through a proc it mounts again; nor sysrq or the caches."""
    keys = [k for k in ("kernel/core_pattern", "kernel/modprobe", "kernel/sysrq", "net/ipv4/ip_forward",
                        "kernel/hostname") if Path("/proc/sys", k).exists()]   # modprobe: not on every kernel
    before = {k: Path("/proc/sys", k).read_text() for k in keys}
    mark = marker()
    script = f"""
printf '#!/bin/sh\\ntouch {mark}\\n' > /escape.sh; chmod +x /escape.sh
mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>/dev/null && echo "proc mounted again"
for p in /proc/sys /tmp/p/sys; do
  [ -d "$p" ] || continue
  echo '|/escape.sh' > $p/kernel/core_pattern 2>/dev/null && echo "WROTE $p core_pattern"
  echo /escape.sh > $p/kernel/modprobe 2>/dev/null && echo "WROTE $p modprobe"
  echo 1 > $p/kernel/sysrq 2>/dev/null && echo "WROTE $p sysrq"
  echo 3 > $p/vm/drop_caches 2>/dev/null && echo "WROTE $p drop_caches"
done
echo b > /proc/sysrq-trigger 2>/dev/null && echo "WROTE sysrq-trigger"
sysctl -qw net.ipv4.ip_forward=1 kernel.hostname=evil 2>/dev/null
sh -c 'kill -SEGV $$'
sleep 1
"""
    out = as_candidate(lab, node, script)
    time.sleep(0.5)
    assert "WROTE" not in out, out
    assert not mark.exists(), out
    assert {k: Path("/proc/sys", k).read_text() for k in keys} == before


@pytest.mark.parametrize("node", NODES)
def test_no_host_device_no_module_no_new_sysfs(lab, node):
    st = os.stat("/")
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    mods = Path("/proc/modules")            # absent on a kernel built without modules
    modules = mods.read_text() if mods.exists() else None
    script = f"""
mknod /tmp/hostdisk b {major} {minor} 2>/dev/null && echo "MKNOD ok"
head -c 512 /tmp/hostdisk >/dev/null 2>&1 && echo "READ host disk"
for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/mem /dev/kmsg /dev/kvm; do
  [ -e "$d" ] && head -c 1 "$d" >/dev/null 2>&1 && echo "OPENED $d"
done
mkdir -p /tmp/d /tmp/s; mount -t devtmpfs devtmpfs /tmp/d 2>/dev/null && echo "MOUNTED devtmpfs"
mount -t sysfs sysfs /tmp/s 2>/dev/null && echo "MOUNTED sysfs"
python3 - <<'PY'
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for name, nr, args in (("finit_module", 313, (-1, b"", 0)), ("init_module", 175, (b"", 0, b"")),
                       ("delete_module", 176, (b"overlay", 0)), ("kexec_load", 246, (0, 0, 0, 0))):
    if libc.syscall(nr, *args) == 0:
        print("SYSCALL", name, "accepted")
PY
"""
    out = as_candidate(lab, node, script)
    for bad in ("MKNOD ok", "READ host disk", "OPENED", "MOUNTED devtmpfs", "SYSCALL"):
        assert bad not in out, out
    assert (mods.read_text() if mods.exists() else None) == modules


class _Listener:
    """A TCP server on the host's loopback and an abstract unix socket: what the jury
    console and the host's other local services look like. Counts who connects."""

    def __init__(self) -> None:
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen()
        self.port = self.tcp.getsockname()[1]
        self.abstract = f"tai-escape-{uuid.uuid4().hex[:8]}"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen()
        self.accepted = 0
        for s in (self.tcp, self.unix):
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            self.accepted += 1
            c.close()

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()


@pytest.mark.parametrize("node", NODES)
def test_host_loopback_services_are_out_of_reach(lab, node):
    listener = _Listener()
    try:
        script = f"""
python3 - <<'PY'
import socket
for family, addr in ((socket.AF_INET, ("127.0.0.1", {listener.port})),
                     (socket.AF_UNIX, "\\0{listener.abstract}")):
    s = socket.socket(family)
    s.settimeout(1)
    try:
        s.connect(addr)
        print("CONNECTED", addr)
    except OSError:
        pass
PY
ls /run/netns /var/lib/tai-lab 2>/dev/null && echo "SEES host state"
"""
        out = as_candidate(lab, node, script)
        time.sleep(0.3)
        assert "CONNECTED" not in out and "SEES" not in out, out
        assert listener.accepted == 0
    finally:
        listener.close()


@pytest.mark.parametrize("node", NODES)
def test_host_processes_cannot_be_signalled_or_traced(lab, node):
    victim = subprocess.Popen(["sleep", "300"])
    try:
        script = f"""
[ -e /proc/{victim.pid}/cmdline ] && grep -q sleep /proc/{victim.pid}/cmdline && echo "SEES host process"
kill -9 {victim.pid} 2>/dev/null
python3 -c "
import ctypes; libc = ctypes.CDLL(None, use_errno=True)
print('TRACED' if libc.syscall(101, 16, {victim.pid}, 0, 0) == 0 else 'refused')
"
"""
        out = as_candidate(lab, node, script)
        assert "SEES" not in out and "TRACED" not in out, out
        assert victim.poll() is None, "the node killed a host process"
        state = Path(f"/proc/{victim.pid}/status").read_text()
        assert "TracerPid:\t0" in state and "State:\tS" in state
    finally:
        victim.kill()
        victim.wait()


def _isp_rx(lab, pod: int) -> int:
    out = subprocess.run(["ip", "-n", lab.backend.netns(None, "isp"), "-s", "-o", "link", "show",
                          f"pod{pod}"], capture_output=True, text=True, check=True).stdout
    return int(out.split("RX:")[1].split()[8])   # bytes packets errors dropped ... → packets


def test_router_cannot_bring_the_internet_back_during_prep(lab):
    lab.set_phase("prep")
    try:
        assert not lab.backend.upstream_is_up(1)
        rx = _isp_rx(lab, 1)
        script = """
ip link set eth0 down; ip link set eth0 up
ip route replace default dev eth0 2>/dev/null
for t in 1 2 3; do curl -s -m 1 -o /dev/null http://198.51.100.80/ && echo "REACHED the Internet"; done
ip netns list 2>/dev/null | grep -q tai && echo "SEES lab namespaces"
nsenter --net=/proc/1/ns/net ip link show pod1 2>/dev/null && echo "SEES the ISP side"
ls /proc/*/ns/net 2>/dev/null | xargs -n1 readlink 2>/dev/null | sort -u | wc -l | grep -qv '^1$' && echo "SEES another namespace"
true
"""
        out = as_candidate(lab, "router", script)
        assert "REACHED" not in out and "SEES" not in out and "MOVED" not in out, out
        assert not lab.backend.upstream_is_up(1)
        assert _isp_rx(lab, 1) == rx, "the ISP received packets from a cut pod"
        # pod 2's machines are not reachable from pod 1 either
        pod2_srv = next(i.address.ip for i in lab.plan.pod(2).node("srv").interfaces if i.address)
        out = as_candidate(lab, "pc1", f"ping -c 2 -W 1 {pod2_srv} >/dev/null && echo REACHED pod2")
        assert "REACHED" not in out, out
    finally:
        lab.set_phase("jury")


def test_trainer_door_enters_with_the_nodes_rights(lab):
    """`tai-lab exec` (and the playbooks' connection) enter the node's user namespace: root
    there sets no host clock and opens no host device."""
    before = time.time()
    res = lab.exec(1, "pc1", ["date", "-s", "2031-01-01 00:00:00"])
    assert not res.ok
    assert abs(time.time() - before) < 60
    res = lab.exec(1, "pc1", ["sh", "-c", "cat /proc/self/uid_map; mknod /tmp/x b 8 0"])
    assert not res.ok and res.stdout.split()[:2] != ["0", "0"], res.stdout
    # the CLI's exec is the same door
    cli = subprocess.run(["python3", "-m", "tai_lab.cli", "exec", "--lab", LAB, "1", "pc1", "--",
                          "date", "-s", "2031-01-01"], capture_output=True, text=True)
    assert cli.returncode != 0 and abs(time.time() - before) < 60, shlex.join(cli.args)


def test_the_boot_gate_is_the_hosts_and_read_only(lab):
    """The clients' wait for their pod at boot (tai_lab/backends/nspawn/machines.py, the gate)
    is a host directory the node sees read-only: root in the node can neither write it, nor
    remount it writable, nor change what the host holds by unmounting it."""
    gate = lab.state.dir / "pods/1/.gate"
    before = {p.relative_to(gate): p.read_bytes() for p in gate.rglob("*") if p.is_file()}
    assert Path("reseau-pret") in before and Path("units/networking.service.d/tai-lab.conf") in before
    script = ("rm -f /run/tai-lab/reseau-pret; echo hacked > /run/tai-lab/attendre-le-reseau; "
              "mount -o remount,rw /run/tai-lab && echo REMOUNTED; "
              "touch /run/tai-lab/new && echo WROTE; "
              "umount /run/tai-lab && echo UNMOUNTED; "
              "mkdir -p /run/tai-lab/units && echo mine > /run/tai-lab/units/x; true")
    out = as_candidate(lab, "pc1", script)
    assert "REMOUNTED" not in out and "WROTE" not in out, out
    after = {p.relative_to(gate): p.read_bytes() for p in gate.rglob("*") if p.is_file()}
    assert after == before, out
    # The node's drop-in is the one the host wrote, and it has already let the node through.
    shown = lab.backend.transport(1, "pc1").run(["systemctl", "show", "networking", "-p", "DropInPaths"]).stdout
    assert "/run/tai-lab/units/networking.service.d/tai-lab.conf" in shown, shown


def test_a_node_reboots_like_a_machine(lab):
    """A reboot typed on the node brings it back with its cables (the switch side untouched)
    and its own network state started again from its configuration."""
    t = lab.backend.transport(1, "pc1")
    t.run(["ip", "addr", "add", "192.0.2.99/32", "dev", "lo"])
    t.run(["systemctl", "reboot"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            res = lab.backend.transport(1, "pc1").run(["systemctl", "is-system-running"], timeout=5)
            if res.text in ("running", "degraded"):
                break
        except Exception:
            pass
        time.sleep(0.5)
    else:
        pytest.fail("pc1 did not come back after a reboot")
    res = lab.backend.transport(1, "pc1").run(["ip", "-o", "addr", "show"])
    assert "192.0.2.99" not in res.stdout          # a live change is gone, as on a machine
    results = lab.verify(1)
    assert all(r.passed for r in results), [r.evidence for r in results if not r.passed]
