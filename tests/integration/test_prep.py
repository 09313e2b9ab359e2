"""The prep phase on a real 2-pod plateau, played by scripted candidates.

Pod 1: a candidate who uses isc-dhcp-server and bind9. Pod 2: a candidate who uses
dnsmasq, checked first half-way (DHCP only: exactly the rest is reported missing), then
complete. Both install their packages from the lab's depot with the Internet cut. Then
the seal (a change is caught, an untouched pod passes), and the jury's dns-failure and
dhcp-failure on both candidates' own setups: broken, fixed technician-style, restored.

The tests of this module run in order and share the plateau (they are one story).
"""
from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from .conftest import lab_name

from tai_lab.errors import LabStateError

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = Path(__file__).resolve().parent / "candidates"
LAB = lab_name("tprep")
ALL = {"srv-network", "dhcp", "dhcp-options", "dns", "share", "intranet", "printer"}


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    from tai_lab.lab import Lab
    from tai_lab.prep import depot, phase
    from tai_lab.state import existing_labs
    depot.build(progress=print)                 # once per host (seconds when already built)
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    path = tmp_path_factory.mktemp(LAB) / f"{LAB}.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M))
    try:
        lab = Lab.up(path, pods=2, progress=print)
        phase.start(lab)
        yield lab
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)


def _env(lab, pod: int) -> str:
    v = lab.plan.pod(pod).prep.values
    env = {"POD": pod, "DOMAIN": v["domain"], "SRV": v["address.srv"], "GW_SRV": v["gateway.servers"],
           "GW_USERS": v["gateway.users"], "NET_USERS": v["subnet.users"].rsplit(".", 1)[0],
           "FIRST": v["dhcp_first.users"], "LAST": v["dhcp_last.users"], "PRINTER": v["address.printer"],
           "PW_ALICE": v["value.member1_password"], "PW_BRUNO": v["value.member2_password"],
           "PW_CHLOE": v["value.other_password"]}
    return "".join(f"export {k}={shlex.quote(str(x))}; " for k, x in env.items())


def _play(lab, pod: int, node: str, script: str, *args: str) -> None:
    """What the candidate types on one machine (a script of candidates/)."""
    text = _env(lab, pod) + f"set -- {' '.join(map(shlex.quote, args))}; " + (CANDIDATES / script).read_text()
    res = lab.exec(pod, node, ["sh", "-c", text], timeout=500)
    assert res.ok, f"pod {pod} {node} {script}: {res.stdout[-1500:]}\n{res.stderr[-1500:]}"


def _sh(lab, pod: int, node: str, cmd: str, timeout: float = 60):
    return lab.exec(pod, node, ["sh", "-c", cmd], timeout=timeout)


def _missing(lab, pod: int) -> set[str]:
    from tai_lab.prep import phase
    return {r.id for r in phase.check(lab, pod) if not r.passed}


def _until(predicate, limit: float = 40.0, step: float = 1.0):
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# --- prep start ---------------------------------------------------------------------------------

def test_prep_start_cuts_everything_but_the_depot(lab):
    for pod in (1, 2):
        rec = lab.state.pod(pod)
        assert rec["phase"] == "prep" and rec["prep"]["started"] and rec["prep"]["depot"]
    assert [s.internet for s in lab.status()] == [False, False]     # the link is up, but filtered
    # The router is configured (baseline): only the depot answers outside the pod.
    assert "Origin: tai-lab" in _sh(lab, 1, "router", "curl -fsS -m 5 http://198.51.100.10/Release").stdout
    assert not _sh(lab, 1, "router", "curl -fsS -m 3 http://198.51.100.80/").ok            # the web
    assert not _sh(lab, 1, "router", "dig +time=1 +tries=1 @198.51.100.53 www.example.net").ok
    assert not _sh(lab, 1, "router", "ping -c1 -W1 100.64.2.2").ok                        # pod 2
    assert not _sh(lab, 1, "router", "ping -c1 -W1 100.64.1.1").ok                        # the ISP itself
    # Root on the router cannot widen it: the filter is in the ISP's namespace.
    _sh(lab, 1, "router", "nft flush ruleset; ip route replace default via 100.64.1.1")
    assert not _sh(lab, 1, "router", "curl -fsS -m 3 http://198.51.100.80/").ok
    assert _sh(lab, 1, "router", "nft -f /etc/nftables.conf").ok           # its NAT back for the candidate
    # Bare server: the role packages are gone, the depot is the only package source.
    srv = _sh(lab, 1, "srv", "dpkg -s isc-dhcp-server bind9 samba 2>&1; cat /etc/apt/sources.list; "
                             "ls /etc/apt/sources.list.d")
    assert "is not installed" in srv.stdout and "deb [trusted=yes] http://198.51.100.10/ ./" in srv.stdout
    assert "iface eth0" not in _sh(lab, 1, "pc1", "cat /etc/network/interfaces 2>/dev/null").stdout


