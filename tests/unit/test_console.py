"""The jury's web console through Flask's test client, over a fake lab (real evidence log).

The real lab is exercised by tests/integration/test_console.py; here every action of the
API, the access secret and the cross-site protection are checked fast and without root.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from tai_lab.errors import LabStateError, TaiLabError
from tai_lab.evidence import EvidenceLog, LabHook
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.jury.service import JuryService
from tai_lab.jury.web import bind_check, create_app, serve
from tai_lab.listen import is_loopback

KEY = "s3cret-key-for-tests"
ORIGIN = "http://localhost"


@dataclass
class FakeActive:
    pod: int
    id: str
    variant: str
    step: str = "applied"

    def as_dict(self):
        return {"pod": self.pod, "id": self.id, "variant": self.variant, "step": self.step, "since": "",
                "target": "srv"}


class FakeResult:
    def __init__(self, passed: bool):
        self.probe = SimpleNamespace(title="http://intranet s'affiche")
        self.passed, self.evidence = passed, "HTTP 200" if passed else "Connection refused"


@dataclass
class FakeCheck:
    pod: int
    id: str
    variant: str
    fixed: bool
    results: tuple = field(default_factory=tuple)
    interrupted: bool = False
    bypassed: bool = False
    reason: dict | None = None
    reboot: tuple | None = None
    ticket: dict | None = None

    @property
    def state(self) -> str:
        return "interrupted" if self.interrupted else "bypassed" if self.bypassed else \
            "fixed" if self.fixed else "broken"


class FakeLab:
    """The public surface of Lab the consoles use; inject takes a while, like the real one."""

    def __init__(self, state_dir, inject_seconds: float = 0.0):
        self.name = "fake"
        self.dir = Path(state_dir)
        self.plan = SimpleNamespace(title="Plateau de test", pods=[SimpleNamespace(number=1, nodes=[])],
                                    interventions=None)
        self.actives: dict[str, FakeActive] = {}
        self.broken: set[str] = set()
        self.inject_seconds = inject_seconds
        self.gate = threading.Event()
        self.gate.set()
        self.ticket: dict | None = None          # the service desk's ticket the checks read, if any

    def default_pod(self, pod):
        if pod not in (None, 1):
            raise TaiLabError(f"no pod {pod}")
        return 1

    def evidence(self, pod=None):
        return EvidenceLog(self.dir, self.default_pod(pod))

    def allowed_interventions(self):
        return ["intranet-down", "dns-failure", "printer-offline"]

    def status(self):
        return [SimpleNamespace(number=1, phase="jury", nodes={"srv": True, "pc1": True}, internet=True)]

    def active_interventions(self, pod=None):
        return list(self.actives.values())

    def inject(self, iid, pod=None, *, variant=None, seed=None, randomise=False, actor=None):
        hook = LabHook(self.evidence(pod))
        hook.before_inject(iid, variant, randomise, seed, actor)
        item = load_catalogue().get(iid)
        var = item.variants[0] if not variant else item.variant(variant)
        if iid in self.actives:
            exc = LabStateError(f"{iid} is already active on pod 1")
            hook.inject_failed(iid, variant, exc, actor)
            raise exc
        self.gate.wait(10)
        time.sleep(self.inject_seconds)
        self.actives[iid] = FakeActive(1, iid, var.id)
        self.broken.add(iid)
        res = SimpleNamespace(intervention=item, variant=var, seconds=self.inject_seconds,
                              evidence=(FakeResult(False),), pod=1)
        hook.after_inject(res, actor)
        return res

    def fixed(self, iid):
        # a marker file stands for the candidate's fix when the lab lives in another process
        return iid not in self.broken or (self.dir / f"fixed-{iid}").exists()

    def check(self, pod=None, iid=None, *, actor=None, record="all", wait=None):
        out = [FakeCheck(1, a.id, a.variant, self.fixed(a.id), (FakeResult(self.fixed(a.id)),), ticket=self.ticket)
               for a in self.actives.values() if iid in (None, a.id)]
        LabHook(self.evidence(pod)).after_check(out, actor, record)
        return out

    def restore(self, pod=None, iid=None, *, actor=None):
        done = [i for i in list(self.actives) if iid in (None, i)]
        for i in done:
            del self.actives[i]
            self.broken.discard(i)
        LabHook(self.evidence(pod)).after_restore(iid, done, actor)
        return done

    def verify(self, pod=None):
        return [SimpleNamespace(probe=SimpleNamespace(title="dns"), passed=True, evidence="ok")]


@pytest.fixture
def lab(tmp_path):
    return FakeLab(tmp_path)


@pytest.fixture
def service(lab):
    svc = JuryService(lambda: lab, check_interval=0.1)
    yield svc
    svc.close()


@pytest.fixture
def app(service):
    a = create_app(service, KEY)
    a.config["TESTING"] = True
    return a


@pytest.fixture
def client(app):
    c = app.test_client()
    r = c.get(f"/login?key={KEY}")
    assert r.status_code == 302
    with c.session_transaction() as s:
        c.csrf = s["csrf"]
    return c


def post(client, url, data=None, *, csrf=True, origin=ORIGIN):
    headers = {}
    if csrf:
        headers["X-CSRF-Token"] = client.csrf
    if origin:
        headers["Origin"] = origin
    return client.post(url, json=data or {}, headers=headers)


def wait_job(client, job, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = client.get(f"/api/jobs/{job['id']}").get_json()
        if j["state"] != "running":
            return j
        time.sleep(0.05)
    raise AssertionError("job still running")


# ------------------------------------------------------------------ access
@pytest.mark.parametrize("url", ["/", "/pod/1", "/pod/1/history", "/pod/1/report", "/api/pod/1/state",
                                 "/api/overview", "/api/jobs/1"])
def test_every_page_is_refused_without_the_secret(app, url):
    r = app.test_client().get(url)
    assert r.status_code == 401
    assert b"Dupont" not in r.data


@pytest.mark.parametrize("url", ["/api/pod/1/inject", "/api/pod/1/restore", "/api/pod/1/note", "/api/pod/1/timer",
                                 "/api/pod/1/candidate", "/api/pod/1/criterion", "/api/pod/1/verify", "/api/actor"])
def test_every_action_is_refused_without_the_secret(app, lab, url):
    r = app.test_client().post(url, json={"id": "intranet-down", "name": "x", "action": "start", "text": "x"},
                               headers={"Origin": ORIGIN})
    assert r.status_code == 401
    assert lab.evidence(1).records() == []


def test_wrong_key_is_refused(app):
    c = app.test_client()
    assert c.get("/login?key=nope").status_code == 403
    assert c.get("/login").status_code == 403
    assert c.get("/").status_code == 401


def test_login_sets_a_strict_httponly_cookie(app):
    r = app.test_client().get(f"/login?key={KEY}")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_csrf_token_is_required(client, lab):
    r = post(client, "/api/pod/1/candidate", {"name": "Camille"}, csrf=False)
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    client.csrf = "forged"
    assert post(client, "/api/pod/1/candidate", {"name": "Camille"}).status_code == 403
    assert lab.evidence(1).records() == []


def test_cross_origin_is_refused_even_with_the_token(client, lab):
    for origin in ("http://evil.example", "null", "http://localhost:9999"):
        r = post(client, "/api/pod/1/inject", {"id": "intranet-down"}, origin=origin)
        assert r.status_code == 403, origin
    r = client.post("/api/pod/1/note", json={"id": "intranet-down", "text": "x"},
                    headers={"X-CSRF-Token": client.csrf, "Referer": "http://evil.example/page"})
    assert r.status_code == 403
    assert lab.evidence(1).records() == []


def test_security_headers(client):
    r = client.get("/")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_serve_refuses_a_remote_address_without_the_flag():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    with pytest.raises(TaiLabError, match="allow-remote"):
        serve("whatever", "0.0.0.0", 0)
    with pytest.raises(TaiLabError, match="allow-remote"):
        bind_check("192.168.1.10", False)
    assert bind_check("127.0.0.1", False) is None
    assert "ATTENTION" in bind_check("0.0.0.0", True).format(port=8765)


def test_a_killed_inject_shows_as_interrupted_or_aborted(client, lab):
    log = lab.evidence(1)
    log.record("inject-begin", id="dns-failure", variant=None)        # the console died here…
    log.record("inject-begin", id="intranet-down", variant=None)      # … and here, after the engine began
    lab.actives["intranet-down"] = FakeActive(1, "intranet-down", "service-stopped", step="begin")
    st = {a["id"]: a["status"] for a in client.get("/api/pod/1/state").get_json()["attempts"]}
    assert st == {"dns-failure": "aborted", "intranet-down": "interrupted"}
    job = wait_job(client, post(client, "/api/pod/1/restore", {"id": "intranet-down"}).get_json())
    assert job["state"] == "done"
    st = {a["id"]: a["status"] for a in client.get("/api/pod/1/state").get_json()["attempts"]}
    assert st["intranet-down"] == "restored"


# ------------------------------------------------------------------ pages
def test_overview_and_session_pages_in_french_and_english(client):
    r = client.get("/")
    assert r.status_code == 200 and "Vue d’ensemble" in r.text and "intranet" not in r.text
    r = client.get("/pod/1")
    assert "Injecter" in r.text and "Symptôme à lire" in r.text
    assert "intranet-down" in r.text and "printer-offline" in r.text
    assert "clock-skew" not in r.text                    # not in the plateau's list
    assert "★" in r.text                                  # difficulty
    client.get("/lang/en")
    assert "Inject" in client.get("/pod/1").text and "Overview" in client.get("/").text
    assert client.get("/pod/9").status_code == 404


# ------------------------------------------------------------------ actions
def test_candidate_timer_note_criterion(client, lab):
    assert post(client, "/api/pod/1/candidate", {"name": "  Camille   Dupont "}).status_code == 200
    assert post(client, "/api/actor", {"name": "Mme Martin"}).status_code == 200
    assert post(client, "/api/pod/1/timer", {"action": "start"}).status_code == 200
    assert post(client, "/api/pod/1/timer", {"action": "explode"}).status_code == 400
    assert post(client, "/api/pod/1/note", {"id": "intranet-down", "text": "vérifie nginx"}).status_code == 200
    assert post(client, "/api/pod/1/note", {"id": "intranet-down", "text": "  "}).status_code == 400
    assert post(client, "/api/pod/1/note", {"id": "no-such", "text": "x"}).status_code == 400
    item = load_catalogue().get("intranet-down")
    comp = item.competencies[0]
    assert post(client, "/api/pod/1/criterion", {"id": "intranet-down", "competency": comp, "index": 0,
                                                 "checked": True}).status_code == 200
    assert post(client, "/api/pod/1/criterion", {"id": "intranet-down", "competency": comp, "index": 99,
                                                 "checked": True}).status_code == 400
    assert post(client, "/api/pod/1/criterion", {"id": "intranet-down", "competency": "zz", "index": 0,
                                                 "checked": True}).status_code == 400
    st = client.get("/api/pod/1/state").get_json()["session"]
    assert st["candidate"] == "Camille Dupont"
    assert st["timer"]["running"] is True
    assert st["notes"]["intranet-down"][0]["text"] == "vérifie nginx"
    assert st["notes"]["intranet-down"][0]["actor"] == "web:Mme Martin"
    assert st["criteria"]["intranet-down"] == {comp: [0]}
    kinds = [r["kind"] for r in lab.evidence(1).records()]
    assert kinds == ["candidate", "timer", "note", "criterion"]     # refused ones left no trace


def test_inject_check_fix_restore_flow(client, lab, service):
    r = post(client, "/api/pod/1/inject", {"id": "intranet-down", "variant": "page-missing"})
    assert r.status_code == 202
    job = wait_job(client, r.get_json())
    assert job["state"] == "done" and job["result"]["variant"] == "page-missing"
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["status"] == "broken" and a["active"] and a["evidence"][0]["passed"] is False
    # the candidate fixes it; the watcher sees it without anyone asking
    lab.broken.discard("intranet-down")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
        if a["status"] == "fixed":
            break
        time.sleep(0.05)
    assert a["status"] == "fixed" and a["seconds_to_fix"] is not None
    checks = [r for r in lab.evidence(1).records() if r["kind"] == "check"]
    assert len(checks) == 1 and checks[0]["fixed"] is True and checks[0]["actor"] == "console"
    # a second inject of the same one is refused by the lab, shown as a failed job
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    assert job["state"] == "failed" and "already active" in job["error"]
    job = wait_job(client, post(client, "/api/pod/1/restore", {"id": "intranet-down"}).get_json())
    assert job["state"] == "done" and job["result"] == ["intranet-down"]
    a = client.get("/api/pod/1/state").get_json()["attempts"][0]
    assert a["status"] == "restored"
    assert "intranet-down" in client.get("/api/pod/1/state").get_json()["session"]["used"]


def test_random_variant_and_bad_inputs(client, lab):
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "dns-failure", "variant": "random"}).get_json())
    assert job["state"] == "done"
    assert job["result"]["variant"] in [v.id for v in load_catalogue().get("dns-failure").variants]
    assert post(client, "/api/pod/1/inject", {"id": "no-such"}).status_code == 400
    assert post(client, "/api/pod/1/inject", {"id": "dns-failure", "variant": "nope"}).status_code == 400
    assert post(client, "/api/pod/7/inject", {"id": "dns-failure"}).status_code == 404


def test_inject_does_not_block_other_requests(client, lab):
    lab.gate.clear()                                  # the inject waits until we let it go
    t0 = time.monotonic()
    r = post(client, "/api/pod/1/inject", {"id": "printer-offline"})
    assert r.status_code == 202 and time.monotonic() - t0 < 1
    deadline = time.monotonic() + 3
    while True:        # the job's thread writes "inject-begin" as soon as it has the lab
        st = client.get("/api/pod/1/state").get_json()
        if st["attempts"] or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert st["jobs"][0]["kind"] == "inject"
    assert st["attempts"][0]["status"] == "injecting"
    assert post(client, "/api/pod/1/note", {"id": "printer-offline", "text": "pendant"}).status_code == 200
    # a second long action on the same pod waits its turn (refused, said why)
    r = post(client, "/api/pod/1/restore", {"id": "printer-offline"})
    assert r.status_code == 400 and "occupé" in r.get_json()["error"]
    lab.gate.set()
    assert wait_job(client, st["jobs"][0])["state"] == "done"


def test_verify_job_and_overview(client, lab):
    post(client, "/api/pod/1/candidate", {"name": "Léa"})
    job = wait_job(client, post(client, "/api/pod/1/verify").get_json())
    assert job["result"]["ok"] is True
    ov = client.get("/api/overview").get_json()
    assert ov["pods"][0]["candidate"] == "Léa" and ov["pods"][0]["health"]["total"] == 1
    assert "Léa" in client.get("/").text


def test_history_and_report(client, lab):
    post(client, "/api/pod/1/candidate", {"name": "Ancien"})
    post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"})
    wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    post(client, "/api/pod/1/note", {"id": "intranet-down", "text": "a trouvé le service arrêté"})
    h = client.get("/pod/1/history").text
    assert "Camille Dupont" in h and "Ancien" in h and "a trouvé le service arrêté" in h
    assert "injectée (panne prouvée)" in h                  # kinds in French
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", h)
    html = client.get("/pod/1/report").text
    assert "Camille Dupont" in html and "a trouvé le service arrêté" in html and "non réparé" in html
    assert "Ancien" not in html                      # the report is the current candidate's
    old = client.get("/pod/1/report?session=1").text            # an earlier candidate's report
    assert "Ancien" in old and "Camille Dupont" not in old
    assert client.get("/pod/1/report?session=9").status_code == 404
    assert "/pod/1/report?session=2" in h
    pdf = client.get("/pod/1/report?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_a_reset_shows_cleared_not_repaired_in_both_consoles_and_the_history(client, lab, service):
    from rich.console import Console

    from tai_lab.jury.tui import JuryTUI
    assert post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"}).status_code == 200
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    assert job["state"] == "done"
    LabHook(lab.evidence(1)).before_reset("reset", "baseline", ["intranet-down"], "cli:root")
    lab.actives.clear()                                   # the reset undid it
    lab.dir.joinpath("fixed-intranet-down").touch()       # and the pod at its baseline "works"
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["status"] == "cleared" and a["outcome"] == "cleared" and not a["active"]
    assert a["status_label"] == "effacée par remise à zéro — non réparée"
    assert "effacée(s) par remise à zéro — non réparée(s)" in client.get("/pod/1/history").text
    client.get("/lang/en")
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["status_label"] == "cleared by reset — not repaired"
    client.get("/lang/fr")
    con = Console(record=True, width=200)
    con.print(JuryTUI(service, 1, "tui:test", con).table(service.state(1)))
    assert "effacée par remise à zéro — non réparée" in con.export_text()
    assert "réparé" not in client.get("/pod/1/report").text.split("Résultat")[1].split("</tr>")[0].replace(
        "non réparée", "")


# ------------------------------------------------------------------ terminal sessions: list and replay
def _terminal_sessions(lab):
    """Two terminals of the candidate (one ended, one live) and another pod's recording."""
    import json as _json

    from tai_lab.terminal_sessions import recordings_dir
    log = lab.evidence(1)
    log.record("candidate", name="Camille Dupont")
    d = recordings_dir(log)
    d.mkdir(parents=True)
    for name, node, events in (
            ("20261130-090000-pc1-aaaaaa.cast", "pc1",
             [[0.2, "o", "root@pc1:~# ip a\r\n"], [0.3, "i", "hunter2\r"], [0.4, "r", "100x30"],
              [1.5, "m", "fin : logout (compte : root)"]]),
            ("20261130-091000-srv-bbbbbb.cast", "srv", [[0.2, "o", "root@srv:~# "]])):
        lines = [_json.dumps({"version": 2, "width": 90, "height": 25, "timestamp": 1_764_493_200})]
        (d / name).write_text("\n".join(lines + [_json.dumps(e) for e in events]) + "\n")
        log.record("station", actor="portal", event="session-start", node=node, recording=name)
    log.record("station", actor="portal", event="session-end", node="pc1", account="root", seconds=1.5,
               reason="logout", recording="20261130-090000-pc1-aaaaaa.cast")
    other = d.parent / "pod-2"
    other.mkdir()
    (other / "theirs.cast").write_text('{"version": 2}\n[0.1, "o", "other pod"]\n')


