"""libvirt objects rendered from the templates: golden files, and libvirt's own schemas.

Regenerate the golden files after an intended change with
``TAI_LAB_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_libvirt_xml.py``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tai_lab.backends import libvirt_xml as lx
from tai_lab.scenario import load_plan

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")
IMG = Path("/images/debian-12-vm")


@pytest.fixture(scope="module")
def plan():
    return load_plan(ROOT / "scenarios/tai-mini-vm.yaml", pods=2)


@pytest.fixture(scope="module")
def std():
    return load_plan(ROOT / "scenarios/tai-standard.yaml", pods=2)


def _domain(plan, pod, node) -> str:
    if pod is None:
        nics, kind = lx.isp_nics(plan), "isp"
    else:
        p = plan.pod(pod)
        n = p.node(node)
        nics, kind = lx.node_nics(plan, p, n), n.kind
    return lx.render_domain(
        lab=plan.lab, pod=pod, node=node, kind=kind, image="debian-12-vm", domain_type="qemu",
        memory_mib=256, vcpus=1, kernel=IMG / "vmlinuz", initrd=IMG / "initrd.img",
        cmdline="root=/dev/vda rw console=ttyS0 net.ifnames=0", disk=Path(f"/labs/{plan.lab}/{node}.qcow2"),
        console_log=Path(f"/labs/{plan.lab}/{node}.log"), nics=nics)


def _all_objects(plan) -> dict[str, tuple[str, str]]:
    """file name → (schema, xml) of every object the backend would define for the plan."""
    out: dict[str, tuple[str, str]] = {}
    for net in lx.wan_networks(plan):
        out[f"network-{net}.xml"] = ("network", lx.render_network(plan.lab, net, "WAN"))
    for p in plan.pods:
        for net in lx.pod_networks(plan, p):
            out[f"network-{net}.xml"] = ("network", lx.render_network(plan.lab, net, "VLAN"))
        for n in p.nodes:
            if n.is_container:
                out[f"domain-{lx.domain_name(plan.lab, p.number, n.name)}.xml"] = ("domain", _domain(plan, p.number, n.name))
    out[f"domain-{lx.domain_name(plan.lab, None, 'isp')}.xml"] = ("domain", _domain(plan, None, "isp"))
    out["snapshot-baseline.xml"] = ("domainsnapshot", lx.render_snapshot("baseline", "tai-lab mini pod 1"))
    return out


def test_golden_files(plan):
    objs = _all_objects(plan)
    wanted = {"network-tai-mini-p1-users.xml", "network-tai-mini-p1-wan.xml",
              "domain-tai-mini-p1-router.xml", "domain-tai-mini-isp.xml", "snapshot-baseline.xml"}
    for name in sorted(wanted):
        text = objs[name][1]
        path = GOLDEN / name
        if os.environ.get("TAI_LAB_UPDATE_GOLDEN"):
            path.write_text(text)
        assert path.read_text() == text, f"{name} differs from its golden file"


def test_names_metadata_and_isolation(plan):
    objs = _all_objects(plan)
    for fname, (kind, text) in objs.items():
        root = ET.fromstring(text)
        if kind == "network":
            assert root.find("name").text.startswith("tai-mini-p")
            # Isolated: no forward mode and no host address on the bridge.
            assert root.find("forward") is None and root.find("ip") is None
        elif kind == "domain":
            assert root.find("name").text.startswith("tai-mini-")
            tag = root.find(f"metadata/{{{lx.NS}}}node")
            assert tag is not None and tag.get("lab") == "mini"
            assert root.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    router = ET.fromstring(objs["domain-tai-mini-p1-router.xml"][1])
    ifaces = router.findall("devices/interface")
    assert [i.find("source").get("network") for i in ifaces] == ["tai-mini-p1-wan", "tai-mini-p1-users"]
    # The WAN is born cut; the LAN is up; PCI slots follow the interface order (eth0, eth1).
    assert [i.find("link").get("state") for i in ifaces] == ["down", "up"]
    slots = [int(i.find("address").get("slot"), 16) for i in ifaces]
    assert slots == sorted(slots)
    # Pods share no network but their WAN with the ISP.
    p1 = {i.find("source").get("network") for f, (k, t) in objs.items() if "-p1-" in f and k == "domain"
          for i in ET.fromstring(t).findall("devices/interface")}
    p2 = {i.find("source").get("network") for f, (k, t) in objs.items() if "-p2-" in f and k == "domain"
          for i in ET.fromstring(t).findall("devices/interface")}
    assert p1 and p2 and not p1 & p2


def test_macs_are_stable_and_distinct(plan):
    macs = [nic.mac for p in plan.pods for n in p.nodes if n.is_container for nic in lx.node_nics(plan, p, n)]
    macs += [nic.mac for nic in lx.isp_nics(plan)]
    assert len(macs) == len(set(macs))
    assert lx.mac("mini", 1, "router", "eth0") == lx.mac("mini", 1, "router", "eth0")


def test_wireless_client_joins_the_access_points_vlan(std):
    p = std.pod(1)
    nics = lx.node_nics(std, p, p.node("pc2"))
    assert [n.network for n in nics] == ["tai-std-p1-users"]


def test_link_xml_only_changes_the_link(plan):
    p = plan.pod(1)
    nic = lx.node_nics(plan, p, p.node("router"))[0]
    root = ET.fromstring(lx.link_xml(nic, up=True))
    assert root.find("mac").get("address") == nic.mac and root.find("link").get("state") == "up"


def test_names_are_escaped():
    text = lx.render_network("a&b", "tai-x-p1-users", "<VLAN> & co")
    ET.fromstring(text)   # well-formed whatever the purpose says


@pytest.mark.skipif(shutil.which("virt-xml-validate") is None,
                    reason="virt-xml-validate comes with libvirt-clients (scripts/install-host-deps.sh)")
def test_every_object_passes_virt_xml_validate(plan, std, tmp_path):
    objs = _all_objects(plan) | {f"std-{k}": v for k, v in _all_objects(std).items()}
    for fname, (schema, text) in objs.items():
        path = tmp_path / fname
        path.write_text(text)
        proc = subprocess.run(["virt-xml-validate", str(path), schema], capture_output=True, text=True)
        assert proc.returncode == 0, f"{fname}: {proc.stdout}{proc.stderr}"
