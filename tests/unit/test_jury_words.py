"""What a jury member reads: every check in words (French and English, no command line), the
session's clock, the states of an intervention, the reset's question, the report's summary and
the login that survives a restart of the console."""
from __future__ import annotations

import json
import re
import stat
import typing

import pytest

from tai_lab.evidence import EvidenceLog, Session, evidence_dicts
from tai_lab.interventions.engine import build_probe
from tai_lab.interventions.model import ProbeKind, ProbeSpec
from tai_lab.jury import access, sentences
from tai_lab.probes import ProbeResult

from .test_console import FakeLab, post, signed_in, wait_job
from .test_interventions import AD_KEYS, CTX

KINDS = typing.get_args(ProbeKind)
SPECS = {"resolve": {"name": "intranet.{domain}"}, "fetch": {"url": "{intranet_url}"}, "lease": {},
         "ipp": {}, "smb-list": {}, "smb-write": {}, "ping": {"target": "{gateway}"}, "clock": {},
         "unique-address": {}, "dns": {"name": "intranet.{domain}"}, "dhcp-offer": {},
         "state": {"run": "! grep -q intranet /etc/hosts", "title": "le nom n'est pas dans /etc/hosts"},
         "desk-asset": {"name": "{user_node}"}, "desk-ticket": {"owner": True},
         "domain-login": {}, "kinit": {}, "smb-ticket": {}}
# A pod with a domain: the directory checks' values.
CTX = {**CTX, **{k: k.removeprefix("ad_") for k in AD_KEYS}}


def test_every_kind_of_intervention_check_has_its_sentences():
    missing = [k for k in KINDS if k not in sentences.SENTENCES]
    assert not missing, f"add the sentences of these checks to tai_lab/jury/sentences.py: {missing}"
    for kind, langs in sentences.SENTENCES.items():
        assert set(langs) == {"fr", "en"}, kind
        for ok, bad in langs.values():
            assert ok != bad and "{node}" in ok + bad or kind in ("clock", "unique-address"), kind


@pytest.mark.parametrize("kind", KINDS)
def test_a_check_reads_as_a_sentence_without_its_command(kind):
    probe = build_probe(ProbeSpec(probe=kind, **SPECS.get(kind, {})), CTX, 0)
    for passed in (True, False):
        (ev,) = evidence_dicts([ProbeResult(1, probe, passed, "$ getent ahostsv4 x → 2: ")])
        assert ev["about"]["kind"] == kind and ev["about"]["node"] == probe.node
        ev = json.loads(json.dumps(ev))                       # as read back from the log
        fr, en = sentences.sentence(ev, "fr"), sentences.sentence(ev, "en")
        for text in (fr, en):
            assert "$" not in text and "→" not in text and "{" not in text and "?" not in text, text
            assert probe.node in text, text
        assert fr != en
        (shown,) = sentences.render([ev], "fr")
        assert shown["raw"].startswith("$ ") and shown["sentence"] == fr and shown["passed"] is passed


def test_the_resolve_sentence_names_the_name_and_the_machine():
    probe = build_probe(ProbeSpec(probe="resolve", name="intranet.{domain}"), CTX, 0)
    (ev,) = evidence_dicts([ProbeResult(1, probe, False, "$ …")])
    assert sentences.sentence(ev) == "Le nom intranet.pod1.tai.lan ne se résout pas depuis pc1"
    assert sentences.sentence(ev, "en") == "The name intranet.pod1.tai.lan does not resolve from pc1"


def test_a_record_written_before_checks_had_a_kind_still_reads():
    old = {"title": "http://intranet s'affiche", "passed": False, "evidence": "$ curl … → 7:"}
    assert sentences.sentence(old) == "http://intranet s'affiche : non"
    assert sentences.sentence({**old, "passed": True}, "en") == "http://intranet s'affiche"


