"""The Vagrant box of tai-lab's image with the project's Vagrantfile, for real (TCG here).

Pod 1 of tai-mini-vm (router + client) under lab name ``tvag``: ``vagrant up`` adds the box
from the local catalog by itself (no download), boots both VMs by direct kernel boot, reaches
them over SSH through the isolated management network; the scenario's NICs keep their order
and MACs and take no address; the scenario's networks have no host address and no forward;
``vagrant snapshot save`` / ``restore`` undo a change; ``vagrant destroy`` plus the bench's
cleanup leave no domain, network, pool or volume. About two to four minutes under TCG.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import lab_name

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import vagrant as vagrant_bench  # noqa: E402  (bench/vagrant.py: the pod under Vagrant, its cleanup)

sys.path.remove(str(ROOT / "bench"))
LAB = lab_name("tvag")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("vagrant") is None:
        return "vagrant is not installed (scripts/install-host-deps.sh installs vagrant and vagrant-libvirt)"
    if shutil.which("virsh") is None or subprocess.run(["virsh", "-c", "qemu:///system", "version"],
                                                       capture_output=True).returncode != 0:
        return "libvirtd is not running (scripts/libvirt-host.sh starts it)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _names(kind: str) -> list[str]:
    out = subprocess.run(["virsh", "-q", kind, "--all", "--name"], capture_output=True, text=True).stdout
    return [n for n in out.split() if n.startswith(f"tai-{LAB}-")]


def _domain_type() -> str:
    # As tai-lab decided for this host (its probe's cache), else TCG: it runs everywhere.
    return vagrant_bench.known_domain_type() or "qemu"


@pytest.fixture(scope="module")
def pod(lab_home):
    from tai_lab.images import vagrant as images_vagrant, vm as images_vm
    images_vm.build("debian-12", progress=print)            # cached
    images_vagrant.build("debian-12-vagrant", progress=print)  # cached: built once per recipe
    p = vagrant_bench.VagrantPod(LAB, _domain_type(), suffix="")
    try:
        p.create_pool()
        # No `vagrant box add`: the Vagrantfile's box_url (the local catalog) adds it.
        p.vagrant("up", "--provider=libvirt", "--no-provision", p.pattern)
        yield p
    finally:
        left = p.close()
        print("left by vagrant destroy:", left)
        assert not _names("list") and not _names("net-list"), (_names("list"), _names("net-list"))
        pools = subprocess.run(["virsh", "-q", "pool-list", "--all", "--name"], capture_output=True,
                               text=True).stdout.split()
        assert p.pool not in pools
        assert not p.tmp.exists()


def test_machines_run_the_box_by_direct_kernel_boot(pod):
    proc = subprocess.run(["vagrant", "box", "list"], env=pod.env, capture_output=True, text=True)
    assert "tai-lab/debian-12 (libvirt" in proc.stdout      # added from the local catalog
    for name in pod.machines:
        xml = ET.fromstring(subprocess.run(["virsh", "dumpxml", name], capture_output=True, text=True,
                                           check=True).stdout)
        assert xml.get("type") == pod.env["TAI_LAB_VAGRANT_DRIVER"]
        kernel = xml.findtext("os/kernel")
        assert kernel and kernel.startswith(pod.env["VAGRANT_HOME"]) and kernel.endswith("/vmlinuz")
        assert "root=/dev/vda" in xml.findtext("os/cmdline")


def test_scenario_networks_are_isolated_without_host_address(pod):
    for net in pod.created["networks"]:
        xml = ET.fromstring(subprocess.run(["virsh", "net-dumpxml", net], capture_output=True, text=True,
                                           check=True).stdout)
        assert xml.find("forward") is None, net           # nothing leaves the host
        if net.endswith("-vagrant-mgmt"):
            assert xml.find("ip/dhcp") is not None         # Vagrant's SSH path (host address, DHCP)
        else:
            assert xml.find("ip") is None, net              # the scenario's segments: no host address


def test_nics_keep_the_scenarios_order_and_the_management_nic_comes_last(pod):
    router = next(m for m in pod.plan["machines"] if m["pod"] == 1 and m["node"] == "router")
    res = pod.ssh(router["name"], "hostname; for i in /sys/class/net/eth*; do "
                  "echo $(basename $i) $(cat $i/address) $(ip -4 -o addr show dev $(basename $i) | wc -l); done")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "router"                               # Vagrant set the hostname over SSH
    nics = {n: (mac, int(addrs)) for n, mac, addrs in (line.split() for line in lines[1:])}
    for k, i in enumerate(router["interfaces"]):
        assert nics[f"eth{k}"] == (i["mac"], 0), nics       # the scenario's NIC, no address
    mgmt = f"eth{len(router['interfaces'])}"
    assert nics[mgmt][1] == 1, nics                           # the management NIC, by DHCP


def test_snapshot_restore_undoes_a_change(pod):
    pod.save()
    assert pod.restore_round() > 0          # raises if the change is still there after the restore
