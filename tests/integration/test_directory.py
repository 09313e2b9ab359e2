"""The directory on a real pod (issue 16): a Samba AD domain controller, members joined with sssd.

One 1-pod lab of tai-domaine for the whole file. A domain user logs in on the members and
writes to the share their AD group gives them; someone outside the group is refused, someone
outside the login OU cannot log in. Every directory intervention is injected (the engine proves
it broken from the user's machine), repaired in two different ways where there are two, and a
workaround is refused (NON RÉPARÉ or CONTOURNÉ). A reset puts back a directory changed meanwhile.
"""
from __future__ import annotations

import re
import time

import pytest

from tai_lab.interventions import load_catalogue
from tai_lab.probes import domain_login_script, kinit_script, smb_ticket_script

from .conftest import ROOT, lab_name

LAB = lab_name("tdom")
REALM, SHARE = "POD1.TAI.LAN", "//srv.pod1.tai.lan/compta"
SAM = "/var/lib/samba/private/sam.ldb"
ALICE_DN = "CN=alice,OU=Utilisateurs,DC=pod1,DC=tai,DC=lan"
COMPTA_DN = "CN=compta,OU=Groupes,DC=pod1,DC=tai,DC=lan"


def _ldif(*lines: str) -> str:
    body = "\\n".join(lines)
    return f"printf '{body}\\n' | ldbmodify -H {SAM}"


REJOIN = ("printf 'Admin-1-Domaine' | adcli join --domain=pod1.tai.lan -U Administrator --stdin-password && "
          "systemctl reset-failed sssd; systemctl restart sssd")
SEARCH_BASE = ("sed -i 's/^ldap_user_search_base = .*/ldap_user_search_base = {}/' /etc/sssd/sssd.conf && "
               "systemctl reset-failed sssd; systemctl restart sssd")

# Repairs as a technician would make them: (node, shell command) steps, one list per way.
FIXES: dict[tuple[str, str], list[list[tuple[str, str]]]] = {
    ("ad-account-disabled", "disabled"): [
        [("srv", "samba-tool user enable alice")],
        [("srv", _ldif(f"dn: {ALICE_DN}", "changetype: modify", "replace: userAccountControl",
                       "userAccountControl: 512"))]],
    ("ad-account-disabled", "expired"): [
        [("srv", "samba-tool user setexpiry alice --noexpiry")],
        [("srv", "samba-tool user setexpiry alice --days=30")]],
    ("ad-account-locked", "kerberos"): [
        [("srv", "samba-tool user unlock alice")],
        [("srv", _ldif(f"dn: {ALICE_DN}", "changetype: modify", "replace: lockoutTime", "lockoutTime: 0"))]],
    ("ad-account-locked", "share"): [
        [("srv", "samba-tool user unlock alice")]],
    ("ad-password-change", "must-change"): [
        # the user picks the password they asked for, at their machine
        [("pc1", "printf 'Alice-1-Tai\\nNouveau-1-Tai\\nNouveau-1-Tai\\n' | KRB5CCNAME=FILE:/tmp/cc kpasswd alice")],
        [("srv", "samba-tool user setpassword alice --newpassword=Alice-1-Tai")]],
    ("ad-password-change", "temporary"): [
        [("pc1", "printf 'Provisoire-1-Pod1\\nNouveau-1-Tai\\nNouveau-1-Tai\\n' | KRB5CCNAME=FILE:/tmp/cc kpasswd alice")],
        [("srv", "samba-tool user setpassword alice --newpassword=Nouveau-1-Tai")]],
    ("ad-share-group", "removed"): [
        [("srv", "samba-tool group addmembers compta alice")],
        [("srv", _ldif(f"dn: {COMPTA_DN}", "changetype: modify", "add: member", f"member: {ALICE_DN}"))]],
    ("ad-share-group", "distribution"): [
        [("srv", _ldif(f"dn: {COMPTA_DN}", "changetype: modify", "replace: groupType",
                       "groupType: -2147483646"))]],
    ("ad-wrong-ou", "former-staff"): [
        [("srv", "samba-tool user move alice OU=Utilisateurs"), ("pc1", "sss_cache -E")],
        [("srv", f"ldbrename -H {SAM} CN=alice,OU=Anciens,DC=pod1,DC=tai,DC=lan {ALICE_DN}")]],
    ("ad-wrong-ou", "default-container"): [
        [("srv", "samba-tool user move alice OU=Utilisateurs"), ("pc1", "sss_cache -E")]],
    ("ad-trust-broken", "machine-password"): [[("pc1", REJOIN)]],
    ("ad-trust-broken", "computer-deleted"): [[("pc1", REJOIN)]],
    ("ad-dns-records", "srv-deleted"): [
        [("srv", "samba_dnsupdate && sed -i '/dns update command/d' /etc/samba/smb.conf")]],
    ("ad-dns-records", "dc-host-deleted"): [
        [("srv", "samba-tool dns add 127.0.0.1 pod1.tai.lan srv A 10.1.20.10 -U Administrator "
                 "--password=Admin-1-Domaine && sed -i '/dns update command/d' /etc/samba/smb.conf")]],
}

