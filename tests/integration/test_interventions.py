"""Every intervention and variant on a real pod (issue 3 acceptance).

For each variant: inject → the user's check fails → `check` says not fixed → restore →
`verify` passes and nothing is active. For each variant a technician-style fix (not
`restore`) is reported fixed; for each intervention a wrong action (rebooting the
user's machine) leaves it broken. A SIGKILLed inject is undone by `restore --all`.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tai_lab.errors import LabStateError, NotFoundError
from tai_lab.interventions import load_catalogue

from .conftest import ROOT, lab_name

LAB = lab_name("tint")
CATALOGUE = load_catalogue()
# tai-standard has no directory and no service desk: those interventions have their own tests, on the
# plateaus that have them (test_directory.py, test_servicedesk.py).
PLATEAU = [i for i in CATALOGUE.interventions.values() if not i.needs_directory and not i.desk]
VARIANTS = [(i.id, v.id) for i in PLATEAU for v in i.variants]

# What a technician would do to fix each variant (node, shell command), not `restore`.
# "switch" and "ap" commands stand for the technician's action on the network device.
RENEW = ("pc1", "ifdown --force eth0 >/dev/null 2>&1; ip -4 addr flush dev eth0; timeout 20 ifup eth0")
FIXES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("cable-unplugged", "link-down"): [("switch", "ip link set pc1-eth0 up")],
    ("cable-unplugged", "printer-too"): [("switch", "for p in $(ip -o link show | grep -o '\\(pc1\\|printer\\)-eth0' "
                                         "| sort -u); do ip link set dev $p up; done")],
    ("client-gateway", "static-wrong-gateway"): [("pc1", "printf 'auto eth0\\niface eth0 inet dhcp\\n' > "
                                                  "/etc/network/interfaces.d/eth0; ifdown --force eth0; "
                                                  "ip -4 addr flush dev eth0; ip route flush dev eth0; ifup eth0")],
    ("client-gateway", "dhcp-hook-route"): [("pc1", "rm /etc/dhcp/dhclient-exit-hooks.d/route-prestataire; "
                                         "ip route replace default via 10.1.10.1 dev eth0")],
    ("client-nic-disabled", "interface-down"): [("pc1", "sed -i '1i auto eth0' /etc/network/interfaces.d/eth0; "
                                                 "ip link set eth0 up; ifup --force eth0")],
    ("client-nic-disabled", "config-removed"): [("pc1", "printf 'auto eth0\\niface eth0 inet dhcp\\n' > "
                                                 "/etc/network/interfaces.d/eth0; ip link set eth0 up; ifup eth0")],
    ("clock-skew", "utc-zone"): [("pc1", "timedatectl set-timezone Europe/Paris 2>/dev/null || "
                                  "ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime")],
    ("clock-skew", "wrong-timezone"): [("pc1", "ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime")],
    ("dhcp-failure", "service-stopped"): [("srv", "systemctl enable isc-dhcp-server; systemctl start isc-dhcp-server"),
                                          RENEW],
    ("dhcp-failure", "scope-exhausted"): [("srv", "sed -i -E 's/range 10.1.10.250 10.1.10.250;/range 10.1.10.100 "
                                           "10.1.10.199;/' /etc/dhcp/dhcpd.conf && systemctl restart isc-dhcp-server"),
                                          RENEW],
    ("dhcp-failure", "wrong-gateway-option"): [("srv", "sed -i 's/option routers 10.1.10.254;/option routers "
                                                "10.1.10.1;/' /etc/dhcp/dhcpd.conf && systemctl restart isc-dhcp-server"),
                                               RENEW],
    # the relay's file written anew (the restore puts the saved one back)
    ("dhcp-failure", "relay-wrong-server"): [("router", "printf 'SERVERS=\"10.1.20.10\"\\nINTERFACES=\"eth1 eth2\"\\n' > "
                                              "/etc/default/isc-dhcp-relay; systemctl restart isc-dhcp-relay"), RENEW],
    ("disk-full", "share-volume-full"): [("srv", "rm /srv/commun/.sauvegarde-2019.tar")],
    ("disk-full", "log-runaway"): [("srv", ": > /srv/commun/.import-compta.log")],
    ("duplicate-ip", "printer-static"): [("printer", "ifdown eth0:1; rm /etc/network/interfaces.d/alias")],
    # the laptop's alias removed live, its file deleted, the announcing agent disabled (no ifdown)
    ("duplicate-ip", "colleague-laptop"): [("pc2", "a=$(awk '/address/ {print $2}' /etc/network/interfaces.d/alias); "
                                            "dev=$(ip -4 -o route show default | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); "
                                            "systemctl disable --now poste-annonce-arp; "
                                            "rm /etc/network/interfaces.d/alias; ip addr del $a dev $dev")],
    ("dns-failure", "service-stopped"): [("srv", "systemctl enable --now named")],
    ("dns-failure", "record-deleted"): [("srv", "echo 'intranet IN A 10.1.20.10' >> /etc/bind/db.pod1.tai.lan && "
                                         "rndc reload pod1.tai.lan")],
    ("dns-failure", "forwarder-wrong"): [("srv", "sed -i 's/192.0.2.53/198.51.100.53/' /etc/bind/named.conf.options"
                                          " && systemctl restart named")],
    ("dns-failure", "client-resolver"): [("pc1", "rm /etc/dhcp/dhclient-enter-hooks.d/tai-resolver"), RENEW],
    ("fileshare-firewall", "smb-port-rejected"): [("srv", "sed -i '/dport 445/d' /etc/nftables.conf && "
                                                   "nft -f /etc/nftables.conf")],
    ("fileshare-firewall", "smb-port-dropped"): [("srv", "sed -i '/dport 445/d' /etc/nftables.conf && "
                                                  "nft -f /etc/nftables.conf")],
    ("fileshare-permissions", "directory-read-only"): [("srv", "chmod 770 /srv/commun")],
    ("fileshare-permissions", "share-read-only"): [("srv", "sed -i 's/read only = yes/read only = no/' "
                                                    "/etc/samba/smb.conf && smbcontrol all reload-config")],
    ("hosts-hijack", "intranet-redirected"): [("pc1", "sed -i '/203.0.113.66/d' /etc/hosts")],
    ("hosts-hijack", "disguised-at-top"): [("pc1", "sed -i '/203.0.113.66/d;/Ajout du support/d' /etc/hosts")],
    ("internet-down", "forwarding-off"): [("router", "sed -i 's/= 0/= 1/' /etc/sysctl.d/90-tai-router.conf && "
                                           "sysctl -p /etc/sysctl.d/90-tai-router.conf")],
    ("internet-down", "nat-off"): [("router", "sed -i '/type nat hook postrouting/a oifname \"eth0\" masquerade' "
                                    "/etc/nftables.conf && nft -f /etc/nftables.conf")],
    ("internet-down", "wan-down"): [("router", "ip link set eth0 up; ifdown --force eth0; "
                                     "ip -4 addr flush dev eth0; ifup eth0")],
    ("intranet-down", "service-stopped"): [("srv", "systemctl enable --now nginx")],
    ("intranet-down", "page-missing"): [("srv", "mv /root/index.html.bak /var/www/html/index.html")],
    ("printer-offline", "service-stopped"): [("printer", "systemctl start tai-printer")],
    ("printer-offline", "port-down"): [("switch", "ip link set printer-eth0 up")],
    ("proxy-misconfigured", "dead-proxy"): [("pc1", "rm /etc/profile.d/proxy.sh")],
    ("proxy-misconfigured", "user-profile"): [("pc1", "sed -i '/192.0.2.8/d;/HTTP_PROXY/d' /root/.profile")],
    ("slowness", "lan-link-degraded"): [("router", "tc qdisc del dev eth1 root; nft delete table inet tai_link_fault")],
    ("slowness", "loss-only"): [("router", "nft delete table inet tai_link_fault")],
    ("switch-port-shut", "port-disabled"): [("switch", "ip link set pc1-eth0 master vlan10")],
    # the new PC's MAC allowed on the port (the restore removes the restriction instead)
    ("switch-port-shut", "port-security"): [("switch", "mac=$(bridge fdb show dev pc1-eth0 | awk '!/permanent/ "
                                             "{print $1; exit}'); nft insert rule bridge tai_port_security forward "
                                             "iifname pc1-eth0 ether saddr $mac accept")],
    ("switch-port-vlan", "wrong-vlan"): [("switch", "ip link set pc1-eth0 master vlan10"), RENEW],
    ("switch-port-vlan", "quarantine-vlan"): [("switch", "ip link del vlan99; ip link set pc1-eth0 master vlan10"),
                                              RENEW],
}


def _scenario(tmp_path_factory):
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    path = tmp_path_factory.mktemp("tint") / "tint.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M))
    return path


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    try:
        yield Lab.up(_scenario(tmp_path_factory), pods=1)
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)


@pytest.fixture
def clean(lab):
    """Each test starts and ends with no active intervention and a healthy pod."""
    yield lab
    if lab.active_interventions(1):
        lab.restore(1)
    for node in ("pc1", "printer"):
        _settled(lab, node)
    bad = [r for r in lab.verify(1) if not r.passed]
    if bad:
        lab.reset(pod=1)   # a test that failed midway must not poison the next ones
        pytest.fail(f"pod not healthy after the test: {[(r.probe.id, r.evidence) for r in bad]}")


def _settled(lab, node, limit=60.0):
    """Wait until the node is neither booting nor shutting down (a reboot test leaves it booting)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if lab.exec(1, node, ["systemctl", "is-system-running"], timeout=10).text in ("running", "degraded"):
                return
        except LabStateError:
            pass
        time.sleep(0.5)


