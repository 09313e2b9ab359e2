"""The three verdicts (issue 15) with fakes: RÉPARÉ, NON RÉPARÉ, CONTOURNÉ — <raison>, and
"réparé, mais perdu au redémarrage"; the catalogue's data that feeds them.

The behaviour on real pods is tests/integration/test_verdicts.py."""
from __future__ import annotations

from types import SimpleNamespace


import pytest

from tai_lab.evidence import EvidenceLog, LabHook
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.interventions.engine import CheckResult, Engine, build_probe
from tai_lab.interventions.model import ProbeSpec
from tai_lab.probes import Probe, ProbeResult
from tai_lab.state import LabState

from .fakes import JournalContext
from .test_interventions import _event

CATALOGUE = load_catalogue()
CTX = {"pod": 1, "user_node": "pc1", "user_iface": "eth0", "user_subnet": "10.1.10.0/24", "target_node": "srv",
       "domain": "pod1.tai.lan", "gateway": "10.1.10.1", "dns_address": "10.1.20.10",
       "intranet_url": "http://intranet.pod1.tai.lan/", "intranet_marker": "TAI-INTRANET-POD1", "internet_site": "www.example.net",
       "clients": [{"user_node": "pc1", "user_iface": "eth0", "user_subnet": "10.1.10.0/24"},
                   {"user_node": "pc2", "user_iface": "wlan0", "user_subnet": "10.1.10.0/24"}]}


def _result(node: str, passed: bool, pid: str = "x#0") -> ProbeResult:
    return ProbeResult(1, Probe(pid, f"check {pid}", node, ("true",)), passed, "ok" if passed else "ko")


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    state = LabState("lab1")
    eng = Engine(JournalContext(state, backend=SimpleNamespace(silence_s=0.5)))
    state.journal.event("intervention", step="begin", pod=1, id="dns-failure", variant="record-deleted", ctx=CTX)
    _event(state, "applied", 1, "dns-failure", "record-deleted")
    _event(state, "proven", 1, "dns-failure", "record-deleted")
    return eng


def _verdict(engine, monkeypatch, checks: dict[str, bool], leftovers: list[bool]) -> CheckResult:
    monkeypatch.setattr(Engine, "_probe", lambda self, item, var, ctx, **kw: [
        _result(node, ok) for node, ok in checks.items()])
    monkeypatch.setattr(Engine, "_leftovers", lambda self, pod, item, bypasses, ctx: [
        (n, _result("pc1", ok, f"contourné:{n}")) for n, ok in enumerate(leftovers)])
    (c,) = engine.check(1, "dns-failure")
    return c


def test_fixed_only_when_every_user_works_and_nothing_is_left_behind(engine, monkeypatch):
    c = _verdict(engine, monkeypatch, {"pc1": True, "pc2": True}, [True, True, True])
    assert (c.state, c.fixed, c.label("fr")) == ("fixed", True, "RÉPARÉ")


def test_masked_on_the_users_machine_is_bypassed_with_the_first_reason(engine, monkeypatch):
    # pc1 works (a hosts line), pc2 does not, the DNS server still does not answer
    c = _verdict(engine, monkeypatch, {"pc1": True, "pc2": False}, [False, False, True])
    item = CATALOGUE.get("dns-failure")
    assert c.state == "bypassed" and not c.fixed
    assert c.reason == {"fr": item.bypass[0].reason.fr, "en": item.bypass[0].reason.en}
    assert c.label("fr") == "CONTOURNÉ — " + item.bypass[0].reason.fr
    assert c.label("en").startswith("WORKED AROUND — ")
    assert any(r.probe.id.startswith("contourné:") for r in c.results)     # the checks that ran


def test_not_fixed_when_the_users_machine_fails_whatever_is_left(engine, monkeypatch):
    c = _verdict(engine, monkeypatch, {"pc1": False, "pc2": True}, [False])
    assert (c.state, c.fixed, c.reason) == ("broken", False, None)


def test_every_user_works_but_nothing_found_behind_it_stays_not_fixed_if_a_user_fails(engine, monkeypatch):
    c = _verdict(engine, monkeypatch, {"pc1": True, "pc2": False}, [True, True, True])
    assert c.state == "broken"


