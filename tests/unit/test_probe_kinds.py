"""The registry of probe kinds (tai_lab/probes/kinds.py): one place builds each kind of check for
the plateau's health, the prep phase's requirements and the interventions' checks."""
from __future__ import annotations

import typing
from pathlib import Path

import pytest

from tai_lab import probes
from tai_lab.errors import NotFoundError
from tai_lab.interventions.engine import build_probe
from tai_lab.interventions.model import ProbeKind, ProbeSpec
from tai_lab.plan import CheckPlan
from tai_lab.probes import FAST_DNS, Probe, build, health_probes, kind, prep_probe
from tai_lab.probes.kinds import KINDS
from tai_lab.scenario import load_plan
from tai_lab.scenario.model import CHECK_FIELDS, CheckKind
from tai_lab.transports.base import CommandResult

STD = Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml"
CTX = {"pod": 1, "domain": "pod1.tai.lan", "user_node": "pc1", "user_iface": "eth0", "user_subnet": "10.1.10.0/24",
       "printer_fqdn": "printer.pod1.tai.lan", "share": "commun", "share_user": "tai", "share_password": "tai-1",
       "share_server": "srv.pod1.tai.lan", "timezone": "Europe/Paris", "dns_address": "10.1.20.10"}


def _res(status: int, out: str = "", err: str = "") -> CommandResult:
    return CommandResult(("x",), status, out, err)


def test_an_unknown_kind_lists_the_valid_ones():
    with pytest.raises(NotFoundError) as err:
        build("smb-lsit", "pc1", id="x#0", share="//s/c", user="u", password="p")
    text = str(err.value)
    assert "unknown probe kind 'smb-lsit'" in text and "did you mean 'smb-list'" in text
    for name in ("resolve", "fetch", "ipp", "smb-list", "smb-read", "dns", "lease", "state"):
        assert name in text.split("valid kinds:")[1]
    assert sorted(probes.kind_names()) == probes.kind_names() and "ipp" in probes.kind_names()


def test_a_missing_or_unknown_value_is_named():
    with pytest.raises(ValueError, match="an? ipp probe needs printer"):
        build("ipp", "pc1", id="ipp#0")
    with pytest.raises(ValueError, match=r"takes no colour \(it takes: printer, answer_s\)"):
        build("ipp", "pc1", id="ipp#0", printer="p.lan", colour="red")
    with pytest.raises(ValueError, match="state probe needs a title"):
        build("state", "pc1", id="state#0", run="true")
    # None counts as not given: a caller passes its optional values as they are
    assert build("resolve", "pc1", id="r#0", name="srv", address=None).must_contain is None


def test_every_kind_the_data_may_name_has_a_builder():
    """An intervention's check (ProbeKind) and a prep requirement's check (CheckKind) are
    accepted by the data files only if the registry can build them."""
    accepted = set(typing.get_args(ProbeKind)) | set(typing.get_args(CheckKind)) | set(CHECK_FIELDS)
    assert not accepted - set(KINDS), f"kinds the data accepts without a builder: {sorted(accepted - set(KINDS))}"


def test_each_probe_says_its_kind_for_the_jurys_sentence():
    samples = {"resolve": {"name": "srv"}, "dns": {"name": "srv", "server": "10.1.20.10"},
               "lease": {"iface": "eth0", "subnet": "10.1.10.0/24"}, "dhcp-offer": {"iface": "eth0"},
               "unique-address": {"iface": "eth0"}, "gateway": {"address": "10.1.10.1"},
               "reach": {"address": "10.1.10.1"}, "ping": {"target": "gw", "max_rtt_ms": 100.0, "max_loss_pct": 0.0},
               "fetch": {"url": "http://x/"}, "ipp": {"printer": "p.lan"},
               "smb-list": {"share": "//s/c", "user": "u", "password": "p"},
               "smb-write": {"share": "//s/c", "user": "u", "password": "p"},
               "clock": {"max_skew_s": 300.0}, "state": {"run": "true"},
               "desk-asset": {"name": "pc1", "mac": "02:00:00:00:00:01"}, "desk-ticket": {"ticket": 12, "owner": True},
               "domain-login": {"account": "alice", "passwords": ("P@ss1",)},
               "kinit": {"account": "alice", "realm": "POD1.TAI.LAN", "passwords": ("P@ss1",)},
               "smb-ticket": {"account": "alice", "realm": "POD1.TAI.LAN", "passwords": ("P@ss1",),
                              "share": "//srv/compta", "label": "compta", "denied": True}}
    names = {k.name for k in KINDS.values()}
    assert names <= set(samples), f"give a sample to the new kinds: {sorted(names - set(samples))}"
    for name, values in samples.items():
        p = build(name, "pc1", id=f"{name}#0", title="t" if name == "state" else None, **values)
        assert p.about[0] == ("kind", name) and p.title and p.node == "pc1"
    # an alias is built by its kind, and says the kind's name
    alias = build("smb-read", "pc1", id="smb-read#0", share="//s/c", user="u", password="p")
    assert alias.about[0] == ("kind", "smb-list") and alias.command[-1] == "ls"


