"""The directory's data (issue 16): the per-pod domain of tai-domaine, its LDIF batch, the
values the roles receive, and the checks' shell (passwords tried without costing bad ones)."""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from tai_lab import directory, provision
from tai_lab.probes import domain_login_script, kinit_script, smb_ticket_script
from tai_lab.scenario import load_plan

DOMAIN = Path(__file__).resolve().parents[2] / "scenarios" / "tai-domaine.yaml"


def test_each_pod_has_its_own_realm_passwords_and_rfc2307_ids():
    plan = load_plan(DOMAIN, pods=2)
    one, two = plan.pod(1).directory, plan.pod(2).directory
    assert one is not None and two is not None
    assert (one.realm, two.realm) == ("POD1.TAI.LAN", "POD2.TAI.LAN")
    assert one.base_dn == "DC=pod1,DC=tai,DC=lan" and one.dc == "srv" and one.members == ("pc1", "pc2")
    assert one.user("alice").password == "Alice-1-Tai" and two.user("alice").password == "Alice-2-Tai"
    assert one.incident_user == "alice" and one.control_user == "chloe"
    ids = [u.uid for u in one.users] + [g.gid for g in one.groups]
    assert len(set(ids)) == len(ids) and all(10000 <= i <= 19999 for i in ids)


def test_the_batch_holds_ous_groups_users_with_their_passwords_and_memberships():
    plan = load_plan(DOMAIN, pods=1)
    d = plan.pod(1).directory
    assert d is not None
    objects = directory.objects_ldif(d, "pod1.tai.lan")
    blocks = objects.strip().split("\n\n")
    assert len(blocks) == len(d.ous) + len(d.groups) + len(d.users)
    assert blocks[0].startswith("dn: OU=Utilisateurs,DC=pod1,DC=tai,DC=lan")   # OUs before what they hold
    alice = next(b for b in blocks if b.startswith("dn: CN=alice,"))
    pwd = next(line.split(":: ")[1] for line in alice.splitlines() if line.startswith("unicodePwd::"))
    assert base64.b64decode(pwd).decode("utf-16-le") == '"Alice-1-Tai"'
    assert "uidNumber: 10001" in alice and "userAccountControl: 512" in alice
    chloe = next(b for b in blocks if b.startswith("dn: CN=chloe,"))
    assert "givenName:: " + base64.b64encode("Chloé".encode()).decode() in chloe    # accents in base64
    members = directory.members_ldif(d)
    assert f"member: CN=alice,OU=Utilisateurs,{d.base_dn}" in members
    assert "CN=Domain Users,CN=Users" in members and "gidNumber: 15000" in members


def test_the_roles_get_the_domain_and_the_controller_serves_the_pods_dns():
    plan = load_plan(DOMAIN, pods=1)
    pod = plan.pod(1)
    srv = provision.node_vars(plan, pod, pod.node("srv"))
    pc2 = provision.node_vars(plan, pod, pod.node("pc2"))
    printer = provision.node_vars(plan, pod, pod.node("printer"))
    assert srv["dns_server"] == "10.1.20.10" and printer["resolver"] == "10.1.20.10"
    assert srv["directory"]["forwarder"] == "198.51.100.53"                       # not itself: no loop
    assert {"name": "intranet", "address": "10.1.20.10"} in srv["directory"]["dns_records"]
    assert {"name": "printer", "address": "10.1.10.20"} in srv["directory"]["dns_records"]
    assert pc2["directory"]["computer_name"] == "PC2" and "objects_ldif" not in pc2["directory"]
    assert pc2["directory"]["login_base"] == "OU=Utilisateurs,DC=pod1,DC=tai,DC=lan"
    assert "directory" not in printer


def _run(script: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={"PATH": f"{path}:/usr/bin:/bin"})


def test_a_check_tries_the_next_password_only_after_a_wrong_one(tmp_path: Path):
    """A fake kinit: it records each password it is given and answers like MIT kinit."""
    log = tmp_path / "tried"
    (tmp_path / "kinit").write_text(
        "#!/bin/sh\nread p; echo \"$p\" >> " + str(log) + "\n"
        "case \"$p\" in good) exit 0;; expired) echo 'Password expired. You must change it now.'; exit 1;;"
        " *) echo 'kinit: Password incorrect while getting initial credentials'; exit 1;; esac\n")
    (tmp_path / "kinit").chmod(0o755)
    assert _run(kinit_script("alice", "R", ("bad", "good", "never")), tmp_path).returncode == 0
    assert log.read_text().split() == ["bad", "good"]
    log.unlink()
    assert _run(kinit_script("alice", "R", ("expired", "good")), tmp_path).returncode != 0
    assert log.read_text().split() == ["expired"]                 # no second try: not a wrong password


def test_the_login_check_refuses_an_account_the_domain_does_not_know(tmp_path: Path):
    (tmp_path / "getent").write_text("#!/bin/sh\nexit 2\n")       # sssd knows no such user
    (tmp_path / "pamtester").write_text("#!/bin/sh\nexit 0\n")     # a PAM that would say yes
    (tmp_path / "sss_cache").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("getent", "pamtester", "sss_cache"):
        (tmp_path / tool).chmod(0o755)
    script = domain_login_script("alice", ("good",))
    assert "> /etc/pam.d/tai-domaine" in script               # the PAM service is the tool's, every time
    res = _run(script.replace("/etc/pam.d/tai-domaine", str(tmp_path / "pam")), tmp_path)
    assert res.returncode == 3 and "inconnu du domaine" in res.stdout
    assert (tmp_path / "pam").read_text().split("\n")[:2] == ["auth required pam_sss.so",
                                                               "account required pam_sss.so"]


def test_the_share_check_denied_needs_a_ticket_and_the_servers_refusal():
    script = smb_ticket_script("chloe", "POD1.TAI.LAN", ("Chloe-1-Tai",), "//srv.pod1.tai.lan/compta", True)
    assert "--use-kerberos=required" in script and "NT_STATUS_ACCESS_DENIED" in script
    assert "pas de ticket Kerberos" in script                     # no ticket proves nothing about rights
