"""libvirt objects rendered from the templates: golden files, and libvirt's own schemas.

Regenerate the golden files after an intended change with
``TAI_LAB_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_libvirt_xml.py``.
"""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tai_lab.backends.libvirt import xml as lx
from tai_lab.scenario import load_plan

from .golden_files import check_golden

ROOT = Path(__file__).resolve().parents[2]
IMG = Path("/images/debian-12-vm")
POOL = "/var/lib/tai-lab/pools/tai-mini-pool-local-000000"


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
    pool = lx.pool_name(plan.lab, "qemu:///system")
    out["pool.xml"] = ("storagepool", lx.render_pool(plan.lab, pool, f"/var/lib/tai-lab/pools/{pool}",
                                                     "qemu:///system"))
    out["volume-base.xml"] = ("storagevol", lx.render_volume(plan.lab, "debian-12-vm.qcow2", 928710656,
                                                             "raw", "disk.qcow2 of image debian-12-vm"))
    out["volume-overlay.xml"] = ("storagevol", lx.render_volume(
        plan.lab, "tai-mini-p1-router.qcow2", 3 * 2**30, "qcow2", "disk of tai-mini-p1-router",
        backing=f"{POOL}/debian-12-vm.qcow2"))
    out["volume-console.xml"] = ("storagevol", lx.render_volume(
        plan.lab, "tai-mini-p1-router.console.log", 0, "raw", "serial console of tai-mini-p1-router"))
    return out


def test_golden_files(plan, update_golden):
    objs = _all_objects(plan)
    wanted = {"network-tai-mini-p1-users.xml", "network-tai-mini-p1-wan.xml",
              "domain-tai-mini-p1-router.xml", "domain-tai-mini-isp.xml", "snapshot-baseline.xml",
              "pool.xml", "volume-base.xml", "volume-overlay.xml"}
    for name in sorted(wanted):
        check_golden(name, objs[name][1], update=update_golden, test_file=__file__)


def test_names_metadata_and_isolation(plan):
    objs = _all_objects(plan)
    for _fname, (kind, text) in objs.items():
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


def test_pool_and_volumes(plan):
    objs = _all_objects(plan)
    pool = ET.fromstring(objs["pool.xml"][1])
    # One dir pool per lab and host, named with the lab's prefix, its directory on the host.
    assert pool.get("type") == "dir"
    name = pool.find("name").text
    assert name.startswith("tai-mini-pool-local-") and pool.find("target/path").text.endswith("/" + name)
    base = ET.fromstring(objs["volume-base.xml"][1])
    assert base.find("target/format").get("type") == "raw" and base.find("backingStore") is None
    assert base.find("capacity").text == "928710656" and base.find("capacity").get("unit") == "bytes"
    ov = ET.fromstring(objs["volume-overlay.xml"][1])
    # A linked clone: qcow2 backed by the uploaded disk's path on the host, qcow2 too.
    assert ov.find("target/format").get("type") == "qcow2" and ov.find("target/compat").text == "1.1"
    assert ov.find("backingStore/path").text == f"{POOL}/debian-12-vm.qcow2"
    assert ov.find("backingStore/format").get("type") == "qcow2"
    assert ov.find("capacity").text == str(3 * 2**30)
    with pytest.raises(ValueError):
        lx.render_volume("mini", "x", 1, "raw", "x", backing="/b.qcow2")
    with pytest.raises(ValueError):
        lx.render_volume("mini", "x", 1, "vmdk", "x")


def test_pool_names_per_host():
    local = lx.pool_name("mini", "qemu:///system")
    a = lx.pool_name("mini", "qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k")
    b = lx.pool_name("mini", "qemu+ssh://root@127.0.0.1:2223/system?keyfile=/k")
    # Two URIs reaching the same libvirtd (loopback) still get two pools.
    assert len({local, a, b}) == 3
    assert a.startswith("tai-mini-pool-127-0-0-1-") and local.startswith("tai-mini-pool-local-")
    assert lx.pool_name("mini", "qemu:///system") == local            # stable
    assert lx.pool_name("mini", "qemu+ssh://root@Salle_B.example/system").startswith("tai-mini-pool-salle-b-")


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