def test_a_bare_pod_meets_nothing_and_dhcp_failure_refuses(lab):
    assert _missing(lab, 1) == ALL
    before = lab.state.journal.path.read_text().count('"intervention"')
    with pytest.raises(LabStateError) as info:
        lab.inject("dhcp-failure", 1)
    assert "aucun serveur DHCP ne tourne sur srv" in info.value.message and "ne s'applique pas" in info.value.message
    assert "no DHCP server runs on srv" in info.value.message.en
    assert lab.state.journal.path.read_text().count('"intervention"') == before   # nothing begun


# --- the candidates -----------------------------------------------------------------------------

def test_candidates_install_from_the_depot_and_are_checked(lab):
    # pod 1: isc-dhcp-server + bind9, everything.
    _play(lab, 1, "srv", "srv-network.sh")
    _play(lab, 1, "srv", "srv-isc-bind.sh")
    _play(lab, 1, "srv", "srv-share-intranet.sh")
    # pod 2: dnsmasq, DHCP only for now (the partial candidate).
    _play(lab, 2, "srv", "srv-network.sh")
    _play(lab, 2, "srv", "srv-dnsmasq-dhcp.sh")
    for pod in (1, 2):
        _play(lab, pod, "pc1", "client-dhcp.sh", "eth0")
        _play(lab, pod, "pc2", "client-dhcp.sh", "wlan0")
    assert "dnsmasq" in _sh(lab, 2, "srv", "dpkg -s dnsmasq").stdout       # came from the depot
    assert not _sh(lab, 2, "srv", "curl -fsS -m 3 http://198.51.100.80/").ok
    assert _until(lambda: not _missing(lab, 1)), _missing(lab, 1)
    assert _missing(lab, 2) == ALL - {"srv-network", "dhcp"}
    # The dnsmasq candidate finishes.
    _play(lab, 2, "srv", "srv-dnsmasq-dns.sh")
    _play(lab, 2, "srv", "srv-share-intranet.sh")
    assert _until(lambda: not _missing(lab, 2)), _missing(lab, 2)


def test_prep_check_cli_json(lab, capsys):
    from click.testing import CliRunner
    from tai_lab.cli import cli
    res = CliRunner().invoke(cli, ["--lab", LAB, "--json", "prep", "check", "--pod", "2"])
    assert res.exit_code == 0, res.output
    import json
    data = json.loads(res.output)
    assert {r["requirement"] for r in data} == ALL and all(r["passed"] for r in data)
    assert all(c["evidence"] for r in data for c in r["checks"])


# --- the seal -----------------------------------------------------------------------------------

def test_seal_catches_a_change_and_accepts_an_untouched_pod(lab):
    from tai_lab.prep import seal
    done = seal.seal(lab)
    assert set(done) == {1, 2} and all(s["files"] > 100 for s in done.values())
    for pod in (1, 2):
        assert not lab.backend.node_running(pod, "srv") and not lab.backend.upstream_is_up(pod)
        assert seal.verify(lab, pod) == []
    # Someone edits the sealed server's DHCP configuration.
    conf = lab.backend.node_dir(1, "srv") / "root/etc/dhcp/dhcpd.conf"
    conf.write_text(conf.read_text() + "# ajouté après le scellé\n")
    with pytest.raises(seal.SealBrokenError) as info:
        lab.set_phase("jury")
    assert "srv: changed /etc/dhcp/dhcpd.conf" in info.value.message
    # Refused: nothing changed, neither pod was opened.
    for pod in (1, 2):
        assert lab.phase_of(pod) == "prep" and not lab.backend.node_running(pod, "srv")
    lab.set_phase("jury", pod=2)                               # untouched: accepted
    assert lab.phase_of(2) == "jury" and lab.backend.node_running(2, "srv") and lab.backend.upstream_is_up(2)
    lab.set_phase("jury", pod=1, override_seal=True)           # overridden: journaled with the change
    events = [r for r in lab.state.journal.records() if r.get("kind") == "seal-override"]
    assert events and events[-1]["data"]["changes"][0]["path"] == "/etc/dhcp/dhcpd.conf"
    assert lab.state.pod(1)["seal"]["intact"] is False and lab.state.pod(2)["seal"]["intact"] is True
    # … and in each candidate's evidence log, which the jury's report is made from
    (seal1,) = [r for r in lab.evidence(1).records() if r["kind"] == "seal"]
    (seal2,) = [r for r in lab.evidence(2).records() if r["kind"] == "seal"]
    assert seal1["override"] and seal1["changes"][0]["path"] == "/etc/dhcp/dhcpd.conf"
    assert seal2["intact"] and not seal2["override"]
    assert all(s.internet for s in lab.status())
    for pod in (1, 2):
        assert _until(lambda pod=pod: not _missing(lab, pod), 60), _missing(lab, pod)