def test_the_timer_starts_at_the_first_inject_unless_started_or_paused(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="A")
    assert not log.current().timer_running
    log.record("inject-begin", id="dns-failure", variant=None, random=False, seed=None)
    s = log.current()
    assert s.timer_running and s.elapsed() >= 0
    log.record("timer", action="pause")
    log.record("inject-begin", id="intranet-down", variant=None, random=False, seed=None)
    assert not log.current().timer_running                # the jury's pause holds
    recs = [{"t": 100.0, "at": "x", "kind": "timer", "action": "start"},
            {"t": 160.0, "at": "x", "kind": "inject-begin", "id": "a"},
            {"t": 170.0, "at": "x", "kind": "timer", "action": "pause"}]
    assert Session(1, recs).elapsed() == 70.0              # an explicit start counts from itself


# ------------------------------------------------------------------ the web console
@pytest.fixture
def client(tmp_path):
    yield from signed_in(FakeLab(tmp_path))


def _wait_status(client, status, timeout=10):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
        if a["status"] == status:
            return a
        time.sleep(0.05)
    raise AssertionError(f"never {status}: {a}")


def test_states_in_words_and_the_clock_stops_at_the_repair(client):
    post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"})
    job = post(client, "/api/pod/1/inject", {"id": "intranet-down", "variant": "page-missing"}).get_json()
    assert job["what"] == "Injection : Site intranet inaccessible"
    wait_job(client, job)
    a = _wait_status(client, "broken")
    assert a["status_label"] == "EN PANNE" and a["title"] == "Site intranet inaccessible"
    assert a["variant_title"] != "page-missing" and a["seconds_since_inject"] is not None
    assert client.get("/api/pod/1/state").get_json()["session"]["timer"]["running"]   # started by the inject
    over = client.get("/api/overview").get_json()["pods"][0]
    assert over["fault"] and over["active"][0]["title"] == "Site intranet inaccessible"
    (client.lab.dir / "fixed-intranet-down").touch()
    a = _wait_status(client, "fixed")
    assert re.fullmatch(r"RÉPARÉE en \d\d:\d\d", a["status_label"]), a["status_label"]
    assert a["sentences"] and all(s["passed"] for s in a["sentences"])
    since = a["seconds_since_inject"]
    import time
    time.sleep(1.2)
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["seconds_since_inject"] == since            # stopped at the repair
    assert not client.get("/api/overview").get_json()["pods"][0]["fault"]
    wait_job(client, post(client, "/api/pod/1/restore", {"id": "intranet-down"}).get_json())
    a = _wait_status(client, "restored")
    assert a["status_label"].startswith("restaurée — avait été réparée en ")   # the repair stays visible
    client.get("/lang/en")
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["title"] == "Intranet web site down"
    assert a["status_label"].startswith("restored — had been fixed in ")


def test_no_internal_identifier_on_the_pages(client):
    post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"})
    wait_job(client, post(client, "/api/pod/1/inject", {"id": "dns-failure", "variant": "record-deleted"}).get_json())
    post(client, "/api/pod/1/timer", {"action": "pause"})
    for url in ("/", "/pod/1", "/pod/1/history"):
        html = client.get(url).text
        text = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
        for ident in ("dns-failure", "record-deleted", "intranet-down", "service-stopped", "web:jury"):
            assert ident not in text, (url, ident)
        assert not re.search(r"\b(start|inject|restore|timer|verify|reset)\b", text), url
    assert "Enregistrement intranet supprimé de la zone" in client.get("/pod/1/history").text