def test_reboot_check_lost_and_kept(engine, monkeypatch):
    rebooted: list[list[str]] = []
    monkeypatch.setattr(Engine, "reboot", lambda self, pod, nodes, **kw: rebooted.append(nodes))
    seq = iter([True, False])          # fixed before the reboot, not after
    monkeypatch.setattr(Engine, "_probe", lambda self, item, var, ctx, **kw: [_result("pc1", next(seq, False))])
    monkeypatch.setattr(Engine, "_leftovers", lambda self, pod, item, bypasses, ctx: [])
    res = engine.check_reboot(1, "dns-failure", settle=0)
    assert rebooted == [["srv"]] and res.state == "lost-at-reboot" and not res.fixed and res.reboot == ("srv",)
    assert res.label("fr") == "RÉPARÉ, MAIS PERDU AU REDÉMARRAGE"
    monkeypatch.setattr(Engine, "_probe", lambda self, item, var, ctx, **kw: [_result("pc1", True)])
    assert engine.check_reboot(1, "dns-failure", settle=0).state == "fixed"
    # not repaired: nothing restarted
    monkeypatch.setattr(Engine, "_probe", lambda self, item, var, ctx, **kw: [_result("pc1", False)])
    rebooted.clear()
    assert engine.check_reboot(1, "dns-failure", settle=0).state == "broken" and rebooted == []