def _sh(lab, node, cmd, timeout=60):
    return lab.exec(1, node, ["sh", "-c", cmd], timeout=timeout)


def test_every_variant_has_a_technician_fix():
    assert set(FIXES) == set(VARIANTS)
    assert len(CATALOGUE.ids) >= 15


@pytest.mark.parametrize("iid,variant", VARIANTS)
def test_inject_check_restore(clean, iid, variant):
    lab = clean
    res = lab.inject(iid, 1, variant=variant)
    assert any(not r.passed for r in res.evidence)       # proven broken from the user's machine
    (chk,) = lab.check(1, iid)
    assert not chk.fixed and chk.variant == variant
    assert lab.restore(1, iid) == [iid]
    assert lab.active_interventions(1) == []
    assert lab.check(1) == []
    assert all(r.passed for r in lab.verify(1))


@pytest.mark.parametrize("iid,variant", VARIANTS)
def test_technician_fix_is_reported_fixed(clean, iid, variant):
    lab = clean
    lab.inject(iid, 1, variant=variant)
    for node, cmd in FIXES[(iid, variant)]:
        _sh(lab, node, cmd)
    deadline = time.monotonic() + 15
    while True:
        (chk,) = lab.check(1, iid)
        if chk.fixed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert chk.fixed, [r.evidence for r in chk.results if not r.passed]
    lab.restore(1, iid)


