"""The jury watches live (issue #13, items 5–6): a terminal's recording read as it grows, a
terminal whose portal was killed ended as interrupted (never a clean end), one-time tokens and
the portal's view-only relay of a desktop for the jury's console."""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from tai_lab.evidence import EvidenceLog
from tai_lab.stations import jury_view, liveness
from tai_lab.stations.jury_view import ViewOnly, ViewOnlyFilter
from tai_lab.terminal_sessions import (
    read_cast_from,
    record_interrupted,
    recordings_dir,
    terminal_sessions,
)

from .test_terminal_sessions import write_cast


def dead_portal() -> dict:
    """The identity of a process that has ended (a killed portal)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    ident = liveness.identity(proc.pid)
    proc.kill()
    proc.wait()
    return ident


# ---------------------------------------------------------------------------------- liveness
def test_liveness_of_a_portal():
    assert liveness.alive(liveness.identity()) is True
    assert liveness.alive(dead_portal()) is False
    me = liveness.identity()
    assert liveness.alive({**me, "start": (me["start"] or 0) + 1}) is False      # a reused pid
    assert liveness.alive({**me, "boot": "another-boot"}) is False              # the host rebooted
    for nothing in (None, "portal", {}, {"pid": "1"}, {"pid": True}, {"pid": -3}):
        assert liveness.alive(nothing) is None


# ---------------------------------------------------------------------------------- a growing recording
def test_a_growing_recording_read_from_an_offset(tmp_path):
    path = tmp_path / "a.cast"
    path.write_text(json.dumps({"version": 2, "width": 100, "height": 30}) + "\n"
                    + json.dumps([0.1, "o", "root@pc1:~# "]) + "\n" + '[0.2, "o", "ho')     # a line being written
    header, events, offset, more = read_cast_from(path, 0)
    assert header["width"] == 100 and events == [[0.1, "o", "root@pc1:~# "]] and not more
    assert read_cast_from(path, offset)[1:] == ([], offset, False)                # the torn line waits
    with path.open("a") as f:
        f.write('stname"]\n' + json.dumps([0.3, "i", "secret"]) + "\n" + json.dumps([0.4, "r", "90x20"]) + "\n")
    header, events, offset2, _ = read_cast_from(path, offset)
    assert header is None and events == [[0.2, "o", "hostname"], [0.4, "r", "90x20"]]   # input never
    assert offset2 == path.stat().st_size
    # a large backlog comes in pieces, each ending on a whole line
    with path.open("a") as f:
        for i in range(200):
            f.write(json.dumps([1 + i, "o", f"line {i:03d}\r\n"]) + "\n")
    got, off, more = [], offset2, True
    while more:
        _h, evs, off, more = read_cast_from(path, off, limit=1000)
        got += evs
    assert [e[2] for e in got] == [f"line {i:03d}\r\n" for i in range(200)]


# ---------------------------------------------------------------------------------- killed portal
def _start(log: EvidenceLog, name: str, portal: dict | None, node: str = "pc1") -> None:
    data = {"portal": portal} if portal is not None else {}
    log.record("station", event="session-start", node=node, recording=name, **data)


def test_a_session_whose_portal_was_killed_is_interrupted_at_its_last_byte(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="Camille")
    write_cast(log, "killed.cast", [[0.5, "o", "root@pc1:~# ip a\r\n"], [12.25, "o", "root@pc1:~# "]], marker=None)
    write_cast(log, "running.cast", [[0.5, "o", "root@srv:~# "]], marker=None)
    write_cast(log, "old.cast", [[0.5, "o", "root@pc2:~# "]], marker=None)
    _start(log, "killed.cast", dead_portal())
    _start(log, "running.cast", liveness.identity(), node="srv")
    _start(log, "old.cast", None, node="pc2")            # written before portals named themselves
    before = {p.name: p.read_bytes() for p in recordings_dir(log).iterdir()}

    ts = {t.recording: t for t in terminal_sessions(log, log.current())}
    killed = ts["killed.cast"]
    assert killed.ended and not killed.live and killed.reason == "interrupted" and killed.seconds == 12.2
    assert killed.as_dict()["end"] == "interrompue (portail arrêté)"
    assert killed.as_dict("en")["end"] == "interrupted (portal stopped)"
    assert killed.commands == ["ip a"]
    assert ts["running.cast"].live and ts["old.cast"].live       # alive, or nothing to decide on
    polled = {t.recording: t for t in terminal_sessions(log, log.current(), commands=False, files=False)}
    assert polled["killed.cast"].reason == "interrupted" and polled["killed.cast"].seconds == 12.2
    assert len(log.records()) == 4                                # reading wrote nothing
    from tai_lab.stations.recording import list_recordings
    ends = {r.path.name: r.end for r in list_recordings(tmp_path, 1)}
    assert ends == {"killed.cast": "fin : interrompue (portail arrêté)", "running.cast": None, "old.cast": None}

    # the next portal's start records the end: appended, once, the recordings untouched
    added = record_interrupted(log)
    assert [(a["recording"], a["reason"], a["seconds"]) for a in added] == [("killed.cast", "interrupted", 12.2)]
    assert added[0]["last_output"] and added[0]["actor"] == "portal"
    assert record_interrupted(log) == []
    assert {p.name: p.read_bytes() for p in recordings_dir(log).iterdir()} == before
    assert terminal_sessions(log, log.current())[0].reason == "interrupted"


def test_a_killed_portal_that_had_closed_the_file_keeps_the_files_reason(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    write_cast(log, "a.cast", [[0.5, "o", "root@pc1:~# exit\r\n"]], marker="fin : logout (compte : root)")
    _start(log, "a.cast", dead_portal())
    [t] = terminal_sessions(log, log.current())
    assert t.reason == "logout" and t.seconds == 1.0
    assert [a["reason"] for a in record_interrupted(log)] == ["logout"]


def test_an_earlier_candidates_interrupted_terminal_stays_theirs(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="A")
    write_cast(log, "a.cast", [[3.0, "o", "root@pc1:~# "]], marker=None)
    _start(log, "a.cast", dead_portal())
    log.record("reset", to="baseline", cleared=[])
    log.record("candidate", name="B")
    record_interrupted(log)                          # the portal restarted during B's session
    a, b = log.sessions()
    assert terminal_sessions(log, b) == []
    [t] = terminal_sessions(log, a)
    assert t.reason == "interrupted" and t.seconds == 3.0


def test_the_report_says_interrupted_in_both_languages(tmp_path):
    from tai_lab.jury import report
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="Camille")
    write_cast(log, "a.cast", [[65.0, "o", "root@pc1:~# "]], marker=None)
    _start(log, "a.cast", dead_portal())
    lab = SimpleNamespace(name="std", plan=SimpleNamespace(title="Plateau", intervention_dir=None),
                          evidence=lambda pod=None: log)
    fr = report.render_html(lab, 1)
    assert "interrompue (portail arrêté)" in fr and "1 min 05 s" in fr and "sans fin enregistrée" not in fr
    assert "interrupted (portal stopped)" in report.render_html(lab, 1, lang="en")


# ---------------------------------------------------------------------------------- view-only
def _rfb_client_stream() -> tuple[bytes, bytes]:
    """What noVNC sends (handshake, then a mix of messages) and what may reach the server."""
    hello = b"RFB 003.008\n" + b"\x01" + b"\x00"                     # version, security None, NOT shared
    pixel = b"\x00\x00\x00\x00" + bytes(16)
    encodings = struct.pack(">BxH", 2, 3) + struct.pack(">iii", 7, 0, -223)
    update = struct.pack(">BBHHHH", 3, 1, 0, 0, 1280, 800)
    fence = struct.pack(">BxxxIB", 248, 1, 3) + b"abc"
    cont = struct.pack(">BBHHHH", 150, 1, 0, 0, 1280, 800)
    key = struct.pack(">BBxxI", 4, 1, 0x61)
    pointer = struct.pack(">BBHH", 5, 1, 10, 10)
    cut = struct.pack(">BxxxI", 6, 5) + b"hello"
    cut_ext = struct.pack(">Bxxxi", 6, -8) + bytes(8)
    qemu_key = struct.pack(">BBHII", 255, 0, 1, 0x61, 30)
    resize = struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16)
    xvp = struct.pack(">BxBB", 250, 1, 2)
    sent = (hello + pixel + key + encodings + pointer + update + cut + fence + qemu_key + cont + resize
            + cut_ext + xvp + update)
    allowed = b"RFB 003.008\n" + b"\x01" + b"\x01" + pixel + encodings + update + fence + cont + update
    return sent, allowed


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_view_only_filter_passes_only_what_asks_to_see(chunk):
    sent, allowed = _rfb_client_stream()
    f = ViewOnlyFilter()
    out = b"".join(f.feed(sent[i:i + chunk]) for i in range(0, len(sent), chunk))
    assert out == allowed
    assert f.dropped == {"key": 2, "pointer": 1, "clipboard": 2, "resize": 1, "xvp": 1}


def test_view_only_filter_ends_on_an_unknown_message():
    f = ViewOnlyFilter()
    f.feed(b"RFB 003.008\n\x01\x01")
    with pytest.raises(ViewOnly):
        f.feed(b"\x07" + bytes(20))
    f = ViewOnlyFilter()
    f.feed(b"RFB 003.008\n\x01\x01")
    with pytest.raises(ViewOnly):                     # a clipboard of 2 GB is not buffered
        for _ in range(3):
            f.feed(struct.pack(">Bxxxi", 6, 2 ** 31 - 1) + bytes(600_000))


# ---------------------------------------------------------------------------------- tokens
def test_jury_tokens_are_one_time_short_lived_and_not_kept(tmp_path):
    token = jury_view.issue(tmp_path, 1, "pc1", "http://127.0.0.1:8765", "web:Mme Martin")
    files = list((tmp_path / "stations" / "jury-tokens").iterdir())
    assert len(files) == 1 and token not in files[0].name and token not in files[0].read_text()
    assert files[0].stat().st_mode & 0o077 == 0
    grant = jury_view.claim(tmp_path, token)
    assert grant["pod"] == 1 and grant["node"] == "pc1" and grant["origin"] == "http://127.0.0.1:8765"
    assert jury_view.claim(tmp_path, token) is None                          # used
    old = jury_view.issue(tmp_path, 1, "pc1", "http://x", "web:jury", ttl=-1)
    assert jury_view.claim(tmp_path, old) is None                            # expired
    for bad in ("", "x" * 300, "../../access.json"):
        assert jury_view.claim(tmp_path, bad) is None


def test_portal_address_only_while_it_runs(tmp_path):
    assert jury_view.portal_address(tmp_path) is None
    jury_view.write_portal(tmp_path, "http://127.0.0.1:8780", liveness.identity())
    assert jury_view.portal_address(tmp_path) == "http://127.0.0.1:8780"
    jury_view.write_portal(tmp_path, "http://127.0.0.1:8780", dead_portal())
    assert jury_view.portal_address(tmp_path) is None


# ---------------------------------------------------------------------------------- the portal's relay
def test_portal_relays_a_desktop_to_the_jury_view_only(tmp_path):
    aiohttp = pytest.importorskip("aiohttp")
    from .test_stations import run_portal

    got = bytearray()

    async def t(client, svc, portal):
        def fake_desktop(pod, node):
            svc.opened.append((pod, f"jury:{node}"))
            ours, theirs = socket.socketpair()

            def node_side():
                theirs.sendall(b"RFB 003.008\n")
                while data := theirs.recv(4096):
                    got.extend(data)
                theirs.close()
            threading.Thread(target=node_side, daemon=True).start()
            return ours
        svc.open_desktop = fake_desktop
        origin = "http://127.0.0.1:8765"                 # the jury's console, not the portal
        svc.access.set_open(1, False, "cli:test")        # the candidate's access does not matter here

        def token(node="pc1", pod=1):
            return jury_view.issue(tmp_path, pod, node, origin, "web:Mme Martin")

        async def refused(path, headers, status):
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await client.ws_connect(path, headers=headers)
            assert e.value.status == status, path

        await refused("/jury/vnc/1/pc1", {"Origin": origin}, 403)                      # no token
        await refused(f"/jury/vnc/1/pc1?token={token()}", {"Origin": "http://evil.example"}, 403)
        await refused(f"/jury/vnc/1/pc1?token={token()}", {}, 403)                     # no Origin
        await refused(f"/jury/vnc/2/pc1?token={token()}", {"Origin": origin}, 403)     # another pod's
        await refused(f"/jury/vnc/1/srv?token={token('srv')}", {"Origin": origin}, 404)  # no desktop
        assert svc.opened == []
        good = token()
        ws = await client.ws_connect(f"/jury/vnc/1/pc1?token={good}", headers={"Origin": origin})
        assert (await ws.receive(timeout=5)).data == b"RFB 003.008\n"
        sent, allowed = _rfb_client_stream()
        await ws.send_bytes(sent)
        deadline = time.monotonic() + 5
        while len(got) < len(allowed) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await refused(f"/jury/vnc/1/pc1?token={good}", {"Origin": origin}, 403)        # used once
        await ws.close()
        await asyncio.sleep(0.2)
        assert bytes(got) == allowed                     # no key, pointer, clipboard or resize reached it
        ev = [r for r in EvidenceLog(tmp_path, 1).records() if r["kind"] == "station"]
        start = next(e for e in ev if e["event"] == "jury-view-start")
        end = next(e for e in ev if e["event"] == "jury-view-end")
        assert start["actor"] == end["actor"] == "web:Mme Martin" and start["node"] == "pc1"
        assert end["dropped"]["key"] == 2 and end["reason"] == "browser-closed"
        reasons = [e.get("reason") for e in ev if e["event"] == "refused"]
        assert reasons.count("jury-token") == 2 and reasons.count("cross-site") == 2   # none, used
        assert [r.get("reason") for r in EvidenceLog(tmp_path, 2).records()
                if r.get("event") == "refused"] == ["jury-token"]                        # pod 2's URL
        assert good not in json.dumps(ev)
        # a flood of bad tokens from one address: refused without a record once past the limit
        # (5 failures so far from this address: none, two origins, pod 2's, used)
        for _ in range(3):
            await refused("/jury/vnc/1/pc1?token=guess", {"Origin": origin}, 429)
        assert len([r for r in EvidenceLog(tmp_path, 1).records() if r.get("event") == "refused"]) == 4
    run_portal(tmp_path, t)


# ---------------------------------------------------------------------------------- the console
KEY = "jury-key"


@pytest.fixture
def console(tmp_path, monkeypatch):
    from tai_lab.jury.web import create_app
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="Camille")
    stations = SimpleNamespace(desktops=("pc1",), desktop_user="utilisateur")
    lab = SimpleNamespace(plan=SimpleNamespace(pod=lambda n: SimpleNamespace(stations=stations), title="Test"),
                          state=SimpleNamespace(dir=tmp_path), name="fake", evidence=lambda pod: log)

    def terminals(pod, *a, files=True, **kw):
        return terminal_sessions(log, log.current(), commands=False, files=files)
    from tai_lab.jury.service import JuryService
    service = SimpleNamespace(pods=[1], lab=lab, name="fake", terminals=terminals)
    service.live = lambda *a, **kw: JuryService.live(service, *a, **kw)      # the real reading
    app = create_app(service, KEY)
    app.config["TESTING"] = True
    c = app.test_client()
    c.log, c.dir = log, tmp_path
    return c


def test_live_terminal_api_needs_the_jury_and_this_origin(console):
    write_cast(console.log, "a.cast", [[0.5, "o", "root@pc1:~# "]], marker=None)
    _start(console.log, "a.cast", liveness.identity())
    urls = ("/api/pod/1/terminals", "/api/pod/1/terminal/1/live?from=0")
    for url in urls:
        assert console.get(url).status_code == 401
    console.get(f"/login?key={KEY}")
    own = "http://localhost"
    for url in urls:
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"}):
            assert console.get(url, headers=headers).status_code == 403, (url, headers)
    refused = [r for r in console.log.records() if r.get("event") == "refused"]
    assert len(refused) == 6 and all(r["reason"] == "cross-site" for r in refused)
    lst = console.get(urls[0], headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}).get_json()
    assert [(t["number"], t["live"]) for t in lst["terminals"]] == [(1, True)]
    first = console.get(urls[1], headers={"Sec-Fetch-Site": "same-origin"}).get_json()
    assert first["width"] == 80 and first["events"] == [[0.5, "o", "root@pc1:~# "]] and not first["ended"]
    path = recordings_dir(console.log) / "a.cast"
    with path.open("a") as f:                                      # the candidate types
        f.write(json.dumps([1.5, "o", "hostname\r\npc1\r\n"]) + "\n")
    nxt = console.get(f"/api/pod/1/terminal/1/live?from={first['offset']}").get_json()
    assert nxt["events"] == [[1.5, "o", "hostname\r\npc1\r\n"]] and "width" not in nxt
    with path.open("a") as f:
        f.write(json.dumps([2.0, "m", "fin : logout (compte : root)"]) + "\n")
    last = console.get(f"/api/pod/1/terminal/1/live?from={nxt['offset']}").get_json()
    assert last["ended"] and not last["more"]
    assert console.get("/api/pod/1/terminal/2/live").status_code == 404
    assert console.get("/api/pod/1/terminal/1/live?from=-5").get_json()["events"][0][2] == "root@pc1:~# "
    # read-only: nothing under this API writes to a terminal
    assert console.post("/api/pod/1/terminal/1/live").status_code in (403, 405)


def test_watch_page_hands_out_a_token_for_the_running_portal(console):
    console.get(f"/login?key={KEY}")
    with console.session_transaction() as s:
        csrf = s["csrf"]
    page = console.get("/pod/1/watch")
    assert 'data-live-on="0"' in page.text and "ws://" not in page.headers["Content-Security-Policy"]
    assert console.post("/api/pod/1/watch/pc1/live", headers={"X-CSRF-Token": csrf}).status_code == 409
    jury_view.write_portal(console.dir, "http://0.0.0.0:8780", liveness.identity())
    page = console.get("/pod/1/watch")
    assert 'data-live-on="1"' in page.text
    assert "connect-src 'self' ws://localhost:8780;" in page.headers["Content-Security-Policy"]
    assert console.post("/api/pod/1/watch/pc1/live").status_code == 403                    # no CSRF token
    r = console.post("/api/pod/1/watch/pc1/live", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert console.post("/api/pod/1/watch/srv/live", headers={"X-CSRF-Token": csrf}).status_code == 404
    url = console.post("/api/pod/1/watch/pc1/live", headers={"X-CSRF-Token": csrf}).get_json()["url"]
    assert url.startswith("ws://localhost:8780/jury/vnc/1/pc1?token=")
    grant = jury_view.claim(console.dir, url.split("token=")[1])
    assert grant["origin"] == "http://localhost" and grant["actor"] == "web:jury"
    js = console.get("/vendor/novnc/core/rfb.js")
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]
    assert console.get("/vendor/novnc/../../web.py").status_code == 404
    assert console.get("/vendor/novnc/LICENSE.txt").status_code == 404