@pytest.mark.parametrize("url", ["/pod/1/terminal/1", "/api/pod/1/terminal/1/cast", "/vendor/xterm.js"])
def test_terminal_replay_is_refused_without_the_secret(app, lab, url):
    _terminal_sessions(lab)
    r = app.test_client().get(url)
    assert r.status_code == 401
    assert b"root@pc1" not in r.data and b"Terminal" not in r.data


def test_the_pod_page_lists_the_candidates_terminal_sessions(client, lab):
    _terminal_sessions(lab)
    page = client.get("/pod/1").text
    section = page.split('id="terminals"')[1]
    assert "Sessions de travail du candidat" in section
    assert "pc1" in section and "srv" in section and "en cours" in section and "déconnexion" in section
    assert "/pod/1/terminal/1" in section and "/pod/1/terminal/2" in section
    assert ".cast" not in page and "ip a" not in page            # no file name, no command on this screen
    client.get("/lang/en")
    assert "The candidate&#39;s working sessions" in client.get("/pod/1").text


def test_a_recording_replays_with_its_output_only(client, lab):
    _terminal_sessions(lab)
    page = client.get("/pod/1/terminal/1")
    assert page.status_code == 200
    assert "/vendor/xterm.js" in page.text and "/static/replay.js" in page.text and "pc1" in page.text
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"]       # xterm.js's <style>
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    cast = client.get("/api/pod/1/terminal/1/cast").get_json()
    assert (cast["width"], cast["height"], cast["node"], cast["live"]) == (90, 25, "pc1", False)
    assert [e[1] for e in cast["events"]] == ["o", "r", "m"]                  # the input event dropped
    assert "hunter2" not in str(cast)
    live = client.get("/api/pod/1/terminal/2/cast").get_json()
    assert live["live"] is True and live["node"] == "srv"
    js = client.get("/vendor/xterm.js")
    assert js.status_code == 200 and b"Terminal" in js.data
    assert client.get("/vendor/xterm.css").status_code == 200
    for bad in ("addon-fit.js", "VERSIONS", "..%2Fterminal.js", "xterm.LICENSE"):
        assert client.get(f"/vendor/{bad}").status_code == 404


