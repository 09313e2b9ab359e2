"""The plateau end to end on the nspawn backend (issue 2 acceptance).

Order matters inside this module: the phases and the reset act on one shared lab.
"""
from __future__ import annotations

import ipaddress
import re

import pytest

from .conftest import TEST_LAB, host_leftovers, host_links

WWW = "http://www.example.net/"


def _addr(lab, pod, node, iface):
    res = lab.exec(pod, node, ["ip", "-4", "-o", "addr", "show", "dev", iface])
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", res.stdout)
    return ipaddress.ip_address(m.group(1)) if m else None


def _curl(lab, pod, url, node="pc1"):
    return lab.exec(pod, node, ["curl", "-fsS", "--max-time", "3", url], timeout=15)


def test_verify_passes_after_up(lab2):
    results = lab2.verify()
    failed = [(r.pod, r.probe.id, r.evidence) for r in results if not r.passed]
    assert not failed
    assert {r.pod for r in results} == {1, 2}
    assert any(r.probe.id == "isolation:pod2" for r in results)


def test_no_lab_interface_in_the_host_namespace(lab2):
    # libvirtd's own links (taps and bridges of VM tests running alongside) are not this lab's:
    # the container backend never makes a vnetN or virbrN.
    import re
    new = {n for n in host_links() ^ lab2.host_links_before if not re.fullmatch(r"vnet\d+|virbr\d+(-nic)?", n)}
    assert not new, new


def test_containers_do_not_inherit_host_settings(lab2):
    import socket
    res = lab2.exec(1, "srv", ["sh", "-c", "hostname; cat /etc/resolv.conf"])
    assert res.text.splitlines()[0] == "srv" != socket.gethostname()
    assert "nameserver 127.0.0.1" in res.stdout
    host_resolv = open("/etc/resolv.conf").read()
    pc1 = lab2.exec(1, "pc1", ["cat", "/etc/resolv.conf"]).stdout
    assert "nameserver 10.1.20.10" in pc1          # from the pod's DHCP server
    assert pc1.strip() != host_resolv.strip()
    mounts = lab2.exec(1, "pc1", ["cat", "/proc/self/mountinfo"]).stdout
    assert "/etc/resolv.conf" not in mounts and "/etc/localtime" not in mounts


@pytest.mark.parametrize("pod", [1, 2])
def test_clients_lease_in_own_pod_subnet(lab2, pod):
    assert _addr(lab2, pod, "pc1", "eth0") in ipaddress.ip_network(f"10.{pod}.10.0/24")
    # pc2 is on the access point's wireless segment, bridged to the users VLAN
    assert _addr(lab2, pod, "pc2", "wlan0") in ipaddress.ip_network(f"10.{pod}.10.0/24")


def test_pod_domain_names_resolve(lab2):
    for pod in (1, 2):
        res = lab2.exec(pod, "pc1", ["getent", "ahostsv4", f"intranet.pod{pod}.tai.lan"])
        assert res.ok and f"10.{pod}.20.10" in res.stdout
        res = lab2.exec(pod, "pc1", ["getent", "ahostsv4", f"printer.pod{pod}.tai.lan"])
        assert res.ok and f"10.{pod}.10.20" in res.stdout


def test_intranet_page_loads_from_pc1(lab2):
    res = _curl(lab2, 1, "http://intranet.pod1.tai.lan/")
    assert res.ok and "TAI-INTRANET-POD1" in res.stdout


def test_printer_answers_ipp(lab2):
    res = lab2.exec(1, "pc1", ["ipptool", "-T", "5", "-t", "ipp://10.1.10.20:631/ipp/print",
                               "get-printer-attributes.test"], timeout=20)
    assert res.ok, res.stdout + res.stderr
    assert "PASS" in res.stdout