def test_one_place_builds_each_kind_for_health_prep_and_interventions():
    """The plateau's fileshare check, a prep requirement's smb-read and an intervention's
    smb-list run the same command on the same share (only their titles are their own)."""
    plan = load_plan(STD, pods=1)
    pod = plan.pod(1)
    health = {p.id: p for p in health_probes(plan, pod, internet=True)}
    prep = prep_probe(pod, CheckPlan("smb-read", "pc1", {"share": "//srv.pod1.tai.lan/commun", "user": "tai",
                                                        "password": pod.services["fileshare"]["password"]}), 0)
    iv = build_probe(ProbeSpec(probe="smb-list"), {**CTX, "share_password": pod.services["fileshare"]["password"]}, 0)
    assert health["fileshare"].command == prep.command == iv.command
    assert health["fileshare"].command[:len(FAST_DNS) + 2] == (*FAST_DNS, "smbclient", "//srv.pod1.tai.lan/commun")
    assert {health["fileshare"].title, prep.title, iv.title} == {
        "le partage commun s'ouvre depuis pc1", "tai ouvre le partage //srv.pod1.tai.lan/commun depuis pc1",
        "le partage commun s’ouvre"}
    # The printer: the same getent + ipptool script, the intervention's answering sooner.
    ipp_prep = prep_probe(pod, CheckPlan("ipp", "pc1", {"name": "printer.pod1.tai.lan"}), 0)
    ipp_iv = build_probe(ProbeSpec(probe="ipp"), CTX, 0)
    assert health["printer"].command == ipp_prep.command
    assert ipp_iv.command == tuple(a.replace("-T 5", "-T 2") for a in ipp_prep.command)


def test_resolve_needs_the_whole_address():
    """getent prints "<address>  STREAM <name>": .10 is not .100, whoever asks."""
    plan = load_plan(STD, pods=1)
    dns = next(p for p in health_probes(plan, plan.pod(1), internet=True) if p.id == "dns:srv")
    addr = str(plan.pod(1).address_of("srv"))
    assert dns.judge(_res(0, f"{addr}      STREAM srv.pod1.tai.lan\n"))
    assert not dns.judge(_res(0, f"{addr}0     STREAM srv.pod1.tai.lan\n"))


def test_a_kind_added_by_decorator_is_built_for_every_caller():
    """What the directory and service-desk work adds: a kind under @kind, then usable by name."""
    try:
        @kind("test-kinit", needs=("principal",), takes=("password",))
        def _kinit(a: probes.Ask) -> Probe:
            return Probe(a.id, a.title or f"{a['principal']} obtient un ticket", a.node,
                         ("kinit", a["principal"]), stdin=a.get("password"), about=a.about(principal=a["principal"]))

        p = build("test-kinit", "pc1", id="k#0", principal="alice@POD1.TAI.LAN", password="x", timeout=3)
        assert p.command == ("kinit", "alice@POD1.TAI.LAN") and p.timeout == 3 and p.stdin == "x"
        assert "test-kinit" in probes.kind_names()
        # a prep check of a new kind reaches it with its values as written
        q = prep_probe(load_plan(STD, pods=1).pod(1), CheckPlan("test-kinit", "pc1", {"principal": "bob", "expect": "allowed"}), 2)
        assert q.id == "test-kinit#2" and q.command == ("kinit", "bob")
        with pytest.raises(ValueError, match="registered twice"):
            kind("test-kinit")(_kinit)
    finally:
        KINDS.pop("test-kinit", None)
    assert "test-kinit" not in probes.kind_names()


def test_a_prep_check_of_an_unknown_kind_is_refused_by_name():
    pod = load_plan(STD, pods=1).pod(1)
    with pytest.raises(NotFoundError, match="unknown probe kind 'telnet'"):
        prep_probe(pod, CheckPlan("telnet", "pc1", {}), 0)


def test_a_kind_says_where_its_check_runs():
    """The service desk's record is read on the desk's machine, every other check on the user's:
    the registry says it, the interventions follow it."""
    assert {n for n, k in KINDS.items() if k.runs_on == "desk"} == {"desk-asset", "desk-ticket"}
    ctx = {"user_node": "pc1", "desk_node": "srv", "pod": 1, "ticket": 7}
    assert build_probe(ProbeSpec(probe="desk-ticket", owner=True), ctx, 0).node == "srv"
    assert build_probe(ProbeSpec(probe="resolve", name="www.example.test"), ctx, 0).node == "pc1"
    with pytest.raises(ValueError, match="runs_on"):
        kind("nowhere", runs_on="printer")