@pytest.mark.parametrize("number", [0, 3, 99])
def test_a_number_outside_the_candidates_recordings_is_refused(client, lab, number):
    _terminal_sessions(lab)
    assert client.get(f"/pod/1/terminal/{number}").status_code == 404
    assert client.get(f"/api/pod/1/terminal/{number}/cast").status_code == 404


def test_no_path_is_taken_from_the_request(client, lab):
    _terminal_sessions(lab)
    for url in ("/pod/1/terminal/..%2Fpod-2%2Ftheirs.cast", "/api/pod/1/terminal/theirs.cast/cast",
                "/api/pod/1/terminal/-1/cast", "/api/pod/2/terminal/1/cast", "/pod/2/terminal/1",
                "/api/pod/1/terminal/1/cast?session=9"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"other pod" not in r.data


def test_a_recording_named_outside_the_pods_directory_is_not_replayed(client, lab):
    _terminal_sessions(lab)
    lab.evidence(1).record("station", actor="portal", event="session-start", node="pc2",
                           recording="../pod-2/theirs.cast")
    page = client.get("/pod/1").text
    assert "/pod/1/terminal/3" not in page and "enregistrement introuvable" in page
    for url in ("/pod/1/terminal/3", "/api/pod/1/terminal/3/cast"):
        r = client.get(url)
        assert r.status_code == 404 and b"other pod" not in r.data


def test_the_users_ticket_shows_next_to_the_verdict_as_read_and_stays_in_the_record(client, lab):
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    assert job["state"] == "done"
    (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
    assert a["ticket_label"] is None                     # no desk on this plateau: nothing claimed
    lab.ticket = {"id": 7, "status": "open", "owner": "technicien", "requestors": ["alice"], "assets": ["pc1"],
                  "history": [{"type": "Create", "creator": "alice"}]}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not a.get("ticket_label"):
        (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
        time.sleep(0.05)
    assert a["ticket_label"] == ("Ticket n°7 : ouvert — responsable : technicien — poste lié : pc1 — "
                                 "0 réponse(s) au demandeur")
    # the desk stops answering: the console says so, it does not keep showing an old state as current
    lab.ticket = {"id": 7, "error": "no answer"}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "n'a pas répondu" not in (a.get("ticket_label") or ""):
        (a,) = client.get("/api/pod/1/state").get_json()["attempts"]
        time.sleep(0.05)
    assert "le centre de services n'a pas répondu" in a["ticket_label"]
    kept = [r["ticket"] for r in lab.evidence(1).records() if r["kind"] == "ticket"]
    assert kept[0]["status"] == "open" and kept[-1].get("error")   # each new read, once


def signed_in(lab):
    """A test client of the console on ``lab``, signed in (its CSRF token as ``.csrf``, the lab as
    ``.lab``); the service is closed when the generator ends (use it with ``yield from``)."""
    from tai_lab.jury.service import JuryService
    from tai_lab.jury.web import create_app
    svc = JuryService(lambda: lab, check_interval=0.1)
    c = create_app(svc, KEY).test_client()
    c.get(f"/login?key={KEY}")
    with c.session_transaction() as s:
        c.csrf = s["csrf"]
    c.lab = lab
    try:
        yield c
    finally:
        svc.close()
