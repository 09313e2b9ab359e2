"""Interventions without a lab: the shipped catalogue, its coverage of the référentiel,
the errors a trainer reads, the probes built from specs, and the engine's bookkeeping
(journal folding, input errors raised before anything changes).

No root, no containers: fakes stand in for the lab, its backend and Ansible.
"""
from __future__ import annotations

import base64
import random
import re
import string
from datetime import datetime, timedelta, UTC
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tai_lab import referentiel
from tai_lab.errors import LabStateError, NotFoundError, ScenarioError, TaiLabError
from tai_lab.interventions import catalogue as catalogue_mod
from tai_lab.interventions import engine as engine_mod
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.interventions.discover import ROLE_SERVICE, SERVICE_FILES, Discovery
from tai_lab.interventions.engine import Engine, build_probe
from tai_lab.interventions.model import Intervention, ProbeSpec, Variant
from tai_lab.probes import FAST_DNS
from tai_lab.scenario import load_plan
from tai_lab.state import LabState

from .fakes import JournalContext
from tai_lab.transports.base import CommandResult

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "interventions"
PLAYBOOKS = ROOT / "playbooks"
STD = ROOT / "scenarios" / "tai-standard.yaml"
DESK = ROOT / "scenarios" / "tai-servicedesk.yaml"


@pytest.fixture(autouse=True)
def fresh_catalogue():
    """load_catalogue is lru_cached: never let one test see another's catalogue."""
    load_catalogue.cache_clear()
    yield
    load_catalogue.cache_clear()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# ---------------------------------------------------------------------------------------------
# 1. The shipped catalogue
# ---------------------------------------------------------------------------------------------

# The keys Discovery.context always builds (read from discover.py), then those that depend
# on the variant's target.
BASE_KEYS = {
    "pod", "domain", "user_node", "user_iface", "user_subnet", "gateway", "user_address",
    "router_node", "router_lan_iface", "router_wan_iface", "printer_node", "printer_fqdn",
    "printer_address", "share", "share_user", "share_password", "share_path", "share_server",
    "internet_site", "internet_address", "upstream_resolver", "timezone", "intranet_url",
    "intranet_marker", "target_node", "target_is_port",
}
PORT_KEYS = {"port_device", "port_netns", "port_name", "port_bridge", "other_bridge", "port_node"}
# On a pod with a service desk (an intervention on the desk needs one).
DESK_KEYS = {"desk_node", "desk_url", "desk_user", "desk_user_name", "asset_name", "asset_mac", "asset_serial",
             "other_machine", "other_mac", "other_serial", "other_user", "desk_technician"}
# What Discovery.directory adds on a pod with a domain (tai-domaine).
AD_KEYS = {
    "ad_realm", "ad_domain", "ad_base", "ad_netbios", "ad_dc", "ad_dc_fqdn", "ad_admin_password", "ad_user",
    "ad_password", "ad_new_password", "ad_user_ou", "ad_user_groups", "ad_control", "ad_control_password",
    "ad_login_base", "ad_share", "ad_share_group", "ad_share_path", "ad_share_gid", "ad_temp_password",
    "ad_share_server", "ad_lockout_threshold", "ad_policy_args", "ad_outside", "ad_other_ou", "ad_computer",
}
DOMAIN = ROOT / "scenarios/tai-domaine.yaml"


def context_keys(var: Variant, item: Intervention | None = None) -> set[str]:
    keys = set(BASE_KEYS) | (DESK_KEYS if item is not None and item.desk else set()) \
        | (AD_KEYS if item is not None and item.needs_directory else set())
    if var.target.port is not None:
        keys |= PORT_KEYS
    else:
        keys.add("target_address")
        kind = ROLE_SERVICE.get(var.target.role or "")
        if kind:
            keys.add(f"{kind}_service")
            keys |= set(SERVICE_FILES.get(kind, ()))
    return keys


def _templates(item: Intervention, var: Variant) -> list[tuple[str, str]]:
    """(where, text) of every str.format template the engine fills with the context."""
    out: list[tuple[str, str]] = []
    for n, spec in enumerate(item.checks_for(var)):
        for name in ProbeSpec.model_fields:
            value = getattr(spec, name)
            if isinstance(value, str):
                out.append((f"check[{n}].{name}", value))
    out += [(f"saves.files[{n}]", t) for n, t in enumerate(var.saves.files)]
    out += [(f"saves.services[{n}]", t) for n, t in enumerate(var.saves.services)]
    out += [(f"after_restore[{n}]", t) for n, t in enumerate(var.after_restore)]
    return out


def _placeholders(text: str) -> set[str]:
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}