def _reboot(lab, node):
    lab.exec(1, node, ["systemctl", "reboot"], timeout=30)
    time.sleep(1)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        try:
            # "starting" counts: a PC whose cable is unplugged keeps waiting for DHCP at boot
            state = lab.exec(1, node, ["systemctl", "is-system-running"], timeout=10).text
            if state in ("running", "degraded", "starting"):
                return
        except LabStateError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{node} did not come back after a reboot")


# The wrong action tried per intervention: rebooting the user's machine, except where that
# legitimately helps the user (a DHCP client rebooted after an address conflict is given
# another address by the server's ping check): there, rebooting the device at fault.
WRONG_REBOOT = {"duplicate-ip": "printer"}


@pytest.mark.parametrize("iid", [i.id for i in PLATEAU])
def test_a_reboot_does_not_fix_it(clean, iid):
    lab = clean
    variant = CATALOGUE.get(iid).variants[0].id
    lab.inject(iid, 1, variant=variant)
    _reboot(lab, WRONG_REBOOT.get(iid, "pc1"))
    time.sleep(3)   # DHCP after boot
    (chk,) = lab.check(1, iid)
    assert not chk.fixed
    lab.restore(1, iid)


def test_restore_after_the_candidate_fixed_it_another_way(clean):
    lab = clean
    lab.inject("dns-failure", 1, variant="record-deleted")
    # the candidate adds the record under another form (a CNAME) and reloads
    _sh(lab, "srv", "echo 'intranet IN CNAME srv' >> /etc/bind/db.pod1.tai.lan && rndc reload pod1.tai.lan")
    assert lab.check(1, "dns-failure")[0].fixed
    lab.restore(1, "dns-failure")
    zone = _sh(lab, "srv", "cat /etc/bind/db.pod1.tai.lan").stdout
    assert "CNAME" not in zone and re.search(r"^intranet\s+IN A", zone, re.M)


