"""Verdicts a jury can sign (issue 15), on one real pod shared by the module.

For each case: inject, the candidate's action (a valid repair done differently from the
restore, a masking or partial one, or one that does not survive a reboot), then the verdict
asserted — "fixed", "bypassed" (with its reason) or "lost-at-reboot" — and recorded in the
evidence log with the checks that ran.
"""
from __future__ import annotations

import time

import pytest

from tai_lab.interventions import load_catalogue

from .conftest import lab_name, standard_lab

LAB = lab_name("tverd")
CATALOGUE = load_catalogue()
RENEW = ("pc1", "ifdown --force eth0 >/dev/null 2>&1; ip -4 addr flush dev eth0; timeout 20 ifup eth0")
# The user's machine given a static address of its subnet (a classic way around a network fault).
STATIC = ("pc1", "ifdown --force eth0 >/dev/null 2>&1; printf 'auto eth0\\niface eth0 inet static\\n"
                 "  address 10.1.10.150/24\\n  gateway 10.1.10.1\\n' > /etc/network/interfaces.d/eth0; "
                 "ip -4 addr flush dev eth0; ifup eth0")

# The machine restarted by its user (a candidate's classic move), as a reboot check restarts it.
RESTART = "<restart>"

# (intervention, variant, the candidate's commands, expected verdict of a plain check)
MASKING = {
    "hosts-on-one-client": ("dns-failure", "record-deleted",
                            [("pc1", "echo '10.1.20.10 intranet.pod1.tai.lan' >> /etc/hosts")], "bypassed"),
    "share-777": ("fileshare-permissions", "directory-read-only", [("srv", "chmod 777 /srv/commun")], "bypassed"),
    "good-line-above-malicious": ("hosts-hijack", "intranet-redirected",
                                  [("pc1", "sed -i '1i 10.1.20.10 intranet.pod1.tai.lan' /etc/hosts")], "bypassed"),
    "proxy-off-for-curl-only": ("proxy-misconfigured", "dead-proxy",
                                [("pc1", "echo 'noproxy = \"*\"' > /root/.curlrc")], "bypassed"),
    "user-files-deleted": ("disk-full", "share-volume-full",
                           [("srv", "rm -f /srv/commun/.sauvegarde-2019.tar /srv/commun/LISEZMOI.txt")], "bypassed"),
    "rate-limit-left": ("slowness", "lan-link-degraded",
                        [("router", "nft delete table inet tai_link_fault")], "bypassed"),
    "firewall-flushed": ("fileshare-firewall", "smb-port-rejected", [("srv", "nft flush ruleset")], "bypassed"),
    "static-address-on-the-client": ("dhcp-failure", "service-stopped", [STATIC], "bypassed"),
    # The variants added for issue 15's "two variants for every intervention": a masking or partial
    # repair each ("broken": it must stay not fixed for a while, not only at the first check).
    "static-address-past-the-relay": ("dhcp-failure", "relay-wrong-server", [STATIC], "bypassed"),
    "old-mac-taken-by-the-pc": ("switch-port-shut", "port-security",
                                [("pc1", "ip link set eth0 address 02:00:5e:10:00:aa")], "bypassed"),
    "static-address-in-quarantine": ("switch-port-vlan", "quarantine-vlan", [STATIC], "broken"),
    "pc-readdressed-beside-the-laptop": ("duplicate-ip", "colleague-laptop", [STATIC], "bypassed"),
    "only-the-pc-replugged": ("cable-unplugged", "printer-too", [("switch", "ip link set pc1-eth0 up")], "broken"),
    # ... and for older variants that had none
    "static-address-past-a-full-scope": ("dhcp-failure", "scope-exhausted", [STATIC], "bypassed"),
    "own-route-past-a-wrong-gateway-option": ("dhcp-failure", "wrong-gateway-option",
                                              [("pc1", "ip route replace default via 10.1.10.1 dev eth0")], "bypassed"),
    "good-line-above-the-disguised-one": ("hosts-hijack", "disguised-at-top",
                                          [("pc1", "sed -i '1i 10.1.20.10 intranet.pod1.tai.lan' /etc/hosts")],
                                          "bypassed"),
    "proxy-off-for-curl-only-in-the-profile": ("proxy-misconfigured", "user-profile",
                                               [("pc1", "echo 'noproxy = \"*\"' > /root/.curlrc")], "bypassed"),
    "public-resolver-on-the-pc": ("dns-failure", "forwarder-wrong",
                                  [("pc1", "echo 'nameserver 198.51.100.53' > /etc/resolv.conf")], "broken"),
    "hosts-line-past-a-wrong-resolver": ("dns-failure", "client-resolver",
                                         [("pc1", "echo '10.1.20.10 intranet.pod1.tai.lan' >> /etc/hosts")], "broken"),
    "dropped-smb-firewall-flushed": ("fileshare-firewall", "smb-port-dropped", [("srv", "nft flush ruleset")],
                                     "bypassed"),
    "servers-vlan-address-on-the-pc": ("switch-port-vlan", "wrong-vlan",
                                       [("pc1", STATIC[1].replace("10.1.10.150", "10.1.20.150")
                                         .replace("10.1.10.1", "10.1.20.1"))], "broken"),
    # ... and for the older variants of issue 15's list (the rest, with why they have none: NO_MASKING)
    "static-address-past-the-dhcp-hook": ("client-gateway", "dhcp-hook-route", [STATIC], "bypassed"),
    "static-address-for-a-removed-config": ("client-nic-disabled", "config-removed", [STATIC], "bypassed"),
    "share-emptied-with-the-log": ("disk-full", "log-runaway",
                                   [("srv", "find /srv/commun -mindepth 1 -delete")], "bypassed"),
    "share-opened-to-guests": ("fileshare-permissions", "share-read-only",
                               [("srv", "sed -i -e 's/map to guest = never/map to guest = bad user/' "
                                        "-e 's/read only = yes/writable = yes\\n  guest ok = yes/' "
                                        "/etc/samba/smb.conf && smbcontrol all reload-config")], "bypassed"),
    "placeholder-home-page": ("intranet-down", "page-missing",
                              [("srv", "printf '<h1>Intranet</h1>\\n' > /var/www/html/index.html")], "broken"),
    "wan-link-up-without-its-route": ("internet-down", "wan-down", [("router", "ip link set eth0 up")], "broken"),
    "pc-readdressed-beside-the-printer": ("duplicate-ip", "printer-static", [STATIC], "bypassed"),
    "servers-vlan-for-a-disabled-port": ("switch-port-shut", "port-disabled",
                                         [("switch", "ip link set pc1-eth0 master vlan20"),
                                          ("pc1", STATIC[1].replace("10.1.10.150", "10.1.20.150")
                                           .replace("10.1.10.1", "10.1.20.1"))], "bypassed"),
    "router-restarted-on-a-lossy-link": ("slowness", "loss-only", [("router", RESTART)], "broken"),
    "valid-other-way-dns": ("dns-failure", "record-deleted",
                            [("srv", "echo 'intranet IN CNAME srv' >> /etc/bind/db.pod1.tai.lan && "
                                     "rndc reload pod1.tai.lan")], "fixed"),
    "valid-other-way-share": ("fileshare-permissions", "directory-read-only",
                              [("srv", "chmod u+w,g+w /srv/commun")], "fixed"),
    # valid repairs unlike the restore (which puts saved files back or replays the variant's steps)
    "valid-other-way-samba-writable": ("fileshare-permissions", "share-read-only",
                                       [("srv", "sed -i 's/read only = yes/writable = yes/' /etc/samba/smb.conf "
                                                "&& systemctl restart smbd")], "fixed"),
    "valid-other-way-log-archived": ("disk-full", "log-runaway",
                                     [("srv", "gzip -c /srv/commun/.import-compta.log > /root/import-compta.log.gz "
                                              "&& rm /srv/commun/.import-compta.log")], "fixed"),
    "valid-other-way-wan-route": ("internet-down", "wan-down",
                                  [("router", "ip link set eth0 up && ip route replace default via "
                                              "$(sed -n 's/^[[:space:]]*gateway[[:space:]]*//p' "
                                              "/etc/network/interfaces.d/eth0) dev eth0")], "fixed"),
}
# Time zone: a fixed offset is right only while it matches the season (Europe/Paris).
_WINTER = time.localtime().tm_isdst == 0
if _WINTER:
    MASKING["fixed-offset-time-zone"] = ("clock-skew", "wrong-timezone",
                                         [("pc1", "ln -sf /usr/share/zoneinfo/Etc/GMT-1 /etc/localtime")], "bypassed")
    MASKING["fixed-offset-instead-of-utc"] = ("clock-skew", "utc-zone",
                                              [("pc1", "ln -sf /usr/share/zoneinfo/Etc/GMT-1 /etc/localtime")],
                                              "bypassed")
