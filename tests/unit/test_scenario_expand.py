"""Expansion of the reference scenario into the lab plan."""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from tai_lab.errors import TaiLabError
from tai_lab.plan import LabPlan
from tai_lab.scenario import expand, load_plan, load_scenario

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "scenarios" / "tai-standard.yaml"


def _plan(pods: int | None = None) -> LabPlan:
    return load_plan(STANDARD, pods=pods)


def test_standard_loads_with_its_own_pod_count() -> None:
    scenario, smap = load_scenario(STANDARD)
    assert scenario.lab == "std"
    assert scenario.pods == 2
    line = STANDARD.read_text().splitlines().index("    pc1:") + 1
    assert smap.position(("pod", "nodes", "pc1")) == (line, 5)
    # A location missing from the file falls back to its nearest enclosing part.
    assert smap.position(("pod", "nodes", "pc1", "image", "nope")) == smap.position(("pod", "nodes", "pc1", "image"))
    plan = _plan()
    assert [p.number for p in plan.pods] == [1, 2]
    assert plan.source == str(STANDARD)
    assert plan.upstream.resolver == IPv4Address("198.51.100.53")
    assert plan.upstream.sites[0].name == "www.example.net"


@pytest.mark.parametrize("pods", [1, 2, 16])
def test_pods_share_no_address_subnet_or_name(pods: int) -> None:
    plan = _plan(pods)
    assert len(plan.pods) == pods
    addresses: list[IPv4Address] = []
    networks = []
    domains = []
    fqdns = []
    for pod in plan.pods:
        domains.append(pod.domain)
        networks.append(pod.wan.network)
        addresses += [pod.wan.isp_address.ip, pod.wan.router_address.ip]
        networks += [v.subnet for v in pod.vlans]
        for node in pod.nodes:
            fqdns.append(node.fqdn)
            addresses += [i.address.ip for i in node.interfaces if i.address and i.segment.kind != "upstream"]
    assert len(set(addresses)) == len(addresses)
    assert len(set(domains)) == len(domains)
    assert len(set(fqdns)) == len(fqdns)
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            assert not a.overlaps(b), (a, b)


@pytest.mark.parametrize("number", [1, 2, 16])
def test_pod_addressing(number: int) -> None:
    pod = _plan(16).pod(number)
    assert pod.domain == f"pod{number}.tai.lan"
    assert pod.wan.isp_address == IPv4Interface(f"100.64.{number}.1/30")
    assert pod.wan.router_address == IPv4Interface(f"100.64.{number}.2/30")

    router = pod.node("router")
    assert router.interface("eth0").address == pod.wan.router_address
    assert router.interface("eth0").gateway == pod.wan.isp_address.ip
    assert router.interface("eth1").address == IPv4Interface(f"10.{number}.10.1/24")
    assert router.interface("eth1").gateway is None
    assert pod.vlan("users").gateway == IPv4Address(f"10.{number}.10.1")
    assert pod.vlan("servers").gateway == IPv4Address(f"10.{number}.20.1")
    assert pod.vlan("users").dhcp_range == (IPv4Address(f"10.{number}.10.100"), IPv4Address(f"10.{number}.10.199"))
    assert pod.vlan("servers").dhcp_range is None

    srv = pod.node("srv")
    assert pod.address_of("srv") == IPv4Address(f"10.{number}.20.10")
    assert srv.interface("eth0").gateway == IPv4Address(f"10.{number}.20.1")
    assert srv.fqdn == f"srv.pod{number}.tai.lan"
    assert srv.aliases == ("intranet", "ns")
    assert pod.nodes_with_role("dhcp") == [srv]

    pc1 = pod.node("pc1").interface("eth0")
    assert (pc1.dhcp, pc1.address, pc1.gateway) == (True, None, None)
    assert pc1.segment.kind == "vlan" and pc1.segment.name == "users"
    pc2 = pod.node("pc2").interface("wlan0")
    assert pc2.dhcp and pc2.segment.kind == "wireless" and pc2.segment.name == "ap"

    ap = pod.node("ap")
    assert ap.image is None and not ap.is_container
    assert ap.wireless is not None and ap.wireless.ssid == f"TAI-POD{number}"
    assert pod.node("switch").interfaces == ()
    assert pod.services["fileshare"]["password"] == f"tai-{number}"
    assert pod.services["intranet"]["title"] == f"Intranet du pod {number}"


def test_expand_is_deterministic_and_pure() -> None:
    scenario, _ = load_scenario(STANDARD)
    before = scenario.model_dump()
    a = expand(scenario, source="x.yaml", pods=3)
    b = expand(scenario, source="x.yaml", pods=3)
    assert a == b
    assert [p.services for p in a.pods] == [p.services for p in b.pods]
    assert scenario.model_dump() == before  # "{pod}" not replaced in place


@pytest.mark.parametrize("pods", [0, 17])
def test_pod_count_out_of_range(pods: int) -> None:
    scenario, _ = load_scenario(STANDARD)
    with pytest.raises(TaiLabError, match="va de 1 à 16") as caught:      # French by default
        expand(scenario, source="x", pods=pods)
    assert "between 1 and 16" in caught.value.message.en  # type: ignore[attr-defined]
    with pytest.raises(TaiLabError, match="va de 1 à 16"):
        load_plan(STANDARD, pods=pods)


def test_static_host_on_wireless_gets_the_ap_vlan(tmp_path: Path) -> None:
    text = STANDARD.read_text().replace("{name: wlan0, wireless: ap, dhcp: true}", "{name: wlan0, wireless: ap, host: 30}")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    wlan0 = load_plan(path).pod(2).node("pc2").interface("wlan0")
    assert wlan0.address == IPv4Interface("10.2.10.30/24")
    assert wlan0.gateway == IPv4Address("10.2.10.1")