# --- interventions on the candidates' own services ----------------------------------------------

RENEW = ("pc1", "ifdown --force eth0 >/dev/null 2>&1; ip -4 addr flush dev eth0; timeout 30 ifup eth0")
# (pod, intervention, variant) → what a technician types. Pod 1: isc-dhcp-server + bind9; pod 2: dnsmasq.
FIXES = {
    (1, "dns-failure", "service-stopped"): [("srv", "systemctl enable --now named")],
    (1, "dns-failure", "record-deleted"): [("srv", 'echo "intranet IN A $SRV" >> /etc/bind/db.$DOMAIN && '
                                                   "rndc reload $DOMAIN")],
    (1, "dns-failure", "forwarder-wrong"): [("srv", "sed -i 's/192.0.2.53/198.51.100.53/' "
                                                    "/etc/bind/named.conf.options && systemctl restart named")],
    (1, "dhcp-failure", "service-stopped"): [("srv", "systemctl enable isc-dhcp-server; "
                                                     "systemctl start isc-dhcp-server"), RENEW],
    (1, "dhcp-failure", "scope-exhausted"): [("srv", 'sed -i -E "s/range [0-9.]+ [0-9.]+;/range $FIRST $LAST;/" '
                                                     "/etc/dhcp/dhcpd.conf && systemctl restart isc-dhcp-server"),
                                             RENEW],
    (1, "dhcp-failure", "wrong-gateway-option"): [("srv", 'sed -i -E "s/option routers [0-9.]+;/option routers '
                                                          '$GW_USERS;/" /etc/dhcp/dhcpd.conf && '
                                                          "systemctl restart isc-dhcp-server"), RENEW],
    (2, "dns-failure", "service-stopped"): [("srv", "systemctl enable --now dnsmasq")],
    (2, "dns-failure", "record-deleted"): [("srv", 'echo "host-record=intranet.$DOMAIN,$SRV" >> '
                                                   "/etc/dnsmasq.d/dns.conf && systemctl restart dnsmasq")],
    (2, "dns-failure", "forwarder-wrong"): [("srv", "sed -i 's/^server=192.0.2.53/server=198.51.100.53/' "
                                                    "/etc/dnsmasq.d/dns.conf && systemctl restart dnsmasq")],
    (2, "dhcp-failure", "service-stopped"): [("srv", "systemctl enable dnsmasq; systemctl start dnsmasq"), RENEW],
    (2, "dhcp-failure", "scope-exhausted"): [("srv", 'sed -i -E "s/^dhcp-range=.*/dhcp-range=$FIRST,$LAST,'
                                                     '255.255.255.0,1h/" /etc/dnsmasq.d/dhcp.conf && '
                                                     "systemctl restart dnsmasq"), RENEW],
    (2, "dhcp-failure", "wrong-gateway-option"): [("srv", 'sed -i -E "s/^dhcp-option=option:router,.*/'
                                                          'dhcp-option=option:router,$GW_USERS/" '
                                                          "/etc/dnsmasq.d/dhcp.conf && systemctl restart dnsmasq"),
                                                  RENEW],
}


@pytest.mark.parametrize("pod,iid,variant", sorted(FIXES), ids=lambda x: str(x))
def test_intervention_on_the_candidates_setup(lab, pod, iid, variant):
    service = {("dns-failure", 1): "named", ("dhcp-failure", 1): "isc-dhcp-server"}.get((iid, pod), "dnsmasq")
    result = lab.inject(iid, pod, variant=variant)
    assert result.evidence and not all(r.passed for r in result.evidence)
    active = lab.active_interventions(pod)
    assert active[0].ctx[f"{iid.split('-')[0]}_service"] == service      # the candidate's software
    assert not lab.check(pod, iid)[0].fixed
    for node, cmd in FIXES[(pod, iid, variant)]:
        res = _sh(lab, pod, node, _env(lab, pod) + cmd, timeout=90)
        assert res.ok or node == "pc1", res.brief()
    if not _until(lambda: lab.check(pod, iid)[0].fixed, 40):
        server = _sh(lab, pod, "srv", "systemctl status --no-pager -n 15 isc-dhcp-server named dnsmasq 2>&1 | "
                                      "grep -v '^ *[│├└]'").stdout
        pytest.fail(f"not fixed: {lab.check(pod, iid)[0].as_dict()}\nfix output: {res.stdout[-800:]}\n"
                    f"{res.stderr[-800:]}\nserver: {server[-3000:]}")
    assert lab.restore(pod, iid) == [iid]
    assert _until(lambda: not _missing(lab, pod), 60), _missing(lab, pod)