# Cases whose every change the restore puts back (saved files, a renewed lease): no reset after them.
RESTORE_SUFFICES = {"good-line-above-the-disguised-one", "own-route-past-a-wrong-gateway-option",
                    "fixed-offset-time-zone", "fixed-offset-instead-of-utc", "only-the-pc-replugged",
                    "good-line-above-malicious", "valid-other-way-share", "share-777",
                    "share-opened-to-guests", "valid-other-way-samba-writable", "placeholder-home-page",
                    "wan-link-up-without-its-route", "valid-other-way-wan-route", "share-emptied-with-the-log"}

# (intervention, variant, commands, verdict of a reboot check)
REBOOT = {
    "dns-started-not-enabled": ("dns-failure", "service-stopped", [("srv", "systemctl start named")],
                                "lost-at-reboot"),
    "dns-enabled": ("dns-failure", "service-stopped", [("srv", "systemctl enable --now named")], "fixed"),
    "forwarding-live-only": ("internet-down", "forwarding-off", [("router", "sysctl -w net.ipv4.ip_forward=1")],
                             "lost-at-reboot"),
    "dhcp-started-not-enabled": ("dhcp-failure", "service-stopped",
                                 [("srv", "systemctl start isc-dhcp-server"), RENEW], "lost-at-reboot"),
    "firewall-flushed-live": ("fileshare-firewall", "smb-port-rejected", [("srv", "nft flush ruleset")],
                              "lost-at-reboot"),
    # the new variants' live-only repairs: a relay started by hand beside the misconfigured service,
    # the laptop's duplicate address removed from the interface but not from its configuration
    "relay-started-by-hand": ("dhcp-failure", "relay-wrong-server",
                              [("router", "/usr/sbin/dhcrelay -4 -q -i eth1 -i eth2 10.1.20.10"), RENEW],
                              "lost-at-reboot"),
    # live-only repairs of older variants: lost when the machine restarts
    "nic-up-live-only": ("client-nic-disabled", "interface-down", [("pc1", "ip link set eth0 up; ifup --force eth0")],
                         "lost-at-reboot"),
    "route-fixed-live-only": ("client-gateway", "static-wrong-gateway",
                              [("pc1", "ip route replace default via 10.1.10.1 dev eth0")], "lost-at-reboot"),
    "web-started-not-enabled": ("intranet-down", "service-stopped", [("srv", "systemctl start nginx")],
                                "lost-at-reboot"),
    # the older variants' masking repairs that hold until the machine restarts; a lossy link repaired
    # holds when the router restarts (the fault itself survives a restart: see the MASKING case)
    "route-fixed-live-past-the-dhcp-hook": ("client-gateway", "dhcp-hook-route",
                                            [("pc1", "ip route replace default via 10.1.10.1 dev eth0")],
                                            "lost-at-reboot"),
    "dhcp-client-by-hand-without-config": ("client-nic-disabled", "config-removed",
                                           [("pc1", "ip link set eth0 up && timeout 20 dhclient -1 eth0")],
                                           "lost-at-reboot"),
    "nat-rule-live-only": ("internet-down", "nat-off",
                           [("router", "nft add rule ip nat postrouting oifname eth0 masquerade")], "lost-at-reboot"),
    "loss-rule-removed-holds-at-reboot": ("slowness", "loss-only",
                                          [("router", "nft delete table inet tai_link_fault")], "fixed"),
    "laptop-alias-removed-live-only": ("duplicate-ip", "colleague-laptop",
                                       [("pc2", "a=$(awk '/address/ {print $2}' /etc/network/interfaces.d/alias); "
                                                "dev=$(ip -4 -o route show default | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); "
                                                "ip addr del $a dev $dev")], "lost-at-reboot"),
}