def test_shipped_catalogue_loads_with_its_ids_texts_and_playbooks():
    cat = load_catalogue()
    files = sorted(p.stem for p in SHIPPED.glob("*.yaml"))
    assert len(cat.interventions) >= 15
    assert cat.ids == files                           # one intervention per file, none lost
    ref_ids = set(referentiel.load().ids)
    french = {"je", "le", "la", "les", "de", "des", "mon", "ma", "plus", "pas", "ne", "est", "n'arrive"}
    for iid, item in cat.interventions.items():
        assert item.id == iid and (SHIPPED / f"{iid}.yaml").is_file()
        assert len(item.variants) >= 1, iid
        words = set(re.findall(r"[\w']+", item.symptom.lower()))
        assert len(words & french) >= 2, f"{iid}: symptom does not read as French: {item.symptom!r}"
        assert item.title.fr.strip() and item.title.fr != item.title.en, iid
        assert item.jury.diagnostic and all(s.strip() for s in item.jury.diagnostic), iid
        assert item.jury.fixes and all(s.strip() for s in item.jury.fixes), iid
        assert set(item.competencies) <= ref_ids, f"{iid}: {set(item.competencies) - ref_ids}"
        assert (PLAYBOOKS / item.playbook_path).is_file(), f"{iid}: no playbooks/{item.playbook_path}"
        assert len({v.id for v in item.variants}) == len(item.variants), iid


def test_every_placeholder_can_be_filled_from_the_discovered_context():
    cat = load_catalogue()
    problems = []
    checked = 0
    for item in cat.interventions.values():
        for var in item.variants:
            ctx = {k: f"<{k}>" for k in context_keys(var, item)}
            for where, text in _templates(item, var):
                try:
                    text.format(**ctx)
                except (KeyError, IndexError, ValueError, AttributeError) as exc:
                    problems.append(f"{item.id}/{var.id} {where} {text!r}: {exc!r}")
                checked += bool(_placeholders(text))
    assert not problems, "\n".join(problems)
    assert checked > 20                               # the walk did see the templates


class _SilentTransport:
    """A node that answers nothing: discovery falls back to the plan."""

    def run(self, argv, *, timeout=30.0, input=None):
        return CommandResult(tuple(argv), 1, "", "no answer")


def test_discovery_on_the_standard_plan_builds_the_listed_keys():
    """The key list above is what discover.py really builds, for every shipped variant."""
    plan = load_plan(STD, pods=1)
    backend = SimpleNamespace(transport=lambda pod, node: _SilentTransport(),
                              port_namespace=lambda pod, device: f"tai-std-p{pod}-{device}",
                              require=lambda capability, feature: None)
    lab = SimpleNamespace(plan=plan, backend=backend)
    desk_lab = SimpleNamespace(plan=load_plan(DESK, pods=1), backend=backend)
    cat = load_catalogue()
    for item in cat.interventions.values():
        if item.needs_directory:
            continue                                  # tai-standard has no domain: see the next test
        for var in item.variants:
            if item.desk:      # an intervention on the service desk: refused where there is none
                with pytest.raises(LabStateError, match="service.desk"):
                    Discovery(lab, 1).context(item, var)
            ctx = Discovery(desk_lab if item.desk else lab, 1).context(item, var)
            missing = context_keys(var, item) - set(ctx)
            assert not missing, f"{item.id}/{var.id}: discovery lacks {missing}"
            for _where, text in _templates(item, var):
                text.format(**ctx)                    # no KeyError with the real values
            assert ctx["target_is_port"] is (var.target.port is not None)
    dns = cat.get("dns-failure")
    ctx = Discovery(lab, 1).context(dns, dns.variant("service-stopped"))
    assert ctx["target_node"] == "srv" and ctx["dns_service"] == "named"
    assert ctx["user_node"] == "pc1" and ctx["intranet_url"] == "http://intranet.pod1.tai.lan/"



def test_discovery_on_the_domain_plan_builds_the_directory_keys():
    """tai-domaine: every directory intervention gets its domain's values, this pod's."""
    plan = load_plan(DOMAIN, pods=2)
    backend = SimpleNamespace(transport=lambda pod, node: _SilentTransport(),
                              port_namespace=lambda pod, device: f"tai-dom-p{pod}-{device}",
                              require=lambda capability, feature: None)
    lab = SimpleNamespace(plan=plan, backend=backend)
    cat = load_catalogue()
    directory = [i for i in cat.interventions.values() if i.needs_directory]
    assert len(directory) >= 4 and all(len(i.variants) >= 2 for i in directory)
    for item in directory:
        assert item.competencies[0] == "c11", f"{item.id}: c11 is the primary competency"
        for var in item.variants:
            ctx = Discovery(lab, 2).context(item, var)
            missing = context_keys(var, item) - set(ctx)
            assert not missing, f"{item.id}/{var.id}: discovery lacks {missing}"
            for _where, text in _templates(item, var):
                text.format(**ctx)
            assert ctx["target_node"] == "srv" and ctx["ad_realm"] == "POD2.TAI.LAN"
            assert ctx["ad_user"] == "alice" and ctx["ad_password"] == "Alice-2-Tai"
            assert ctx["ad_control"] == "chloe" and ctx["ad_share"] == "compta"


# ---------------------------------------------------------------------------------------------
# 2. Coverage of the référentiel
# ---------------------------------------------------------------------------------------------