def test_bad_input_changes_nothing(clean):
    lab = clean
    with pytest.raises(NotFoundError) as exc:
        lab.inject("dns-failur", 1)
    assert "dns-failure" in exc.value.hint and "slowness" in exc.value.hint
    with pytest.raises(NotFoundError, match="pas de variante 'nope'") as exc:
        lab.inject("dns-failure", 1, variant="nope")
    assert "record-deleted" in exc.value.hint
    lab.inject("intranet-down", 1)
    with pytest.raises(LabStateError, match="déjà active"):
        lab.inject("intranet-down", 1)
    with pytest.raises(LabStateError, match="n'est pas active"):
        lab.restore(1, "dns-failure")
    assert [a.id for a in lab.active_interventions(1)] == ["intranet-down"]


def test_random_variant_is_reproducible_with_a_seed(clean):
    lab = clean
    first = lab.inject("dns-failure", 1, randomise=True, seed=42).variant.id
    lab.restore(1, "dns-failure")
    again = lab.inject("dns-failure", 1, randomise=True, seed=42).variant.id
    assert first == again


def test_sigkill_during_inject_then_restore_all(clean, lab_home):
    lab = clean
    journal = lab.state.dir / "journal.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "inject", "dns-failure", "--pod", "1",
                             "--variant", "forwarder-wrong", "--lab", LAB], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = [json.loads(x) for x in journal.read_text().splitlines() if '"intervention"' in x]
            if events and events[-1]["data"]["step"] == "begin":
                break
            time.sleep(0.05)
        time.sleep(1.0)    # somewhere inside the playbook run
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [a.id for a in lab.active_interventions(1)] == ["dns-failure"]
    assert lab.restore(1) == ["dns-failure"]
    assert all(r.passed for r in lab.verify(1))


def test_reset_clears_active_interventions(clean):
    lab = clean
    lab.inject("hosts-hijack", 1)
    results = lab.reset(pod=1)
    assert all(r.passed for r in results)
    assert lab.active_interventions(1) == []


def test_cli_inject_prints_the_symptom_and_check_json(clean):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "tai_lab.cli", "inject", "intranet-down", "--lab", LAB],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "À lire à l'utilisateur" in r.stdout and "intranet" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tai_lab.cli", "--json", "check", "--lab", LAB],
                       capture_output=True, text=True, env=env)
    data = json.loads(r.stdout)
    assert data[0]["id"] == "intranet-down" and data[0]["fixed"] is False
    assert r.returncode == 0   # JSON mode reports, the exit code is for the table view
    r = subprocess.run([sys.executable, "-m", "tai_lab.cli", "restore", "--all", "--lab", LAB],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "intranet-down" in r.stdout