def test_the_evidence_log_keeps_the_verdict_the_reason_and_lost_at_reboot(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    hook = LabHook(log)
    log.record("inject-begin", id="dns-failure", variant=None)
    log.record("inject", id="dns-failure", variant="record-deleted", seconds=2, evidence=[])
    why = {"fr": "nom ajouté au fichier hosts", "en": "name in hosts"}
    bypassed = CheckResult(1, "dns-failure", "record-deleted", False, (), 0.0, bypassed=True, reason=why)
    hook.after_check([bypassed], "web:A", "changes")
    hook.after_check([bypassed], "web:A", "changes")          # no change: not written again
    checks = [r for r in log.records() if r["kind"] == "check"]
    assert [(c["verdict"], c["reason"]) for c in checks] == [("bypassed", why)]
    a = log.current().applied_attempt("dns-failure")
    assert a.outcome == "bypassed" and a.reason == why
    fixed = CheckResult(1, "dns-failure", "record-deleted", True, (), 0.0)
    hook.after_check([fixed], "web:A", "changes")
    assert log.current().applied_attempt("dns-failure").outcome == "fixed"
    lost = CheckResult(1, "dns-failure", "record-deleted", False, (), 0.0, lost_at_reboot=True, reboot=("srv",))
    hook.after_check([lost], "cli", "all")
    broken = CheckResult(1, "dns-failure", "record-deleted", False, (), 0.0)
    hook.after_check([broken], "web:A", "changes")
    a = log.current().applied_attempt("dns-failure")
    assert a.outcome == "lost-at-reboot"                         # until a check sees it fixed again
    assert [r for r in log.records() if r["kind"] == "check"][-2]["reboot"] == ["srv"]
    hook.after_check([fixed], "web:A", "changes")
    assert log.current().applied_attempt("dns-failure").outcome == "fixed"


def test_the_report_says_contourne_with_the_reason(tmp_path):
    from tai_lab.jury.report import context
    log = EvidenceLog(tmp_path, 1)
    log.record("inject-begin", id="fileshare-permissions", variant=None)
    log.record("inject", id="fileshare-permissions", variant="directory-read-only", seconds=2, evidence=[])
    log.record("check", id="fileshare-permissions", variant="directory-read-only", fixed=False, evidence=[],
               verdict="bypassed", reason={"fr": "droits 777", "en": "777"})
    (item,) = context("std", "Plateau", log)["items"]
    assert item["verdict"] == "contourné — droits 777" and not item["fixed"]


def test_source_and_state_probes():
    dns = build_probe(ProbeSpec(probe="dns", name="intranet.{domain}"), CTX, 0)
    assert dns.node == "pc1" and "@10.1.20.10" in dns.command[-1] and "intranet.pod1.tai.lan" in dns.command[-1]
    offer = build_probe(ProbeSpec(probe="dhcp-offer", on="users", contains="router={gateway}"),
                        {**CTX, **CTX["clients"][1]}, 1)
    assert offer.node == "pc2" and offer.command[-2] == "wlan0" and offer.must_contain == "router=10.1.10.1"
    assert "DHCPDISCOVER" in (offer.stdin or "")
    state = build_probe(ProbeSpec(probe="state", on="target", title="t", run="test -d /srv"), CTX, 2)
    assert state.node == "srv" and state.command == ("sh", "-c", "test -d /srv")
    with pytest.raises(ValueError, match="une vérification state demande"):     # French by default
        ProbeSpec(probe="state", run="true")


def test_every_check_runs_from_every_client_for_a_shared_fault(engine):
    item = CATALOGUE.get("dns-failure")
    probes = engine.probes_for(item, item.variant("record-deleted"), CTX)
    assert {p.node for p in probes} == {"pc1", "pc2"} and len({p.id for p in probes}) == len(probes)
    assert all("depuis" in p.title for p in probes)


@pytest.mark.parametrize("iid", CATALOGUE.ids)
def test_catalogue_data_for_the_verdicts(iid):
    item = CATALOGUE.get(iid)
    for b in item.bypass + tuple(b for v in item.variants for b in v.bypass):
        assert b.reason.fr and b.reason.en and b.reason.fr != b.reason.en
    if item.affects == "clients":
        assert any(s.on == "users" for v in item.variants for s in item.checks_for(v)), iid
    text = " ".join(item.jury.pitfalls)
    if item.bypass:
        assert "contourné" in text, f"{iid}: its pitfalls should say what is reported as contourné"


def test_reboot_targets(engine):
    item = CATALOGUE.get("dns-failure")
    var = item.variant("record-deleted")
    assert engine.reboot_nodes(item, var, CTX) == ["srv"]
    port = CATALOGUE.get("switch-port-shut")
    assert engine.reboot_nodes(port, port.variants[0], {**CTX, "target_is_port": True}) == []


def test_the_log_says_where_each_check_ran():
    from tai_lab.evidence import evidence_dicts
    (d,) = evidence_dicts([_result("pc2", False, "resolve#0@pc2")])
    assert d["node"] == "pc2" and d["check"] == "resolve#0@pc2"


# --- the checks changed for the older variants' masking cases --------------------------------------

def _reason_of(iid: str, variant: str, spec_kind: str) -> tuple[ProbeSpec, str]:
    item = CATALOGUE.get(iid)
    (b,) = [b for b in item.bypasses_for(item.variant(variant)) if b.check.probe == spec_kind]
    return b.check, b.reason.fr


@pytest.mark.parametrize("variant", ["port-disabled", "port-security"])
def test_a_port_moved_to_another_vlan_is_told_by_the_dhcp_offer_on_the_wire(variant):
    """switch-port-shut: the ping to the gateway's address passes from the servers' VLAN too (the
    router answers on each interface), so the check asks the wire: only the users' VLAN gets an
    offer with the users' gateway."""
    from tai_lab.transports.base import CommandResult
    spec, reason = _reason_of("switch-port-shut", variant, "dhcp-offer")
    probe = build_probe(spec, CTX, 0)
    assert probe.node == "pc1" and probe.command[-2] == "eth0" and probe.must_contain == "router=10.1.10.1"

    def out(text: str, status: int = 0) -> CommandResult:
        return CommandResult(probe.command, status, text + "\n", "")
    assert probe.judge(out("OFFER 10.1.10.120 server=10.1.20.10 router=10.1.10.1"))          # users' VLAN
    assert not probe.judge(out("OFFER 10.1.20.120 server=10.1.20.10 router=10.1.20.1"))      # servers' VLAN
    assert not probe.judge(out("NO-OFFER", 1))                                                # port out of any VLAN
    assert "VLAN utilisateurs" in reason


def _dhcp_configured(run: str, tmp_path, config: str | None) -> bool:
    """The state check's own command, run against a copy of ifupdown's files in tmp_path."""
    import subprocess
    net = tmp_path / "network"
    (net / "interfaces.d").mkdir(parents=True)
    (net / "interfaces").write_text("source /etc/network/interfaces.d/*\n")
    if config is not None:
        (net / "interfaces.d" / "eth0").write_text(config)
    return subprocess.run(["sh", "-c", run.replace("/etc/network", str(net))]).returncode == 0


@pytest.mark.parametrize("iid,variant", [("client-gateway", "dhcp-hook-route"),
                                         ("client-nic-disabled", "config-removed"),
                                         ("client-nic-disabled", "interface-down")])
def test_a_static_address_on_the_client_is_told_from_its_dhcp_configuration(iid, variant, tmp_path):
    item = CATALOGUE.get(iid)
    spec, reason = _reason_of(iid, variant, "state")
    run = build_probe(spec, CTX, 0).command[-1]
    assert build_probe(spec, CTX, 0).node == "pc1" and "adresse fixe" in reason
    static = "auto eth0\niface eth0 inet static\n  address 10.1.10.150/24\n  gateway 10.1.10.1\n"
    assert not _dhcp_configured(run, tmp_path / "a", static)
    assert _dhcp_configured(run, tmp_path / "b", "auto eth0\niface eth0 inet dhcp\n")
    assert _dhcp_configured(run, tmp_path / "c", "iface eth0 inet dhcp\n")      # not brought up at boot: not this check
    assert _dhcp_configured(run, tmp_path / "d", "  iface eth1 inet static\n")  # another interface
    assert "contourné" in " ".join(item.jury.pitfalls)


def test_a_static_configuration_with_the_right_gateway_stays_a_repair_of_the_static_variant():
    """client-gateway/static-wrong-gateway: "corriger la passerelle dans la configuration statique"
    is a listed fix, so no DHCP bypass there."""
    item = CATALOGUE.get("client-gateway")
    assert item.bypasses_for(item.variant("static-wrong-gateway")) == ()