def test_coverage_lists_every_competency_once_with_reasons():
    ref = referentiel.load()
    cat = load_catalogue()
    rows = cat.coverage()
    assert [r["competency"] for r in rows] == ref.ids
    assert len({r["competency"] for r in rows}) == len(ref.ids)
    for r in rows:
        for iid in r["interventions"]:
            assert r["competency"] in cat.get(iid).competencies
        expected = sorted(i.id for i in cat.interventions.values() if r["competency"] in i.competencies)
        assert r["interventions"] == expected
        if r["interventions"]:
            assert r["not_covered_because"] is None
        else:
            assert r["not_covered_because"], r
            if r["modality"] in ("questionnaire", "interview"):
                assert r["not_covered_because"] == catalogue_mod.NOT_ON_A_PLATEAU[r["modality"]]
        assert r["primary"] == sorted(i for i in expected if cat.get(i).competencies[0] == r["competency"])
        assert sorted(r["primary"] + r["secondary"]) == expected
    by_id = {r["competency"]: r for r in rows}
    assert by_id["c14"]["interventions"] and by_id["c10"]["interventions"]
    assert "dns-failure" in by_id["c14"]["primary"] and "dns-failure" in by_id["c10"]["secondary"]


@pytest.mark.parametrize("competency", ["c8", "c11"])
def test_the_directory_and_the_service_desk_are_each_the_primary_competency_of_four_interventions(competency):
    """Issue 16: c8 (service desk and inventory) and c11 (directory) are what at least four
    interventions are about, each with two ways of breaking it at least."""
    cat = load_catalogue()
    row = next(r for r in cat.coverage() if r["competency"] == competency)
    assert len(row["primary"]) >= 4, row
    assert all(len(cat.get(i).variants) >= 2 for i in row["primary"]), row


def test_select_filters_by_competency_ccp_and_allowed_list():
    cat = load_catalogue()
    ref = referentiel.load()
    c10 = cat.select(competency="c10")
    assert c10 and all("c10" in i.competencies for i in c10)
    ccp3 = cat.select(ccp="ccp3")
    assert ccp3 and all(any(ref.competency(c).ccp == "ccp3" for c in i.competencies) for i in ccp3)
    assert [i.id for i in cat.select(allowed=["dns-failure", "slowness"])] == ["dns-failure", "slowness"]
    assert cat.select(allowed=[]) == []


# ---------------------------------------------------------------------------------------------
# 3. An unknown id
# ---------------------------------------------------------------------------------------------

def test_get_unknown_id_suggests_the_close_one_and_lists_all():
    cat = load_catalogue()
    with pytest.raises(NotFoundError) as info:
        cat.get("dns-failur")
    err = info.value
    assert "dns-failur" in err.message
    assert "vouliez-vous dire 'dns-failure'" in err.hint and "did you mean 'dns-failure'" in err.hint.en
    for iid in cat.ids:
        assert iid in err.hint
    with pytest.raises(NotFoundError) as far:
        cat.get("zzzzzzzz")
    assert "vouliez-vous dire" not in far.value.hint and "identifiants valides" in far.value.hint


# ---------------------------------------------------------------------------------------------
# 4. A broken catalogue directory: every problem at once, with file:line
# ---------------------------------------------------------------------------------------------

def _intervention_yaml(iid: str, *, extra: str = "", competencies: str = "[c14, c10]",
                       playbook: str | None = "interventions/dns-failure.yml") -> str:
    return (
        f"id: {iid}\n"
        'title: {fr: "Panne de test", en: "Test failure"}\n'
        'symptom: "Je n\'arrive plus à ouvrir la page."\n'
        "competencies:\n" + "".join(f"  - {c}\n" for c in competencies.strip("[]").split(", ")) +
        "difficulty: 1\n"
        "category: réseau\n"
        + (f"playbook: {playbook}\n" if playbook else "")
        + extra +
        "check:\n"
        '  - {probe: resolve, name: "intranet.{domain}"}\n'
        "variants:\n"
        "  - id: only\n"
        '    title: {fr: "Seule", en: "Only"}\n'
        "    target: {role: dns}\n"
        "jury:\n"
        '  diagnostic: ["Tester."]\n'
        '  fixes: ["Réparer."]\n'
    )


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def test_broken_catalogue_reports_every_problem_with_file_and_line(tmp_path):
    good = tmp_path / "all-good.yaml"
    good.write_text(_intervention_yaml("all-good"))
    unknown_key = tmp_path / "unknown-key.yaml"
    unknown_key.write_text(_intervention_yaml("unknown-key", extra="dificulty: 2\n"))
    bad_comp = tmp_path / "bad-competency.yaml"
    bad_comp.write_text(_intervention_yaml("bad-competency", competencies="[c14, c99]"))
    wrong_id = tmp_path / "wrong-id.yaml"
    wrong_id.write_text(_intervention_yaml("another-id"))
    no_book = tmp_path / "no-playbook.yaml"
    no_book.write_text(_intervention_yaml("no-playbook", playbook=None))

    with pytest.raises(ScenarioError) as info:
        load_catalogue(str(tmp_path))
    err = info.value
    assert err.path == str(tmp_path)
    by_file: dict[str, list] = {}
    for p in err.problems:
        by_file.setdefault(Path(p.file).name, []).append(p)
    assert set(by_file) == {"unknown-key.yaml", "bad-competency.yaml", "wrong-id.yaml", "no-playbook.yaml"}
    assert all(len(ps) == 1 for ps in by_file.values()), err.problems

    (p,) = by_file["unknown-key.yaml"]
    # French by default (the English: test_validation_words.py)
    assert "clé inconnue 'dificulty'" in p.message and "vouliez-vous dire 'difficulty'" in p.hint
    assert p.line == _line_of(unknown_key, "dificulty")
    (p,) = by_file["bad-competency.yaml"]
    assert "compétence inconnue 'c99'" in p.message and "c14" in p.hint
    assert p.line == _line_of(bad_comp, "- c99")
    (p,) = by_file["wrong-id.yaml"]
    assert "'another-id' diffère du nom du fichier" in p.message
    assert p.line == _line_of(wrong_id, "id: another-id")
    (p,) = by_file["no-playbook.yaml"]
    assert "pas de playbook interventions/no-playbook.yml" in p.message
    assert p.hint == "écrire playbooks/interventions/no-playbook.yml"

    text = str(err)
    for f, needle in ((unknown_key, "dificulty"), (bad_comp, "- c99"), (wrong_id, "id: another-id"),
                      (no_book, "id: no-playbook")):
        assert f"{f}:{_line_of(f, needle)}:" in text
    assert "4 problèmes dans les fichiers d'intervention" in text


