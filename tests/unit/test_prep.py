"""The prep phase without a lab: the cahier des charges per pod, its checks, the seal's
manifest, the document, and the interventions' refusal when the candidate runs no server."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
import pytest
from click.testing import CliRunner

from tai_lab.cli import cli
from tai_lab.errors import LabStateError
from tai_lab.interventions.discover import Discovery
from tai_lab.prep import document
from tai_lab.prep.seal import diff, fingerprint
from tai_lab.probes import prep_probe
from tai_lab.scenario import load_plan
from tai_lab.scenario.values import PLACEHOLDER
from tai_lab.transports.base import CommandResult

from .fakes import ScriptedNode, fake_context

STD = Path(__file__).resolve().parents[2] / "scenarios" / "tai-standard.yaml"


@pytest.fixture(scope="module")
def plan():
    return load_plan(STD, pods=3)


# --- the cahier des charges per pod ------------------------------------------------------------

def test_every_pod_gets_its_own_values_and_no_placeholder_is_left(plan):
    texts = {}
    for pod in plan.pods:
        prep = pod.prep
        assert prep is not None and len(prep.requirements) == 7
        body = prep.title + prep.context + "".join(r.title + r.text for r in prep.requirements)
        values = [str(v) for r in prep.requirements for c in r.checks for v in c.params.values()]
        assert not PLACEHOLDER.search(body + "".join(values)), PLACEHOLDER.search(body + "".join(values))
        texts[pod.number] = body
    assert "10.2.20.10" in texts[2] and "10.1.20.10" not in texts[2] and "pod2.tai.lan" in texts[2]
    assert "Alice-3-tai" in texts[3] and "10.3.10.100" in texts[3]
    assert len(set(texts.values())) == 3


def test_the_cahier_covers_the_issue_and_names_real_competencies(plan):
    from tai_lab.referentiel import load
    ids = set(load().ids)
    reqs = plan.pod(1).prep.requirements
    assert {r.id for r in reqs} >= {"dhcp", "dns", "share", "printer"}
    assert all(set(r.competencies) <= ids for r in reqs)
    kinds = {c.check for r in reqs for c in r.checks}
    assert kinds >= {"lease", "resolve", "fetch", "smb-write", "smb-read", "ipp"}
    start = {s.node: s for s in plan.pod(1).prep.start}
    assert start["srv"].state == "bare" and "isc-dhcp-server" in start["srv"].remove_packages
    assert plan.pod(1).prep.start_of("router").state == "baseline"


def test_every_check_of_the_standard_scenario_builds_a_probe(plan):
    pod = plan.pod(2)
    probes = [prep_probe(pod, c, i) for r in pod.prep.requirements for i, c in enumerate(r.checks)]
    assert len(probes) == 15 and all(p.title and p.node in {"pc1", "pc2", "srv"} for p in probes)


def _res(out: str, rc: int = 0) -> CommandResult:
    return CommandResult(("x",), rc, out, "")


def test_lease_check_wants_an_address_in_the_pool_from_the_server(plan):
    pod = plan.pod(1)
    lease = next(c for r in pod.prep.requirements for c in r.checks if c.check == "lease")
    probe = prep_probe(pod, lease, 0)
    good = "2: eth0    inet 10.1.10.142/24 brd 10.1.10.255 scope global eth0\n  option dhcp-server-identifier 10.1.20.10;"
    assert probe.judge(_res(good))
    assert not probe.judge(_res(good.replace("10.1.10.142", "10.1.10.42")))      # outside the pool
    assert not probe.judge(_res(good.replace("10.1.20.10;", "10.1.10.1;")))       # another server
    assert not probe.judge(_res("2: eth0    inet 169.254.3.4/16"))


def test_resolve_check_does_not_take_dot_100_for_dot_10(plan):
    pod = plan.pod(1)
    check = next(c for r in pod.prep.requirements for c in r.checks
                 if c.check == "resolve" and c.params["name"] == "srv.pod1.tai.lan")
    probe = prep_probe(pod, check, 0)
    assert probe.judge(_res("10.1.20.10      STREAM srv.pod1.tai.lan\n"))
    assert not probe.judge(_res("10.1.20.100     STREAM srv.pod1.tai.lan\n"))


def test_write_denied_means_the_server_said_so(plan):
    pod = plan.pod(1)
    denied = next(c for r in pod.prep.requirements for c in r.checks if c.params.get("expect") == "denied")
    probe = prep_probe(pod, denied, 0)
    assert probe.judge(_res("NT_STATUS_ACCESS_DENIED opening remote file \\tai-verif-chloe.txt"))
    assert not probe.judge(_res("do_connect: Connection to srv.pod1.tai.lan failed (Error NT_STATUS_UNSUCCESSFUL)"))
    assert not probe.judge(_res("putting file /etc/hostname as \\tai-verif-chloe.txt"))


# --- the seal's manifest -----------------------------------------------------------------------

def test_fingerprint_sees_content_mode_links_and_deletions(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc/dhcp").mkdir(parents=True)
    conf = upper / "etc/dhcp/dhcpd.conf"
    conf.write_text("subnet 10.1.10.0 netmask 255.255.255.0 { }\n")
    (upper / "etc/link").symlink_to("/etc/dhcp/dhcpd.conf")
    if os.geteuid() == 0:
        os.mknod(upper / "etc/gone", 0o600 | 0o020000, os.makedev(0, 0))   # an overlay whiteout
    before = {"srv": fingerprint(upper)}
    assert before["srv"]["etc/link"] == "link /etc/dhcp/dhcpd.conf"
    if os.geteuid() == 0:
        assert before["srv"]["etc/gone"] == "deleted"
    assert diff(before, {"srv": fingerprint(upper)}) == []

    os.utime(conf, (1, 1))                                      # a date alone is not a change
    assert diff(before, {"srv": fingerprint(upper)}) == []
    conf.write_text("subnet 10.1.10.0 netmask 255.255.255.0 { range 10.1.10.5 10.1.10.6; }\n")
    (upper / "etc/new").write_text("x")
    (upper / "etc/link").unlink()
    changes = diff(before, {"srv": fingerprint(upper)})
    assert [(c["path"], c["change"]) for c in changes] == [
        ("/etc/dhcp/dhcpd.conf", "changed"), ("/etc/link", "removed"), ("/etc/new", "added")]
    os.chmod(conf, 0o600)
    assert any(c["path"] == "/etc/dhcp/dhcpd.conf" for c in diff(before, {"srv": fingerprint(upper)}))
    assert diff(before, {}) and diff(before, {})[0]["change"] == "removed"


# --- the document ------------------------------------------------------------------------------

def test_html_document_has_the_pods_values(plan):
    html = document.render_html(plan, 2)
    assert "<html lang=\"fr\">" in html and "Cahier des charges" in html
    assert "10.2.10.100" in html and "srv.pod2.tai.lan" in html and "Bruno-2-tai" in html
    assert "10.1.20.10" not in html and "{" not in html.split("</style>")[1]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_document_from_the_cli_reads_back_with_the_pods_values(tmp_path):
    out = tmp_path / "cahier.pdf"
    res = CliRunner().invoke(cli, ["prep", "document", "--scenario", str(STD), "--pod", "2",
                                   "--format", "pdf", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True).stdout
    assert "Cahier des charges" in text and "poste candidat n° 2" in text
    assert "10.2.20.10" in text and "pod2.tai.lan" in text and "Partage de fichiers" in text
    assert "10.1.20.10" not in text


def test_document_for_a_pod_that_does_not_exist_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["prep", "document", "--scenario", str(STD), "--pod", "9", "-o",
                                   str(tmp_path / "x.pdf")])
    from tai_lab.errors import NotFoundError
    assert isinstance(res.exception, NotFoundError) and res.exception.exit_code == 4
    assert "pods : 1, 2" in res.exception.hint and not (tmp_path / "x.pdf").exists()
    assert "pods: 1, 2" in res.exception.hint.en


# --- interventions on a candidate's setup ------------------------------------------------------

def _discovery(answers: dict[str, str]) -> Discovery:
    """Discovery on pod 1, every node answering from ``answers`` (``systemctl is-active`` says 3
    when a unit is inactive, as systemd does)."""
    script = {prefix: (3 if "inactive" in out else 0, out, "") for prefix, out in answers.items()}
    lab = fake_context(load_plan(STD, pods=1), lab="unit-no-such-lab",
                       nodes=lambda pod, node: ScriptedNode(script, node=node))
    return Discovery(lab, 1)


def test_no_dhcp_server_at_all_is_refused_before_anything():
    disc = _discovery({"systemctl is-active": "inactive\ninactive\ninactive\n"})
    with pytest.raises(LabStateError) as info:
        disc.active_service("srv", "dhcp")
    assert "aucun serveur DHCP ne tourne sur srv" in info.value.message and "ne s'applique pas" in info.value.message
    assert "no DHCP server runs on srv" in info.value.message.en and "cannot apply" in info.value.message.en


def test_the_candidates_dnsmasq_and_its_files_are_found():
    disc = _discovery({"systemctl is-active": "inactive\nactive\ninactive\n",
                       "sh -c grep -rlE '^dhcp-range'": "/etc/dnsmasq.d/dhcp.conf\n",
                       "sh -c grep -rlE '^[^#]*intranet'": "/etc/dnsmasq.d/dns.conf\n"})
    assert disc.active_service("srv", "dhcp") == "dnsmasq"
    files = disc.service_files("srv", "dhcp", "dnsmasq")
    assert files == {"dhcp_config_file": "/etc/dnsmasq.d/dhcp.conf", "dhcp_leases_file": "/var/lib/misc/dnsmasq.leases"}
    dns = disc.service_files("srv", "dns", "dnsmasq")
    assert dns["dns_zone_file"] == "/etc/dnsmasq.d/dns.conf" and dns["dns_options_file"] == "/etc/dnsmasq.conf"
    # bind9 with the zone file named as the candidate liked
    disc = _discovery({"sh -c grep -rlE '^intranet": "/etc/bind/zones/entreprise.zone\n"})
    assert disc.service_files("srv", "dns", "named")["dns_zone_file"] == "/etc/bind/zones/entreprise.zone"


def test_phase_jury_killed_between_two_sealed_pods_is_finished_by_a_rerun(tmp_path, monkeypatch):
    """Each pod's seal is recorded verified before its machines start: a rerun boots the pod
    that was verified but not booted, without verifying it again (its machines may run)."""
    from tai_lab.evidence import EvidenceLog
    from tai_lab.prep import seal
    from tai_lab.state import LabState
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    lab = fake_context(load_plan(STD, pods=2), lab="lk")
    state = lab.state
    for n in (1, 2):
        state.pod(n)["seal"] = {"sealed_at": "t", "digest": "d"}
    state.save()
    verified: list[int] = []
    monkeypatch.setattr(seal, "verify", lambda lab, n: verified.append(n) or [])

    class Crash(BaseException):
        pass

    def start_pod(p):
        if p.number == 2 and not verified.count(99):
            raise Crash()                             # killed while starting pod 2
        booted.append(p.number)
    booted: list[int] = []
    monkeypatch.setattr(lab.backend, "start_pod", start_pod)
    with pytest.raises(Crash):
        seal.open_for_jury(lab, [1, 2])
    after = LabState("lk")
    assert after.pod(1)["seal"].get("opened") and after.pod(2)["seal"].get("verified_at")
    assert not after.pod(2)["seal"].get("opened") and verified == [1, 2]
    lab.state = after
    verified.append(99)
    seal.open_for_jury(lab, [1, 2])
    assert verified == [1, 2, 99] and booted == [1, 2]                 # pod 2: booted, not re-verified
    assert LabState("lk").pod(2)["seal"].get("opened")
    assert [r["kind"] for r in EvidenceLog(state.dir, 2).records()] == ["seal"]   # recorded once


def test_french_guillemets_and_colons_never_start_a_line(plan):
    import re
    html = document.render_html(plan, 1)
    body = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    assert "«" in body                                     # the standard cahier quotes messages
    assert not re.search(r"«[ \n]|[ \n]»| :(?!//)| ;| \?| !", re.sub(r"<[^>]+>", "", body)), \
        "a breaking space next to « » : ; ? ! in the candidate's document"
    assert "«\u00a0" in body and ("\u00a0:" in body or "&nbsp;:" in body)


def test_the_networks_carry_their_french_names_in_the_document(plan):
    html = document.render_html(plan, 1)
    table = html.split("Plan d'adressage", 1)[1].split("</table>", 1)[0]
    assert "<td>Utilisateurs</td>" in table and "<td>Serveurs</td>" in table
    assert "<td>users</td>" not in table and "<td>servers</td>" not in table
