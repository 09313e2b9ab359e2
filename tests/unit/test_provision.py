"""The Ansible inventory is derived from the plan only."""
from __future__ import annotations

from pathlib import Path

from tai_lab import provision
from tai_lab.scenario import load_plan

STD = Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml"


def _inv():
    plan = load_plan(STD, pods=2)
    def hv(pod, node):
        return {"ansible_connection": "community.docker.nsenter", "ansible_nsenter_pid": 1}
    return provision.inventory(plan, [1, 2], hv, upstream=True)["all"]["children"]


def test_groups_by_kind_and_no_network_devices():
    inv = _inv()
    assert set(inv) == {"isp", "router", "server", "client", "printer"}
    assert set(inv["client"]["hosts"]) == {"p1-pc1", "p1-pc2", "p2-pc1", "p2-pc2"}
    assert all(h["ansible_connection"] == "community.docker.nsenter"
               for g in inv.values() for h in g["hosts"].values())


def test_router_relays_dhcp_to_its_pods_server():
    r2 = _inv()["router"]["hosts"]["p2-router"]
    assert r2["dhcp_server"] == "10.2.20.10"
    assert r2["relay_interfaces"] == ["eth1", "eth2"]
    assert r2["wan_interface"] == "eth0"


def test_server_gets_zone_and_scopes():
    srv = _inv()["server"]["hosts"]["p1-srv"]
    names = {r["name"]: r["address"] for r in srv["dns_records"]}
    assert names["intranet"] == "10.1.20.10" and names["printer"] == "10.1.10.20"
    users = next(v for v in srv["vlans"] if v["name"] == "users")
    assert (users["dhcp_first"], users["dhcp_last"], users["gateway"]) == ("10.1.10.100", "10.1.10.199", "10.1.10.1")
    assert srv["resolver"] == "127.0.0.1" and srv["upstream_resolver"] == "198.51.100.53"
    assert srv["fileshare"]["password"] == "tai-1"


def test_dhcp_clients_have_no_static_resolver():
    pc = _inv()["client"]["hosts"]["p1-pc1"]
    assert "resolver" not in pc and pc["interfaces"][0]["dhcp"] is True