# Workarounds: (steps, the verdicts that refuse them).
WORKAROUNDS: dict[tuple[str, str], tuple[list[tuple[str, str]], set[str]]] = {
    # a local account of the same name on the user's machine: never the domain's
    ("ad-account-disabled", "disabled"): (
        [("pc1", "echo 'alice:x:2001:2001::/root:/bin/sh' >> /etc/passwd && "
                 "echo 'alice:$6$x$x:19000:0:99999:7:::' >> /etc/shadow")], {"broken"}),
    # lowering the domain's lockout policy, then unlocking: worked around
    ("ad-account-locked", "kerberos"): (
        [("srv", "samba-tool domain passwordsettings set --account-lockout-threshold=0"),
         ("srv", "samba-tool user unlock alice")], {"bypassed"}),
    # "password never expires" does not lift a required change
    ("ad-password-change", "must-change"): (
        [("srv", _ldif(f"dn: {ALICE_DN}", "changetype: modify", "replace: userAccountControl",
                       "userAccountControl: 66048"))], {"broken", "bypassed"}),
    # the share opened to everyone
    ("ad-share-group", "removed"): ([("srv", "chmod 2777 /srv/compta")], {"bypassed"}),
    # the directory given to Domain Users (gid 15000): everyone in the domain writes
    ("ad-share-group", "distribution"): ([("srv", "chgrp 15000 /srv/compta")], {"bypassed"}),
    # the members' logon restriction widened to the whole domain: former staff log in too
    ("ad-wrong-ou", "former-staff"): (
        [("pc1", SEARCH_BASE.format("DC=pod1,DC=tai,DC=lan"))], {"bypassed"}),
    # a local account on the machine that lost its trust
    ("ad-trust-broken", "machine-password"): (
        [("pc1", "echo 'alice:x:2001:2001::/root:/bin/sh' >> /etc/passwd && "
                 "echo 'alice:$6$x$x:19000:0:99999:7:::' >> /etc/shadow")], {"broken"}),
    # the controller written by hand on the machine: the domain's DNS stays broken
    ("ad-dns-records", "srv-deleted"): (
        [("pc1", "sed -i 's/^ad_gpo_access_control = disabled$/&\\nad_server = srv.pod1.tai.lan/' "
                 "/etc/sssd/sssd.conf && systemctl reset-failed sssd; systemctl restart sssd")], {"broken", "bypassed"}),
}
UNDO_WORKAROUND = {
    ("ad-dns-records", "srv-deleted"): [("pc1", "sed -i '/^ad_server/d' /etc/sssd/sssd.conf")],
    ("ad-account-disabled", "disabled"): [("pc1", "sed -i '/^alice:/d' /etc/passwd /etc/shadow")],
    ("ad-trust-broken", "machine-password"): [("pc1", "sed -i '/^alice:/d' /etc/passwd /etc/shadow")],
    ("ad-wrong-ou", "former-staff"): [("pc1", SEARCH_BASE.format("OU=Utilisateurs,DC=pod1,DC=tai,DC=lan"))],
}

CATALOGUE = load_catalogue()
VARIANTS = [(i.id, v.id) for i in CATALOGUE.interventions.values() if i.needs_directory for v in i.variants]


@pytest.fixture(scope="module")
def dom(lab_home, tmp_path_factory):
    """tai-domaine, 1 pod, under the test's lab name; down at the end, also on failure."""
    from tai_lab import images
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    for image in ("debian-12-ad", "debian-12-desktop-ad"):   # a minute each, once per host
        images.build(image, progress=print)
    text = (ROOT / "scenarios/tai-domaine.yaml").read_text()
    path = tmp_path_factory.mktemp("scenario") / "tai-domaine-test.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M))
    try:
        yield Lab.up(path, pods=1, progress=print)
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)


def _sh(lab, node: str, script: str, timeout: float = 60):
    return lab.exec(1, node, ["sh", "-c", script], timeout=timeout)


def _login(lab, node: str, user: str, password: str):
    return _sh(lab, node, domain_login_script(user, (password,)))


def _settled(lab, iid: str, want: set[str], limit: float = 20.0):
    """Check until the verdict is one of ``want`` (sssd's caches, a fresh ticket), or time is up."""
    deadline = time.monotonic() + limit
    while True:
        (chk,) = lab.check(1, iid)
        if chk.state in want or time.monotonic() > deadline:
            return chk
        time.sleep(1)