# Variants with no masking repair a candidate could sensibly make, and why: their masking cases
# would be repairs (or nothing at all). Every other variant of the plateau has a case above that
# is not "fixed" (test_every_variant_has_a_masking_case_or_a_reason).
NO_MASKING = {
    ("cable-unplugged", "link-down"): "the port is down on the switch: nothing on the PC brings the link back, "
                                      "and the only switch-side action that does (the port up, or the PC plugged "
                                      "into another socket of its VLAN) is the repair",
    ("printer-offline", "service-stopped"): "only the printer answers IPP for its name: restarting the printer "
                                            "(the jury's listed fix) or its service is the repair, and nothing on "
                                            "a PC makes the printer answer",
    ("printer-offline", "port-down"): "the printer's cable is the fault: replugging it (its port up) is the repair; "
                                      "the PCs cannot reach the printer any other way",
}
# The clock-skew cases exist only while Europe/Paris is on winter time (a fixed offset is right
# only in its season): in summer these variants have no case that can tell.
SEASONAL = {("clock-skew", "wrong-timezone"), ("clock-skew", "utc-zone")}


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    with standard_lab(LAB, 1, tmp_path_factory.mktemp("tverd")) as lab:
        yield lab


@pytest.fixture
def clean(lab, request):
    """Each case ends with a reset of the pod: restore undoes the fault, not what the candidate
    did elsewhere (a hosts line on pc1, a static address), which the next case must not see —
    unless the case changed only what the restore puts back and the pod is healthy after it."""
    yield lab
    if lab.active_interventions(1):
        lab.restore(1)
    case = getattr(getattr(request.node, "callspec", None), "params", {}).get("case")
    if case in RESTORE_SUFFICES and all(r.passed for r in lab.verify(1)):
        return
    bad = [r for r in lab.reset(pod=1, confirm_open_session=True) if not r.passed]
    assert not bad, f"pod not healthy after the case: {[(r.probe.id, r.evidence) for r in bad]}"