def test_the_reset_button_asks_and_says_what_will_be_recorded(client):
    client.lab.reset_calls = []

    def reset(pod=None, to="baseline", *, actor=None, confirm_open_session=False):
        client.lab.reset_calls.append(confirm_open_session)
        return []
    client.lab.reset = reset
    client.lab.open_sessions = lambda pod=None: {1: client.lab.evidence(1).current()} \
        if client.lab.evidence(1).current().is_open else {}
    assert client.get("/api/pod/1/reset").get_json()["question"] is None
    post(client, "/api/pod/1/candidate", {"name": "Léa Martin"})
    wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    q = client.get("/api/pod/1/reset").get_json()["question"]
    assert "Léa Martin" in q and "Site intranet inaccessible" in q and "effacée par remise à zéro — non réparée" in q
    r = post(client, "/api/pod/1/reset", {})
    assert r.status_code == 409 and client.lab.reset_calls == []        # not without the answer
    assert post(client, "/api/pod/1/reset", {"confirm": True}, origin="http://evil.example").status_code == 403
    assert client.lab.reset_calls == []
    job = post(client, "/api/pod/1/reset", {"confirm": True})
    assert job.status_code == 202 and job.get_json()["what"] == "Remise à zéro du pod"
    assert wait_job(client, job.get_json())["state"] == "done" and client.lab.reset_calls == [True]


def test_a_check_refused_during_a_change_is_shown_in_french(client):
    from tai_lab.errors import LockBusyError
    svc = client.application.extensions["tai_service"]

    def busy(*a, **kw):
        raise LockBusyError("no verdict for pod 1: the lab is being changed — tai-lab reset", "wait")
    client.lab.check = busy
    svc.check_now(1, wait=0)
    st = client.get("/api/pod/1/state").get_json()
    assert st["busy"].startswith("Vérification suspendue") and "tai-lab" not in st["busy"]


def test_the_report_has_a_summary_and_only_ticked_criteria(client):
    post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"})
    wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    (client.lab.dir / "fixed-intranet-down").touch()
    _wait_status(client, "fixed")
    post(client, "/api/pod/1/criterion", {"id": "intranet-down", "competency": "c10", "index": 0, "checked": True})
    html = client.get("/pod/1/report").text
    assert "Synthèse par compétence" in html and "observé" in html and "non évalué" in html
    assert "☐" not in html and html.count("☑") == 1
    full = client.get("/pod/1/report?full=1").text
    assert "Annexe" in full and "☐" in full
    assert "$ " not in html.split("Détails techniques")[0]       # commands only under the details
    assert "web:" not in html and "par jury" in html
    # one rounding: the time to fix in the report is the console's
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    shown = re.search(r"RÉPARÉE en (\d\d:\d\d)", a["status_label"]).group(1)
    assert shown in html


def test_the_login_link_survives_a_restart(tmp_path):
    from tai_lab.jury.service import JuryService
    from tai_lab.jury.web import create_app
    a1 = access.load(tmp_path)
    assert stat.S_IMODE((tmp_path / access.FILE).stat().st_mode) == 0o600
    a2 = access.load(tmp_path)
    assert (a1.key, a1.cookie_secret) == (a2.key, a2.cookie_secret)
    access.remember_address(tmp_path, "http://127.0.0.1:8765")
    assert access.load(tmp_path).link() == f"http://127.0.0.1:8765/login?key={a1.key}"
    lab = FakeLab(tmp_path)
    apps = []
    for _ in range(2):                     # the same browser, before and after a restart
        svc = JuryService(lambda: lab)
        apps.append((create_app(svc, a1.key, a1.cookie_secret), svc))
    c = apps[0][0].test_client()
    assert c.get(f"/login?key={a1.key}").status_code == 302
    cookie = c.get_cookie("tai_jury")
    c2 = apps[1][0].test_client()
    c2.set_cookie("tai_jury", cookie.value)
    assert c2.get("/api/overview").status_code == 200
    assert apps[1][0].test_client().get("/api/overview").status_code == 401    # still refused without it
    renewed = access.load(tmp_path, renew=True)
    assert renewed.key != a1.key and renewed.cookie_secret != a1.cookie_secret
    svc = JuryService(lambda: lab)
    c3 = create_app(svc, renewed.key, renewed.cookie_secret).test_client()
    c3.set_cookie("tai_jury", cookie.value)
    assert c3.get("/api/overview").status_code == 401                          # a new key signs everyone out
    for _, s in apps:
        s.close()
    svc.close()