def test_a_fixed_directory_loads_after_cache_clear(tmp_path):
    (tmp_path / "all-good.yaml").write_text(_intervention_yaml("all-good"))
    (tmp_path / "wrong-id.yaml").write_text(_intervention_yaml("another-id"))
    with pytest.raises(ScenarioError):
        load_catalogue(str(tmp_path))
    (tmp_path / "wrong-id.yaml").unlink()
    load_catalogue.cache_clear()
    cat = load_catalogue(str(tmp_path))
    assert cat.ids == ["all-good"] and cat.directory == tmp_path


# ---------------------------------------------------------------------------------------------
# 5. Probes built from specs: command line and judge
# ---------------------------------------------------------------------------------------------

CTX = {
    "pod": 1, "domain": "pod1.tai.lan", "user_node": "pc1", "user_iface": "eth0",
    "user_subnet": "10.1.10.0/24", "gateway": "10.1.10.1", "user_address": "10.1.10.100",
    "printer_fqdn": "printer.pod1.tai.lan", "share": "commun", "share_user": "tai",
    "share_password": "tai-1", "share_server": "srv.pod1.tai.lan", "internet_site": "www.example.net",
    "intranet_url": "http://intranet.pod1.tai.lan/", "intranet_marker": "TAI-INTRANET-POD1",
    "timezone": "Europe/Paris", "target_node": "srv",
}


def _res(status: int, out: str = "", err: str = "") -> CommandResult:
    return CommandResult(("x",), status, out, err)


def test_resolve_probe():
    p = build_probe(ProbeSpec(probe="resolve", name="intranet.{domain}", address="10.1.20.10"), CTX, 0)
    assert p.id == "resolve#0" and p.node == "pc1"
    # glibc's resolver waits whole seconds: the probe's window is timeout(1)'s
    assert p.command == ("timeout", "0.5", *FAST_DNS, "getent", "ahostsv4", "intranet.pod1.tai.lan")
    assert p.judge(_res(0, "10.1.20.10      STREAM intranet.pod1.tai.lan\n"))
    assert not p.judge(_res(0, "10.9.9.9      STREAM intranet.pod1.tai.lan\n"))   # hijacked
    assert not p.judge(_res(2))
    any_addr = build_probe(ProbeSpec(probe="resolve", name="{internet_site}", on="srv"), CTX, 3)
    assert any_addr.node == "srv" and any_addr.command[-1] == "www.example.net"
    assert any_addr.judge(_res(0, "198.51.100.80 STREAM www.example.net"))


def test_fetch_probe():
    p = build_probe(ProbeSpec(probe="fetch", url="{intranet_url}", contains="{intranet_marker}"), CTX, 1)
    assert p.command[:len(FAST_DNS)] == FAST_DNS and p.command[len(FAST_DNS)] == "curl"
    assert p.command[-1] == "http://intranet.pod1.tai.lan/" and "--max-time" in p.command
    assert p.judge(_res(0, "<h1>TAI-INTRANET-POD1</h1>"))
    assert not p.judge(_res(0, "<h1>It works!</h1>"))           # default page, not the intranet
    assert not p.judge(_res(22, "TAI-INTRANET-POD1"))