def _online(lab, node: str, limit: float = 60.0):
    """A member booted before its controller answered is offline for a few seconds (sssd)."""
    deadline = time.monotonic() + limit
    while True:
        res = _login(lab, node, "alice", "Alice-1-Tai")
        if res.ok or time.monotonic() > deadline:
            return res
        time.sleep(2)


def test_domain_users_log_in_on_the_members_and_the_group_gives_the_share(dom):
    for node in ("pc1", "pc2"):
        res = _online(dom, node)
        assert res.ok, res.brief()
    assert not _login(dom, "pc1", "alice", "Faux-1-Tai").ok                      # wrong password
    refused = _login(dom, "pc1", "damien", "Damien-1-Tai")                         # OU Anciens
    assert not refused.ok and "inconnu du domaine" in refused.stdout, refused.brief()
    assert _sh(dom, "pc1", kinit_script("chloe", REALM, ("Chloe-1-Tai",))).ok
    assert _sh(dom, "pc1", smb_ticket_script("alice", REALM, ("Alice-1-Tai",), SHARE, False)).ok
    denied = _sh(dom, "pc1", smb_ticket_script("chloe", REALM, ("Chloe-1-Tai",), SHARE, True))
    assert denied.ok, denied.brief()                                               # told: access denied
    # the domain's DNS is the pod's, forwarding the rest (not to itself)
    assert "10.1.20.10" in _sh(dom, "pc1", "getent ahostsv4 intranet.pod1.tai.lan").stdout
    assert _sh(dom, "pc1", "host -t SRV _ldap._tcp.pod1.tai.lan").ok
    assert "198.51.100.80" in _sh(dom, "pc1", "getent ahostsv4 www.example.net").stdout
    assert "dns forwarder = 198.51.100.53" in _sh(dom, "srv", "testparm -s 2>/dev/null").stdout
    health = dom.verify(1)
    assert all(r.passed for r in health), [r.as_dict() for r in health if not r.passed]
    assert any(r.probe.id == "domain" for r in health)


@pytest.mark.parametrize("iid,variant", VARIANTS)
def test_directory_fault_proven_repaired_and_workaround_refused(dom, iid, variant):
    assert (iid, variant) in FIXES, f"add a technician's fix for {iid}/{variant}"
    ways = FIXES[(iid, variant)]
    for n, steps in enumerate(ways):
        started = time.monotonic()
        res = dom.inject(iid, 1, variant=variant)          # the engine proves it from pc1, or refuses
        assert not all(r.passed for r in res.evidence), res.evidence
        print(f"{iid}/{variant}: inject → proven broken in {time.monotonic() - started:.1f} s")
        try:
            (chk,) = dom.check(1, iid)
            assert chk.state == "broken", chk.as_dict()
            if n == 0 and (iid, variant) in WORKAROUNDS:
                bad, refused = WORKAROUNDS[(iid, variant)]
                for node, cmd in bad:
                    _sh(dom, node, cmd)
                chk = _settled(dom, iid, refused, limit=15)
                assert chk.state in refused, chk.as_dict()
                for node, cmd in UNDO_WORKAROUND.get((iid, variant), []):
                    _sh(dom, node, cmd)
                dom.restore(1, iid)                        # whatever the workaround did, put back
                dom.inject(iid, 1, variant=variant)
            for node, cmd in steps:
                out = _sh(dom, node, cmd)
                assert out.ok, out.brief()
            chk = _settled(dom, iid, {"fixed"})
            assert chk.fixed, [r.as_dict() for r in chk.results if not r.passed]
        finally:
            dom.restore(1, iid)
    # restored: the user works as before, with the scenario's password
    assert _login(dom, "pc1", "alice", "Alice-1-Tai").ok


def test_a_reset_puts_the_directory_back(dom):
    """A candidate's changes to the directory (an account disabled, a password changed, a file on
    the share) are gone after a reset; the domain answers and the user logs in again."""
    assert _sh(dom, "srv", "samba-tool user disable bruno").ok
    assert _sh(dom, "srv", "samba-tool user setpassword chloe --newpassword=Change-1-Tai").ok
    assert _sh(dom, "srv", "echo candidat > /srv/compta/trace.txt").ok
    health = dom.reset(1)
    assert all(r.passed for r in health), [r.as_dict() for r in health if not r.passed]
    assert _sh(dom, "pc1", kinit_script("bruno", REALM, ("Bruno-1-Tai",))).ok
    assert _sh(dom, "pc2", kinit_script("chloe", REALM, ("Chloe-1-Tai",))).ok
    assert not _sh(dom, "srv", "test -e /srv/compta/trace.txt").ok
    assert _sh(dom, "pc1", smb_ticket_script("alice", REALM, ("Alice-1-Tai",), SHARE, False)).ok