def _do(lab, actions):
    for node, cmd in actions:
        if cmd == RESTART:
            lab.engine().reboot(1, [node])
        else:
            lab.exec(1, node, ["sh", "-c", cmd], timeout=60)


def test_every_variant_has_a_masking_case_or_a_reason():
    """Each variant of the plateau has a masking, partial or live-only repair whose verdict is
    not "fixed", or the reason why none is sensible; the data named here exists."""
    plateau = {(i.id, v.id) for i in CATALOGUE.interventions.values() if not i.needs_directory and not i.desk
               for v in i.variants}
    cases = list(MASKING.values()) + list(REBOOT.values())
    for iid, variant, _actions, _want in cases:
        assert (iid, variant) in plateau, (iid, variant)
    masked = {(iid, variant) for iid, variant, _a, want in cases if want != "fixed"}
    assert not masked & set(NO_MASKING), "a variant with a case needs no reason"
    missing = plateau - masked - set(NO_MASKING) - (set() if _WINTER else SEASONAL)
    assert not missing, f"variants without a masking case or a reason: {sorted(missing)}"


def _verdict_within(lab, iid, want, seconds=20.0):
    deadline = time.monotonic() + seconds
    while True:
        (chk,) = lab.check(1, iid)
        if chk.state == want or time.monotonic() > deadline:
            return chk
        time.sleep(0.5)


@pytest.mark.parametrize("case", sorted(MASKING))
def test_plain_check_verdict(clean, case):
    lab = clean
    iid, variant, actions, want = MASKING[case]
    lab.inject(iid, 1, variant=variant)
    _do(lab, actions)
    if want == "broken":     # nothing to wait for: it must not turn fixed while things settle
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            (chk,) = lab.check(1, iid)
            assert not chk.fixed and chk.state == "broken", (case, chk.state)
            time.sleep(0.5)
    chk = _verdict_within(lab, iid, want)
    assert chk.state == want, (chk.state, [(r.probe.title, r.evidence) for r in chk.results if not r.passed])
    if want == "bypassed":
        assert not chk.fixed and chk.reason and chk.reason["fr"]
        assert chk.label("fr").startswith("CONTOURNÉ — ")
        # the check that found it really ran and is in the evidence log
        last = [r for r in lab.evidence(1).records() if r["kind"] == "check"][-1]
        assert last["verdict"] == "bypassed" and last["reason"] == chk.reason
        assert any(e["check"].startswith("contourné:") and not e["passed"] for e in last["evidence"])
    lab.restore(1, iid)


def test_checks_run_from_every_affected_user(clean):
    lab = clean
    lab.inject("dns-failure", 1, variant="record-deleted")
    (chk,) = lab.check(1, "dns-failure")
    assert {r.probe.node for r in chk.results} >= {"pc1", "pc2"}
    lab.restore(1, "dns-failure")


@pytest.mark.parametrize("case", sorted(REBOOT))
def test_reboot_check_verdict(clean, case):
    lab = clean
    iid, variant, actions, want = REBOOT[case]
    lab.inject(iid, 1, variant=variant)
    _do(lab, actions)
    _verdict_within(lab, iid, "fixed")
    started = time.monotonic()
    res = lab.check_reboot(1, iid)
    print(f"{case}: reboot check of {res.reboot} in {time.monotonic() - started:.1f} s")
    assert res.state == want, (res.state, [(r.probe.title, r.evidence) for r in res.results if not r.passed])
    assert res.reboot
    last = [r for r in lab.evidence(1).records() if r["kind"] == "check"][-1]
    assert last["verdict"] == want and last["reboot"] == list(res.reboot)
    if want == "lost-at-reboot":
        assert lab.evidence(1).current().applied_attempt(iid).outcome == "lost-at-reboot"
    lab.restore(1, iid)


def test_a_full_disk_stays_full_after_a_reboot(clean):
    lab = clean
    lab.inject("disk-full", 1, variant="share-volume-full")
    lab.engine().reboot(1, ["srv"])
    time.sleep(2)
    (chk,) = lab.check(1, "disk-full")
    assert not chk.fixed, [(r.probe.title, r.evidence) for r in chk.results]
    lab.restore(1, "disk-full")
