"""A real 2-pod plateau of VMs (libvirt, TCG here): guest agent, phases, reset, down.

Lab ``tvirt``: per pod a router and a client VM, plus the ISP VM (5 small VMs). Slow on
TCG (several minutes): it is one module-scoped plateau for every test of the file.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import lab_name

ROOT = Path(__file__).resolve().parents[2]
LAB = lab_name("tvirt")
PREFIX = f"tai-{LAB}-"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed (pip install '.[libvirt]')"
    if shutil.which("qemu-img") is None or shutil.which("virsh") is None:
        return "qemu-utils / libvirt-clients are not installed (scripts/install-host-deps.sh)"
    if subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True).returncode != 0:
        return "libvirtd is not running (scripts/libvirt-host.sh starts it)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def virsh_names(*args: str) -> list[str]:
    """Names of the lab's objects a virsh listing (list, net-list, pool-list) shows."""
    out = subprocess.run(["virsh", "-c", "qemu:///system", *args, "--all", "--name"],
                         capture_output=True, text=True).stdout.split()
    return [n for n in out if n.startswith(PREFIX)]


@pytest.fixture(scope="module")
def vlab(lab_home, tmp_path_factory):
    from tai_lab.images import vm as images_vm
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    images_vm.build("debian-12", progress=print)   # cached: built once per recipe
    text = (ROOT / "scenarios/tai-mini-vm.yaml").read_text()
    text = re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M)
    path = tmp_path_factory.mktemp("scenario") / "tvirt.yaml"
    path.write_text(text)
    try:
        lab = Lab.up(path, pods=2, backend="libvirt", progress=print)
        yield lab
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)


def _curl(lab, pod, node="pc1", url="http://198.51.100.80/"):
    return lab.exec(pod, node, ["curl", "-fsS", "--max-time", "4", url], timeout=30)


def test_up_gives_vms_reached_through_the_guest_agent(vlab):
    res = vlab.exec(1, "pc1", ["sh", "-c", "hostname; systemd-detect-virt; cat /proc/cmdline"])
    assert res.ok, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0] == "pc1" and lines[1] in ("qemu", "kvm")   # a VM, not a container
    assert "net.ifnames=0" in res.stdout
    st = {s.number: s for s in vlab.status()}
    assert all(st[1].nodes.values()) and "baseline" in st[1].snapshots
    # Input and exit status travel through the agent.
    res = vlab.exec(2, "router", ["sh", "-c", "cat; exit 3"], input="bonjour")
    assert (res.exit_status, res.stdout) == (3, "bonjour")
    # The router's interfaces are in the scenario's order (PCI order = eth0, eth1).
    res = vlab.exec(1, "router", ["ip", "-4", "-o", "addr", "show", "dev", "eth1"])
    assert "10.1.10.1/24" in res.stdout


def test_setup_phase_reaches_the_internet(vlab):
    assert vlab.backend.upstream_is_up(1)
    res = _curl(vlab, 1)
    assert res.ok and "TAI-INTERNET-OK" in res.stdout, res.brief()
    bad = [r for r in vlab.verify() if not r.passed]
    assert not bad, [r.evidence for r in bad]


def test_prep_phase_cut_at_the_hypervisor(vlab):
    vlab.set_phase("prep")
    try:
        assert not vlab.backend.upstream_is_up(1) and not vlab.backend.upstream_is_up(2)
        assert not _curl(vlab, 1).ok
        # Root inside the pod tries to undo the cut: link bounced, routes rewritten.
        vlab.exec(1, "router", ["sh", "-c", "ip link set eth0 down; ip link set eth0 up; "
                                "ip route replace default via 100.64.1.1 dev eth0 onlink"])
        vlab.exec(1, "pc1", ["ip", "route", "replace", "default", "via", "10.1.10.1"])
        assert not _curl(vlab, 1).ok
        carrier = vlab.exec(1, "router", ["cat", "/sys/class/net/eth0/carrier"])
        assert carrier.text != "1"
        # The other pod is unreachable, by its LAN and its WAN address.
        for addr in ("10.2.10.1", "10.2.10.10", "100.64.2.2"):
            assert not vlab.exec(1, "pc1", ["ping", "-c", "1", "-W", "1", addr]).ok, addr
        bad = [r for r in vlab.verify(1) if not r.passed]
        assert not bad, [r.evidence for r in bad]
    finally:
        vlab.set_phase("jury")
    assert vlab.backend.upstream_is_up(1)
    res = _curl(vlab, 1)
    assert res.ok and "TAI-INTERNET-OK" in res.stdout, res.brief()
    # Even in the jury phase, pods do not reach each other through the ISP.
    assert not vlab.exec(1, "pc1", ["ping", "-c", "1", "-W", "1", "100.64.2.2"]).ok


def test_reset_reverts_one_pod_only(vlab):
    for pod in (1, 2):
        res = vlab.exec(pod, "pc1", ["sh", "-c", "echo changed > /root/candidate.txt; "
                                     "ip route del default"])
        assert res.ok, res.stderr
    results = vlab.reset(pod=1)
    assert all(r.passed for r in results), [r.evidence for r in results if not r.passed]
    assert not vlab.exec(1, "pc1", ["test", "-e", "/root/candidate.txt"]).ok
    assert vlab.exec(2, "pc1", ["cat", "/root/candidate.txt"]).text == "changed"
    assert "default" not in vlab.exec(2, "pc1", ["ip", "route"]).stdout
    # A live revert: the VM did not boot again (its uptime predates the reset).
    assert vlab.backend.last_timings["revert"] < 60
    # The clock was set again after the revert (a resumed VM is behind otherwise).
    import time
    guest = float(vlab.exec(1, "pc1", ["date", "+%s"]).text)
    assert abs(guest - time.time()) < 30
    vlab.reset(pod=2)


def test_intervention_injected_fixed_and_restored(vlab):
    inj = vlab.inject("internet-down", 1, variant="forwarding-off")
    assert inj
    assert not all(c.fixed for c in vlab.check(1))
    # The technician's fix: forwarding back on, now and at boot.
    fix = vlab.exec(1, "router", ["sh", "-c", "sysctl -w net.ipv4.ip_forward=1 && "
                                  "echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-tai-router.conf"])
    assert fix.ok, fix.stderr
    assert all(c.fixed for c in vlab.check(1))
    vlab.restore(1)
    assert _curl(vlab, 1).ok


def test_down_leaves_nothing(vlab):
    from tai_lab.backends.libvirt import xml as lx
    from tai_lab.lab import Lab
    # The disks are volumes of the lab's pool on the host (one per VM, and the image's).
    pool = vlab.backend.conn().storagePoolLookupByName(lx.pool_name(LAB, "qemu:///system"))
    disks = [Path(v.path()) for v in pool.listAllVolumes(0) if v.name().endswith(".qcow2")]
    assert len(disks) == 6 and all(d.exists() for d in disks)
    Lab.down(LAB)
    assert virsh_names("list") == []
    assert virsh_names("net-list") == []
    assert not vlab.state.dir.exists()
    assert not any(d.exists() for d in disks)
    vols = subprocess.run(["virsh", "-c", "qemu:///system", "vol-list", "--pool", "default"],
                          capture_output=True, text=True).stdout
    assert PREFIX not in vols
    # The lab's storage pool, its volumes and its directory are gone.
    assert virsh_names("pool-list") == []
    assert not list(Path("/var/lib/tai-lab/pools").glob(f"{PREFIX}*"))