def test_lease_probe():
    p = build_probe(ProbeSpec(probe="lease"), CTX, 2)
    assert p.command == ("ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert p.in_subnet == "10.1.10.0/24"
    assert p.judge(_res(0, "2: eth0    inet 10.1.10.123/24 brd 10.1.10.255 scope global dynamic eth0"))
    assert not p.judge(_res(0, "2: eth0    inet 10.1.20.123/24 scope global eth0"))   # wrong VLAN
    assert not p.judge(_res(0, ""))
    wlan = build_probe(ProbeSpec(probe="lease", iface="wlan0"), CTX, 0)
    assert wlan.command[-1] == "wlan0"


def test_ipp_probe():
    p = build_probe(ProbeSpec(probe="ipp"), CTX, 0)
    assert p.command[:len(FAST_DNS)] == FAST_DNS and p.command[len(FAST_DNS):-1] == ("sh", "-c")
    script = p.command[-1]
    assert "getent ahostsv4 printer.pod1.tai.lan" in script and "ipptool" in script
    assert "get-printer-attributes.test" in script
    assert p.judge(_res(0, "Get printer attributes using get-printer-attributes   [PASS]"))
    assert not p.judge(_res(1, "Get printer attributes using get-printer-attributes   [FAIL]"))
    assert not p.judge(_res(0, ""))


def test_smb_probes():
    ls = build_probe(ProbeSpec(probe="smb-list"), CTX, 0)
    assert ls.command == (*FAST_DNS, "smbclient", "//srv.pod1.tai.lan/commun", "-U", "tai%tai-1",
                          "-t", "5", "-c", "ls")
    listing = "  .    D    0  Mon Jan  1 10:00:00 2024\n  LISEZMOI.txt   N  42\n"
    assert ls.judge(_res(0, listing))
    assert not ls.judge(_res(0, "tree connect failed: NT_STATUS_ACCESS_DENIED"))
    assert not ls.judge(_res(0, listing, "NT_STATUS_ACCESS_DENIED opening remote file"))
    assert not ls.judge(_res(1, "", "do_connect: Connection to srv failed (Error NT_STATUS_CONNECTION_REFUSED)"))
    put = build_probe(ProbeSpec(probe="smb-write"), CTX, 1)
    assert put.command[:-1] == ls.command[:-1] and "put " in put.command[-1] and "rm " in put.command[-1]
    assert put.judge(_res(0, "putting file /etc/hostname as \\tai-test-ecriture.txt"))
    assert not put.judge(_res(0, "NT_STATUS_ACCESS_DENIED opening remote file \\tai-test-ecriture.txt"))


def _ping_out(received: int, rtt: str | None = "0.045/0.062/0.089/0.012") -> str:
    loss = round(100 * (20 - received) / 20)
    text = (f"PING 10.1.10.1 (10.1.10.1) 56(84) bytes of data.\n\n--- 10.1.10.1 ping statistics ---\n"
            f"20 packets transmitted, {received} received, {loss}% packet loss, time 2950ms\n")
    return text + (f"rtt min/avg/max/mdev = {rtt} ms\n" if rtt else "")


def test_ping_probe():
    p = build_probe(ProbeSpec(probe="ping", target="{gateway}", max_rtt_ms=100, max_loss_pct=5), CTX, 0)
    assert p.command[-1] == "10.1.10.1"
    # bounded: ping's deadline is whole seconds, so timeout(1) interrupts it (it then prints its statistics)
    assert p.command[:4] == ("timeout", "-s", "INT", "0.5") and p.command[4] == "ping" and "-c" in p.command
    assert p.judge(_res(0, _ping_out(20)))
    assert not p.judge(_res(1, _ping_out(14)))                   # 30 % loss
    assert not p.judge(_res(0, _ping_out(20, "100.1/250.3/400.2/80.0")))   # slow
    assert not p.judge(_res(1, _ping_out(0, None)))              # 100 % loss, no rtt line
    assert not p.judge(_res(2, "", "ping: gw: Name or service not known"))
    # ping exits 1 on any loss with -c/-w: a tolerated loss still passes.
    lossy_ok = build_probe(ProbeSpec(probe="ping", target="{gateway}", max_rtt_ms=200, max_loss_pct=20), CTX, 0)
    assert lossy_ok.judge(_res(1, _ping_out(18)))
    assert not lossy_ok.judge(_res(1, _ping_out(14)))


def test_probes_wait_the_backends_silence_window():
    """Each network probe gives up after the window the backend gives (VMs: longer)."""
    specs = {"resolve": ProbeSpec(probe="resolve", name="intranet.{domain}"),
             "fetch": ProbeSpec(probe="fetch", url="{intranet_url}", contains="x"),
             "ping": ProbeSpec(probe="ping", target="{gateway}", max_rtt_ms=100, max_loss_pct=5),
             "unique": ProbeSpec(probe="unique-address", url="{intranet_url}", contains="x")}
    for silence in (0.5, 1.5):
        cmds = {k: " ".join(build_probe(v, CTX, 0, silence).command) for k, v in specs.items()}
        assert cmds["resolve"].startswith(f"timeout {silence:g} ")
        assert f"--connect-timeout {silence:g} " in cmds["fetch"]
        assert cmds["ping"].startswith(f"timeout -s INT {silence:g} ping ") and f"-W {silence:g} " in cmds["ping"]
        assert f"check eth0 {silence:g} &&" in cmds["unique"] and f"--connect-timeout {silence:g} " in cmds["unique"]
    assert build_probe(specs["fetch"], CTX, 0).command == build_probe(specs["fetch"], CTX, 0, 0.5).command


def test_clock_probe():
    p = build_probe(ProbeSpec(probe="clock", max_skew_s=300), CTX, 0)
    assert p.command == ("date", "+%Y-%m-%d %H:%M:%S") and p.node == "pc1"
    paris = datetime.now(ZoneInfo("Europe/Paris"))
    fmt = "%Y-%m-%d %H:%M:%S"
    assert p.judge(_res(0, paris.strftime(fmt) + "\n"))
    assert p.judge(_res(0, (paris - timedelta(seconds=60)).strftime(fmt)))
    assert not p.judge(_res(0, (paris + timedelta(hours=3)).strftime(fmt)))
    assert not p.judge(_res(0, (paris - timedelta(hours=3)).strftime(fmt)))
    # The wrong-timezone variant: the machine shows UTC, 1 or 2 hours behind Paris.
    assert not p.judge(_res(0, datetime.now(UTC).strftime(fmt)))
    assert not p.judge(_res(0, "jeu. 01 janv. 2024"))
    assert not p.judge(_res(1, paris.strftime(fmt)))


def test_build_probe_reports_a_missing_context_key():
    with pytest.raises(KeyError):
        build_probe(ProbeSpec(probe="resolve", name="{nope}"), CTX, 0)


# ---------------------------------------------------------------------------------------------
# 6. Engine bookkeeping: the journal folded into active interventions
# ---------------------------------------------------------------------------------------------

def _event(state: LabState, step: str, pod: int, iid: str, variant: str = "v", **ctx) -> None:
    state.journal.event("intervention", step=step, pod=pod, id=iid, variant=variant,
                        ctx={"target_node": "srv", **ctx})


def test_active_folds_the_journal(home):
    state = LabState("lab1")
    eng = Engine(JournalContext(state))
    assert eng.active() == []
    state.journal.event("phase", pod=1, phase="jury")               # other events are ignored
    _event(state, "begin", 1, "dns-failure", "service-stopped")
    _event(state, "applied", 1, "dns-failure", "service-stopped")
    _event(state, "begin", 1, "dhcp-failure", "scope-exhausted")    # interrupted: no "applied"
    _event(state, "begin", 2, "dns-failure", "record-deleted")
    _event(state, "applied", 2, "dns-failure", "record-deleted")
    _event(state, "begin", 1, "slowness", "lan-link-degraded")
    _event(state, "applied", 1, "slowness", "lan-link-degraded")
    _event(state, "restored", 1, "slowness", "lan-link-degraded")
    _event(state, "begin", 2, "intranet-down", "page-missing")
    _event(state, "rolled-back", 2, "intranet-down", "page-missing")
    _event(state, "applied", 2, "printer-offline", "port-down")     # "applied" without "begin": ignored

    pod1 = {a.id: a for a in eng.active(1)}
    assert set(pod1) == {"dns-failure", "dhcp-failure"}
    assert pod1["dns-failure"].step == "applied" and pod1["dns-failure"].variant == "service-stopped"
    assert pod1["dhcp-failure"].step == "begin"                     # still active: restore must undo it
    assert pod1["dns-failure"].ctx == {"target_node": "srv"}
    assert pod1["dns-failure"].as_dict()["target"] == "srv"
    pod2 = {a.id: a for a in eng.active(2)}
    assert set(pod2) == {"dns-failure"} and pod2["dns-failure"].variant == "record-deleted"
    assert len(eng.active()) == 3 and eng.active(3) == []

    eng.clear(1)
    assert eng.active(1) == []
    assert [a.id for a in eng.active(2)] == ["dns-failure"]          # pods are independent
    cleared = [r["data"] for r in state.journal.records()
               if r.get("kind") == "intervention" and r["data"]["step"] == "cleared"]
    assert {(d["pod"], d["id"]) for d in cleared} == {(1, "dns-failure"), (1, "dhcp-failure")}
    # A new inject after a clear is active again, with its own variant.
    _event(state, "begin", 1, "dns-failure", "forwarder-wrong")
    assert [(a.id, a.variant, a.step) for a in eng.active(1)] == [("dns-failure", "forwarder-wrong", "begin")]
    # The journal survives a new LabState (another process): same answer.
    assert [a.id for a in Engine(JournalContext(LabState("lab1"))).active(1)] == ["dns-failure"]


def test_active_and_clear_work_with_a_broken_catalogue(home, monkeypatch):
    def broken(*_a, **_k):
        raise AssertionError("the catalogue must not be loaded to read the journal")

    monkeypatch.setattr(engine_mod, "catalogue_of", broken)
    state = LabState("lab1")
    _event(state, "begin", 1, "dns-failure")
    eng = Engine(JournalContext(state))
    assert [a.id for a in eng.active(1)] == ["dns-failure"]
    eng.clear(1)
    assert eng.active(1) == []


# ---------------------------------------------------------------------------------------------
# 7. Input errors of inject, raised before anything changes
# ---------------------------------------------------------------------------------------------

class _UntouchableBackend:
    def __getattr__(self, name):
        raise AssertionError(f"the backend was touched ({name}) before the input was checked")


class _Stop(Exception):
    """Raised by the fake discovery once it has seen the chosen variant."""


@pytest.fixture
def input_lab(home):
    state = LabState("lab1")
    return JournalContext(state, backend=_UntouchableBackend(), plan=None)


def _journal_steps(state: LabState) -> list[str]:
    return [r["data"]["step"] for r in state.journal.records() if r.get("kind") == "intervention"]


def test_inject_unknown_id_lists_the_ids(input_lab):
    with pytest.raises(NotFoundError) as info:
        Engine(input_lab).inject("dns-failur", 1)
    assert "dns-failure" in info.value.hint and "slowness" in info.value.hint
    assert _journal_steps(input_lab.state) == [] and input_lab.checked_up == []


def test_inject_unknown_variant_lists_the_variants(input_lab):
    with pytest.raises(NotFoundError) as info:
        Engine(input_lab).inject("dns-failure", 1, variant="nope")
    assert "'nope'" in info.value.message
    for vid in ("service-stopped", "record-deleted", "forwarder-wrong", "client-resolver"):
        assert vid in info.value.hint
    assert _journal_steps(input_lab.state) == []


def test_inject_variant_and_random_conflict(input_lab):
    with pytest.raises(TaiLabError, match="--variant ou --random"):
        Engine(input_lab).inject("dns-failure", 1, variant="service-stopped", randomise=True)
    assert _journal_steps(input_lab.state) == []


def test_inject_refuses_an_intervention_already_active(input_lab, monkeypatch):
    def no_discovery(*_a, **_k):
        raise AssertionError("discovery ran although the intervention is already active")

    monkeypatch.setattr(engine_mod, "Discovery", no_discovery)
    _event(input_lab.state, "begin", 1, "dns-failure", "record-deleted")   # interrupted inject
    before = input_lab.state.journal.path.read_text()
    with pytest.raises(LabStateError) as info:
        Engine(input_lab).inject("dns-failure", 1)
    assert "déjà active" in info.value.message and "record-deleted" in info.value.message
    assert "already active" in info.value.message.en
    assert "restore" in str(info.value) and "tai-lab restore dns-failure --pod 1" in info.value.hint
    assert input_lab.state.journal.path.read_text() == before


def test_inject_same_seed_picks_the_same_variant(input_lab, monkeypatch):
    seen: list[str] = []

    class RecordingDiscovery:
        def __init__(self, lab, pod):
            assert pod == 1

        def context(self, item, var):
            seen.append(var.id)
            raise _Stop

    monkeypatch.setattr(engine_mod, "Discovery", RecordingDiscovery)
    eng = Engine(input_lab)
    for _ in range(2):
        with pytest.raises(_Stop):
            eng.inject("dns-failure", 1, seed=7, randomise=True)
    item = eng.catalogue.get("dns-failure")
    assert seen[0] == seen[1] == random.Random(7).choice(item.variants).id
    # The seed matters: other seeds reach other variants.
    for s in range(30):
        with pytest.raises(_Stop):
            eng.inject("dns-failure", 1, seed=s, randomise=True)
    assert len(set(seen)) > 1
    # Without a choice, the first variant.
    with pytest.raises(_Stop):
        eng.inject("dns-failure", 1)
    assert seen[-1] == item.variants[0].id
    assert _journal_steps(input_lab.state) == []          # nothing journaled: nothing changed


# ---------------------------------------------------------------------------------------------
# Inject → restore with a fake node and a fake Ansible: what is saved and put back
# ---------------------------------------------------------------------------------------------

class _RecordingNode:
    """A node whose files all read 'original' and whose services are all active and enabled."""

    def __init__(self, log: list) -> None:
        self.log = log

    def run(self, argv, *, timeout=30.0, input=None):
        argv = list(argv)
        self.log.append((argv, input))
        out = ""
        if argv[:2] == ["sh", "-c"] and "base64 -w0" in argv[2]:
            out = "644 0 0\n" + base64.b64encode(b"original\n").decode()
        elif argv[:2] == ["systemctl", "is-active"]:
            out = "active\n"
        elif argv[:2] == ["systemctl", "is-enabled"]:
            out = "enabled\n"
        return CommandResult(tuple(argv), 0, out, "")


@pytest.fixture
def live_lab(home, monkeypatch):
    log: list = []
    playbooks: list[tuple[str, str, str]] = []
    backend = SimpleNamespace(transport=lambda pod, node: _RecordingNode(log),
                              ansible_host_vars=lambda pod, node: {"ansible_host": node})

    def fake_context(self, item, var):
        return {"pod": self.pod, "domain": "pod1.tai.lan", "user_node": "pc1", "user_iface": "eth0",
                "target_node": "srv", "target_is_port": False, "share_path": "/srv/commun",
                "dns_service": "named", "smb_service": "smbd",
                "dns_zone_file": "/etc/bind/db.pod1.tai.lan", "dns_options_file": "/etc/bind/named.conf.options"}

    def fake_run_playbook(workdir, playbook, inv, *, progress, limit=None, extravars=None):
        playbooks.append((playbook, extravars["step"], extravars["variant"]))

    monkeypatch.setattr(engine_mod.Discovery, "__init__", lambda self, lab, pod: setattr(self, "pod", pod))
    monkeypatch.setattr(engine_mod.Discovery, "context", fake_context)
    monkeypatch.setattr(engine_mod.provision, "run_playbook", fake_run_playbook)
    monkeypatch.setattr(Engine, "_wait_broken", lambda self, item, var, ctx: [])   # "it took"
    lab = JournalContext(LabState("lab1"), backend=backend)
    return SimpleNamespace(lab=lab, log=log, playbooks=playbooks)


def _writes(log: list) -> dict[str, str]:
    """Files put back: path → content written through stdin."""
    out = {}
    for argv, data in log:
        if argv[:2] == ["sh", "-c"] and argv[2].startswith("mkdir -p"):
            out[argv[2].split("cat > ")[1].split(" ")[0]] = data
    return out


def test_inject_then_restore_journals_and_puts_back(live_lab):
    eng = Engine(live_lab.lab)
    res = eng.inject("dns-failure", 1, variant="record-deleted")
    assert res.variant.id == "record-deleted" and live_lab.lab.checked_up == [1]
    assert _journal_steps(live_lab.lab.state) == ["begin", "applied", "proven"]
    assert live_lab.playbooks == [(str(PLAYBOOKS / "interventions/dns-failure.yml"), "inject", "record-deleted")]
    saved = live_lab.lab.state.dir / "interventions" / "p1-dns-failure" / "saved.json"
    assert saved.is_file()

    live_lab.log.clear()
    assert eng.restore(1) == ["dns-failure"]
    assert _journal_steps(live_lab.lab.state) == ["begin", "applied", "proven", "restored"]
    assert live_lab.playbooks[-1] == (str(PLAYBOOKS / "interventions/dns-failure.yml"), "restore", "record-deleted")
    assert _writes(live_lab.log) == {"/etc/bind/db.pod1.tai.lan": "original\n"}
    assert (["systemctl", "restart", "named"], None) in live_lab.log
    assert eng.active(1) == []


def test_a_failed_playbook_rolls_back(live_lab, monkeypatch):
    def failing(workdir, playbook, inv, *, progress, limit=None, extravars=None):
        live_lab.playbooks.append((playbook, extravars["step"], extravars["variant"]))
        if extravars["step"] == "inject":
            raise RuntimeError("task failed")

    monkeypatch.setattr(engine_mod.provision, "run_playbook", failing)
    eng = Engine(live_lab.lab)
    with pytest.raises(RuntimeError, match="task failed"):
        eng.inject("dns-failure", 1, variant="service-stopped")
    assert _journal_steps(live_lab.lab.state) == ["begin", "rolled-back"]
    assert [p[1] for p in live_lab.playbooks] == ["inject", "restore"]
    assert eng.active(1) == []


def test_restore_does_not_put_back_files_saved_by_an_earlier_variant(live_lab):
    eng = Engine(live_lab.lab)
    eng.inject("fileshare-permissions", 1, variant="share-read-only")     # saves smb.conf, smbd
    eng.restore(1)
    # Later (another candidate, after a reset): a variant that saves nothing.
    eng.inject("fileshare-permissions", 1, variant="directory-read-only")
    live_lab.log.clear()
    eng.restore(1)
    assert _writes(live_lab.log) == {}, "restore rewrote files this variant never saved"


def test_every_criterion_has_its_french_text_for_the_jury():
    ref = referentiel.load()
    for c in ref.competencies:
        assert len(c.criteria_fr) == len(c.criteria) > 0, c.id
        assert c.criteria_in("fr") == c.criteria_fr and c.criteria_in("en") == c.criteria


def test_check_calls_an_unfinished_inject_interrupted_never_fixed(home, monkeypatch):
    """kill -9 of `tai-lab inject`: only "begin" (or "applied" without the proof) in the
    journal. The fault may never have taken, so the checks would pass: that is no repair."""
    state = LabState("lab1")
    eng = Engine(JournalContext(state))
    probed: list[str] = []
    monkeypatch.setattr(Engine, "_probe", lambda self, item, var, ctx, **kw: probed.append(ctx) or [])
    monkeypatch.setattr(Engine, "_leftovers", lambda self, pod, item, bypasses, ctx: [])
    _event(state, "begin", 1, "dns-failure", "service-stopped")
    _event(state, "begin", 1, "intranet-down", "service-stopped")
    _event(state, "applied", 1, "intranet-down", "service-stopped")       # killed during the proof
    results = {c.id: c for c in eng.check(1)}
    assert {i: (c.state, c.fixed, c.interrupted) for i, c in results.items()} == {
        "dns-failure": ("interrupted", False, True), "intranet-down": ("interrupted", False, True)}
    assert probed == [] and results["dns-failure"].as_dict()["state"] == "interrupted"
    assert all(a.as_dict()["interrupted"] for a in eng.active(1))
    _event(state, "proven", 1, "intranet-down", "service-stopped")
    (c,) = [c for c in eng.check(1) if c.id == "intranet-down"]
    assert c.state == "fixed" and not c.interrupted and len(probed) == 1    # all checks passed ([])