def test_prep_phase_cuts_internet_even_for_root_on_pc1(lab2):
    assert _curl(lab2, 1, WWW).ok  # connected before the phase change
    lab2.set_phase("prep")
    assert [(s.phase, s.internet) for s in lab2.status()] == [("prep", False), ("prep", False)]
    assert not _curl(lab2, 1, WWW).ok
    # root on pc1 points its default route at the router, then at the AP, then adds a host route
    for cmd in (["ip", "route", "replace", "default", "via", "10.1.10.1"],
                ["ip", "route", "replace", "default", "via", "10.1.10.2"],
                ["ip", "route", "add", "198.51.100.80/32", "via", "10.1.10.1"]):
        lab2.exec(1, "pc1", cmd)
        assert not _curl(lab2, 1, "http://198.51.100.80/").ok, cmd
    # root on the pod's router cannot bring the link back either: the ISP side is down
    lab2.exec(1, "router", ["ip", "link", "set", "eth0", "up"])
    assert not lab2.exec(1, "router", ["ping", "-c", "1", "-W", "1", "198.51.100.80"]).ok
    # pod 2 is unreachable from pod 1
    assert not lab2.exec(1, "pc1", ["ping", "-c", "1", "-W", "1", "10.2.20.10"]).ok
    assert not lab2.exec(1, "router", ["ping", "-c", "1", "-W", "1", "100.64.2.2"]).ok
    # the candidate puts pc1's routes back: the pod works, the Internet stays cut
    lab2.exec(1, "pc1", ["ip", "route", "del", "198.51.100.80/32"])
    lab2.exec(1, "pc1", ["ip", "route", "replace", "default", "via", "10.1.10.1"])
    results = lab2.verify()
    assert all(r.passed for r in results), [(r.probe.id, r.evidence) for r in results if not r.passed]
    assert {r.probe.id for r in results if not r.probe.expect_ok} >= {"internet", "isolation:pod2"}


def test_jury_phase_gives_internet_back(lab2):
    lab2.set_phase("jury")
    assert [(s.phase, s.internet) for s in lab2.status()] == [("jury", True), ("jury", True)]
    lab2.exec(1, "pc1", ["ip", "route", "replace", "default", "via", "10.1.10.1"])
    res = _curl(lab2, 1, WWW)
    assert res.ok and "TAI-INTERNET-OK" in res.stdout
    res = _curl(lab2, 2, WWW)
    assert res.ok and "TAI-INTERNET-OK" in res.stdout
    # still isolated from each other in the jury phase
    assert not lab2.exec(1, "pc1", ["ping", "-c", "1", "-W", "1", "10.2.20.10"]).ok
    # the ISP forwards (to answer "unreachable") but passes nothing from one pod to another
    assert not lab2.exec(1, "pc1", ["ping", "-c", "1", "-W", "1", "100.64.2.2"]).ok
    # an address nobody routes is answered at once by the ISP: a dead proxy fails, it does not hang
    res = lab2.exec(1, "pc1", ["ping", "-c", "1", "-W", "5", "192.0.2.8"])
    assert not res.ok and "Unreachable" in res.stdout, res.stdout + res.stderr


def test_reset_pod1_restores_it_and_leaves_pod2(lab2):
    for pod in (1, 2):
        assert lab2.exec(pod, "pc1", ["sh", "-c", "echo candidat > /root/travail.txt"]).ok
        assert lab2.exec(pod, "srv", ["systemctl", "stop", "named"]).ok
    assert not lab2.exec(1, "pc1", ["getent", "ahostsv4", "srv.pod1.tai.lan"]).ok

    results = lab2.reset(pod=1)
    assert results and all(r.passed for r in results), [(r.probe.id, r.evidence) for r in results
                                                        if not r.passed]
    assert {r.pod for r in results} == {1}
    assert not lab2.exec(1, "pc1", ["test", "-e", "/root/travail.txt"]).ok
    assert lab2.exec(1, "srv", ["systemctl", "is-active", "named"]).text == "active"
    assert lab2.status()[0].phase == "jury"       # the pod keeps its phase
    # pod 2 keeps the candidate's changes
    assert lab2.exec(2, "pc1", ["cat", "/root/travail.txt"]).text == "candidat"
    assert lab2.exec(2, "srv", ["systemctl", "is-active", "named"]).text != "active"


def test_unknown_pod_or_node_is_a_clear_error(lab2):
    from tai_lab.errors import NotFoundError
    with pytest.raises(NotFoundError, match="pas de pod 3") as exc:
        lab2.exec(3, "pc1", ["true"])
    assert "1, 2" in exc.value.hint
    with pytest.raises(NotFoundError, match="pas de machine 'pc9'") as exc:
        lab2.exec(1, "pc9", ["true"])
    assert "pc1" in exc.value.hint


def test_a_stopped_node_fails_its_probes_and_says_so(lab2):
    from tai_lab.errors import LabStateError
    res = lab2.backend._nspawn_pid(1, "pc2")
    lab2.backend._teardown([r for r in lab2.state.journal.live()
                            if r.kind == "process" and r.name == "1/pc2"])
    assert res and not lab2.backend.node_running(1, "pc2")
    with pytest.raises(LabStateError, match="pc2 of pod 1 is not running"):
        lab2.exec(1, "pc2", ["true"])
    failed = {r.probe.id for r in lab2.verify(pod=1) if not r.passed}
    assert failed == {"lease:pc2"}


def test_down_leaves_nothing(lab2):
    from tai_lab.lab import Lab
    assert host_leftovers(TEST_LAB)
    Lab.down(TEST_LAB)
    assert host_leftovers(TEST_LAB) == []
