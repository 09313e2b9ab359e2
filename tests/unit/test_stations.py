"""The candidates' portal without a lab: access folded from a journal, the relay's escapes,
recordings, and the aiohttp portal against a fake lab whose "node" is a socket pair."""
from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import struct
import termios
import threading
import time
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp")

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from tai_lab.evidence import EvidenceLog  # noqa: E402
from tai_lab.state import Journal  # noqa: E402
from tai_lab.stations import relay  # noqa: E402
from tai_lab.stations.access import Access, new_code, normalise_code  # noqa: E402
from tai_lab.stations.node import SOCKET_UNIT, Account, provision_script  # noqa: E402
from tai_lab.stations.recording import Recorder, list_recordings  # noqa: E402
from tai_lab.stations.service import Machine  # noqa: E402
from tai_lab.stations.web import Limiter, Portal, bind_check, escape_input, naws  # noqa: E402


def station_events(lab_dir: Path, pod: int) -> list[dict]:
    return [r for r in EvidenceLog(lab_dir, pod).records() if r["kind"] == "station"]


# ---------------------------------------------------------------------------------- access
def test_access_follows_the_exam(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.event("up", pods=2)
    acc = Access(tmp_path, [1, 2])
    s = acc.refresh()
    assert not s[1].open and not s[2].open and s[1].code != s[2].code
    code1 = s[1].code
    j.event("phase-begin", pod=1, phase="prep", was="setup")
    j.event("phase", pod=1, phase="prep")
    s = acc.refresh()
    assert s[1].open and s[1].reason == "prep" and not s[2].open
    j.event("prep-seal-begin", pod=1)
    assert not acc.refresh()[1].open and acc.current()[1].reason == "seal"
    j.event("phase-begin", pod=1, phase="jury", was="prep")
    j.event("phase", pod=1, phase="jury")
    s = acc.refresh()
    assert s[1].open and s[1].code == code1 and s[1].generation == 1
    j.event("reset", pod=1, to="baseline")
    s = acc.refresh()
    assert not s[1].open and s[1].code != code1 and s[1].generation == 2
    j.event("phase", pod=1, phase="setup")
    assert not acc.refresh()[1].open
    j.event("prep-start", pod=1)
    assert not acc.refresh()[1].open
    j.event("prep-started", pod=1)
    assert acc.refresh()[1].open and acc.current()[1].generation == 2   # prep start keeps the card
    events = [(r["event"], r["reason"]) for r in station_events(tmp_path, 1)]
    assert events == [("close", "setup"), ("open", "prep"), ("close", "seal"), ("open", "jury"),
                      ("close", "reset"), ("open", "prep")]
    assert (tmp_path / "stations/access.json").stat().st_mode & 0o077 == 0


def test_trainer_opens_closes_and_renews(tmp_path):
    Journal(tmp_path / "journal.jsonl").event("up", pods=1)
    acc = Access(tmp_path, [1])
    old = acc.refresh()[1].code
    acc.set_open(1, True, "cli:trainer")
    assert acc.current()[1].open and acc.current()[1].reason == "manual-open"
    new = acc.renew(1, "cli:trainer")
    assert new != old and acc.current()[1].generation == 2 and acc.current()[1].open
    acc.set_open(1, False, "cli:trainer")
    assert not acc.current()[1].open
    ev = station_events(tmp_path, 1)
    assert [e["event"] for e in ev] == ["close", "open", "code", "close"]
    assert ev[1]["actor"] == "cli:trainer"


def test_each_change_recorded_once_by_several_folders(tmp_path):
    """The portal and a command fold the same journal: every change is logged once."""
    j = Journal(tmp_path / "journal.jsonl")
    j.event("up", pods=1)
    a, b = Access(tmp_path, [1]), Access(tmp_path, [1])
    a.refresh()
    for k in range(10):
        j.event("phase", pod=1, phase="prep" if k % 2 == 0 else "setup")
        threads = [threading.Thread(target=x.refresh) for x in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(station_events(tmp_path, 1)) == 1 + 10
    assert a.refresh() == b.refresh()


def test_first_look_records_the_state_not_the_history(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.event("up", pods=1)
    for phase in ("prep", "jury", "setup", "prep"):
        j.event("phase", pod=1, phase=phase)
    acc = Access(tmp_path, [1])
    assert acc.refresh()[1].open
    assert [(e["event"], e["cause"]) for e in station_events(tmp_path, 1)] == [("open", "portal")]


def test_codes():
    c = new_code()
    assert len(c) == 14 and c.count("-") == 2 and not set(c.replace("-", "")) & set("01OIL")
    assert normalise_code(" " + c.lower().replace("-", " ") + " ") == c


def test_pod_of_code(tmp_path):
    Journal(tmp_path / "journal.jsonl").event("up", pods=2)
    acc = Access(tmp_path, [1, 2])
    s = acc.refresh()
    assert acc.pod_of_code(s[2].code.lower()) == 2
    assert acc.pod_of_code("AAAA-AAAA-AAAA") is None
    assert acc.pod_of_code("") is None


# ---------------------------------------------------------------------------------- evidence
def test_station_records_between_candidates_belong_to_the_next(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("station", event="open", reason="prep")          # candidate A's prep, before naming
    log.record("candidate", name="A")
    log.record("station", event="session-start", node="pc1")    # A's jury phase
    log.record("reset", to="baseline", cleared=[])
    log.record("station", event="open", reason="prep")          # B's prep
    log.record("candidate", name="B")
    s = log.sessions()
    assert [x.candidate for x in s] == ["A", "B"]
    assert [r["kind"] for r in s[0].records] == ["station", "candidate", "station", "reset"]
    assert [r["kind"] for r in s[1].records] == ["station", "candidate"]


# ---------------------------------------------------------------------------------- node side
def test_relay_decodes_resizes_and_escapes():
    master, slave = os.openpty()
    try:
        data, rest = relay.decode(b"ab" + naws(132, 43) + escape_input(b"\xffc"), master)
        assert (data, rest) == (b"ab\xffc", b"")
        size = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))
        assert size[:2] == (43, 132)
        seq = naws(255, 255)                 # 0xFF inside a size is doubled, as telnet says
        data, rest = relay.decode(seq[:4], master)
        assert data == b"" and rest == seq[:4]
        data, rest = relay.decode(rest + seq[4:] + b"z", master)
        assert data == b"z" and rest == b""
        assert struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2] == (255, 255)
    finally:
        os.close(master)
        os.close(slave)


def test_provision_script_stays_on_the_nodes_loopback_and_run():
    script = provision_script([Account("root", "x"), Account("alice", "y")])
    assert "ListenStream=127.0.0.1:" in SOCKET_UNIT and "Accept=yes" in SOCKET_UNIT
    assert "/run/systemd/system/tai-station.socket" in script and "/run/tai-station/relay.py" in script
    assert "getent passwd alice >/dev/null || useradd" in script
    assert script.count("chpasswd") == 2
    assert "x" not in script.split("cat > /run/tai-station/relay.py")[0]   # passwords come on stdin


def test_provision_keeps_a_password_the_candidate_set(tmp_path):
    """The account part of the script, run against fake getent/chpasswd."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "getent").write_text('#!/bin/sh\n[ "$1" = shadow ] && { [ "$2" = root ] && echo "root:*:1" '
                                 '|| echo "$2:\\$6\\$set:1"; }; exit 0\n')
    (bin_ / "chpasswd").write_text(f'#!/bin/sh\ncat >> {tmp_path}/changed\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    script = provision_script([Account("root", "r00t"), Account("alice", "a")])
    accounts_part = "\n".join(line for line in script.splitlines() if line.startswith(("getent", "pw=", "case")))
    import subprocess
    subprocess.run(["sh", "-c", accounts_part], input="r00t\na\n", text=True, check=True,
                   env={"PATH": f"{bin_}:/usr/bin:/bin"})
    assert (tmp_path / "changed").read_text() == "root:r00t\n"     # alice's own password is kept


# ---------------------------------------------------------------------------------- recordings
def test_recording_is_asciicast_v2_without_input(tmp_path):
    rec = Recorder(tmp_path, "lab", 1, "pc1", cols=100, rows=30, generation=1, client="127.0.0.1")
    rec.output(b"pc1 login: ")
    rec.input(b"ro")
    rec.input(b"ot\r")
    rec.output(b"Password: ")
    rec.input(b"secret\r")
    rec.output("caf\xc3".encode("latin-1"))   # a UTF-8 character split between two chunks
    rec.output(b"\xa9\r\n")
    rec.resize(120, 40)
    rec.close("logout")
    lines = rec.path.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["version"] == 2 and head["width"] == 100 and head["tai_lab"]["node"] == "pc1"
    events = [json.loads(x) for x in lines[1:]]
    assert all(e[1] in ("o", "r", "m") for e in events)
    text = "".join(e[2] for e in events if e[1] == "o")
    assert "café" in text and "secret" not in rec.path.read_text()
    assert rec.account == "root" and events[-1][2] == "fin : logout (compte : root)"
    info = list_recordings(tmp_path, 1)
    assert len(info) == 1 and info[0].node == "pc1" and info[0].end.startswith("fin : logout")
    assert rec.path.stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------------------------- limits
def test_limiter():
    lim = Limiter(per_client=3, overall=5, window=60)
    for _ in range(3):
        assert lim.wait("a", now=0) == 0
        lim.failed("a", now=0)
    assert lim.wait("a", now=1) == pytest.approx(59)
    assert lim.wait("b", now=1) == 0
    lim.failed("b", now=1)
    lim.failed("c", now=1)
    assert lim.wait("d", now=2) > 0            # overall
    assert lim.wait("a", now=61) == 0


def test_bind_check():
    assert bind_check("127.0.0.1", False) is None
    from tai_lab.errors import TaiLabError
    with pytest.raises(TaiLabError, match="allow-remote"):
        bind_check("0.0.0.0", False)
    assert "ATTENTION" in bind_check("0.0.0.0", True)


def test_scenario_stations_nodes_are_machines(tmp_path):
    from tai_lab.errors import TaiLabError
    from tai_lab.scenario import load_plan
    root = Path(__file__).resolve().parents[2]
    text = (root / "scenarios/tai-standard.yaml").read_text()
    good = load_plan(root / "scenarios/tai-standard.yaml")
    assert good.pods[1].stations.nodes == ("srv", "pc1", "pc2")
    assert good.pods[1].stations.accounts == (("root", "Atelier-2"),)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("nodes: [srv, pc1, pc2]", "nodes: [srv, switch, pc9]"))
    with pytest.raises(TaiLabError) as e:
        load_plan(bad)
    msg = str(e.value) + str(getattr(e.value, "problems", ""))
    assert "'switch' est un équipement réseau" in msg and "'pc9' n'est pas une machine du pod" in msg


# ---------------------------------------------------------------------------------- the portal
class FakeStations:
    """Two pods; pc1 and srv open; the 'node' is a thread answering like login + a shell."""

    def __init__(self, lab_dir: Path) -> None:
        self.name, self.title, self.lab_dir = "fake", "Plateau de test", lab_dir
        Journal(lab_dir / "journal.jsonl").event("up", pods=2)
        self.access = Access(lab_dir, [1, 2])
        self.access.refresh()
        self.opened: list[tuple[int, str]] = []
        self.ptys: list[int] = []

    def pods(self):
        return [1, 2]

    def machines(self, pod):
        return [Machine("srv", "server", f"srv.pod{pod}.tai.lan", True),
                Machine("pc1", "client", f"pc1.pod{pod}.tai.lan", True, desktop=True)]

    def accounts(self, pod):
        return [Account("root", f"tai-{pod}")]

    def open_terminal(self, pod, node):
        self.opened.append((pod, node))
        ours, theirs = socket.socketpair()

        def node_side():
            master, slave = os.openpty()         # the relay's decoding, sizes applied to a real pty
            self.ptys.append(slave)
            theirs.sendall(f"{node} login: ".encode())
            buf = rest = b""
            while True:
                try:
                    data = theirs.recv(4096)
                except OSError:
                    return
                if not data:
                    theirs.close()
                    return
                data, rest = relay.decode(rest + data, master)
                buf += data
                theirs.sendall(data)                      # echo, like a terminal
                if b"hostname\r" in buf:
                    theirs.sendall(f"\r\n{node}\r\n".encode())
                    buf = b""
        threading.Thread(target=node_side, daemon=True).start()
        return ours


    def open_desktop(self, pod, node):
        """A 'VNC server': says the RFB banner, then echoes what it gets."""
        self.opened.append((pod, f"desktop:{node}"))
        ours, theirs = socket.socketpair()

        def node_side():
            theirs.sendall(b"RFB 003.008\n")
            while data := theirs.recv(4096):
                theirs.sendall(data)
            theirs.close()
        threading.Thread(target=node_side, daemon=True).start()
        return ours


def run_portal(tmp_path, test):
    async def main():
        svc = FakeStations(tmp_path)
        portal = Portal(svc, poll=0.05)
        client = TestClient(TestServer(portal.app), cookie_jar=aiohttp.CookieJar(unsafe=True))
        await client.start_server()
        try:
            await test(client, svc, portal)
        finally:
            await client.close()
    asyncio.run(main())


async def _csrf(client) -> str:
    import re
    html = await (await client.get("/")).text()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _origin(client) -> dict:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def _login(client, code: str) -> aiohttp.ClientResponse:
    csrf = await _csrf(client)
    return await client.post("/login", data={"csrf": csrf, "code": code}, headers=_origin(client),
                             allow_redirects=False)


def test_portal_refuses_without_a_session(tmp_path):
    async def t(client, svc, portal):
        r = await client.get("/pod/1/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/"
        assert (await client.get("/pod/1/state")).status == 401
        assert (await client.get("/pod/1/terminal/pc1", allow_redirects=False)).status == 302
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect("/pod/1/ws/pc1", headers=_origin(client))
        assert e.value.status == 401
        page = await (await client.get("/")).text()
        assert "accès de votre pod" in page
        assert svc.opened == []
    run_portal(tmp_path, t)


def test_portal_login_csrf_and_origin(tmp_path):
    async def t(client, svc, portal):
        code = svc.access.current()[1].code
        svc.access.set_open(1, True)
        csrf = await _csrf(client)
        # no Origin/Referer, a foreign one, "null", no token, a wrong token: all refused
        for headers, data in (({}, {"csrf": csrf, "code": code}),
                              ({"Origin": "http://evil.example"}, {"csrf": csrf, "code": code}),
                              ({"Origin": "null"}, {"csrf": csrf, "code": code}),
                              (_origin(client), {"code": code}),
                              (_origin(client), {"csrf": "x" + csrf, "code": code})):
            r = await client.post("/login", data=data, headers=headers, allow_redirects=False)
            assert r.status == 403, headers
        r = await _login(client, code.lower().replace("-", ""))
        assert r.status == 302 and r.headers["Location"] == "/pod/1/"
        page = await (await client.get("/pod/1/")).text()
        assert "Pod 1 — vos machines" in page and "srv" in page and "pc1" in page and "ouvert" in page
        # a logged-in POST without the Origin is refused too
        r = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 403
        ev = [e["event"] for e in station_events(tmp_path, 1)]
        assert "login" in ev
    run_portal(tmp_path, t)


def test_portal_wrong_codes_are_rate_limited(tmp_path):
    async def t(client, svc, portal):
        for _ in range(5):
            assert (await _login(client, "AAAA-BBBB-CCCC")).status == 403
        r = await _login(client, svc.access.current()[1].code)
        assert r.status == 429 and "Réessayez dans" in await r.text()
        assert len((tmp_path / "stations/refused.jsonl").read_text().splitlines()) == 5
        assert "AAAA" not in (tmp_path / "stations/refused.jsonl").read_text()
    run_portal(tmp_path, t)


def test_portal_closed_pod_refuses_the_code(tmp_path):
    async def t(client, svc, portal):
        r = await _login(client, svc.access.current()[2].code)
        assert r.status == 403 and "fermé" in await r.text()
        assert station_events(tmp_path, 2)[-1]["event"] == "refused"
    run_portal(tmp_path, t)


def test_portal_one_pod_only(tmp_path):
    async def t(client, svc, portal):
        svc.access.set_open(1, True)
        svc.access.set_open(2, True)
        await _login(client, svc.access.current()[1].code)
        for path in ("/pod/2/", "/pod/2/state", "/pod/2/terminal/pc1"):
            assert (await client.get(path, allow_redirects=False)).status == 403, path
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect("/pod/2/ws/pc1", headers=_origin(client))
        assert e.value.status == 403
        assert (await client.get("/pod/1/terminal/router")).status == 404     # not opened by the scenario
        assert svc.opened == []
        refused = [e for e in station_events(tmp_path, 1) if e["event"] == "refused"]
        assert {e["asked_pod"] for e in refused} == {2}
    run_portal(tmp_path, t)


def test_portal_terminal_and_close_within_a_second(tmp_path):
    async def t(client, svc, portal):
        svc.access.set_open(1, True)
        await _login(client, svc.access.current()[1].code)
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect("/pod/1/ws/pc1", headers={"Origin": "http://evil.example"})
        assert e.value.status == 403
        ws = await client.ws_connect("/pod/1/ws/pc1?cols=90&rows=20", headers=_origin(client))
        buf = b""
        while b"login: " not in buf:
            buf += (await ws.receive(timeout=5)).data
        await ws.send_bytes(b"root\r")
        await ws.send_str(json.dumps({"resize": [120, 40]}))
        await ws.send_bytes(b"hostname\r")
        buf = b""
        while b"\r\npc1\r\n" not in buf:
            m = await ws.receive(timeout=5)
            buf += m.data if m.type == aiohttp.WSMsgType.BINARY else b""
        size = struct.unpack("HHHH", fcntl.ioctl(svc.ptys[-1], termios.TIOCGWINSZ, b"\0" * 8))
        assert size[:2] == (40, 120)
        t0 = time.monotonic()
        svc.access.set_open(1, False, "cli:test")
        closed = None
        while True:
            m = await ws.receive(timeout=5)
            if m.type == aiohttp.WSMsgType.TEXT:
                closed = json.loads(m.data)["closed"]
            if m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert time.monotonic() - t0 < 1.0
        assert closed == "accès fermé : fermé par le formateur"
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect("/pod/1/ws/pc1", headers=_origin(client))
        assert e.value.status == 403
        await asyncio.sleep(0.1)
        ev = [e for e in station_events(tmp_path, 1)]
        end = next(e for e in ev if e["event"] == "session-end")
        assert end["account"] == "root" and end["reason"] == "closed:manual-close" and end["node"] == "pc1"
        assert ev[-1]["event"] == "refused" and ev[-1]["reason"] == "closed"
        recs = list_recordings(tmp_path, 1)
        assert len(recs) == 1 and "fermé" not in (recs[0].end or "")
    run_portal(tmp_path, t)


def test_portal_desktop_relays_vnc_and_follows_the_access(tmp_path):
    async def t(client, svc, portal):
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:          # no session
            await client.ws_connect("/pod/1/vnc/pc1", headers=_origin(client))
        assert e.value.status == 401
        svc.access.set_open(1, True)
        svc.access.set_open(2, True)
        await _login(client, svc.access.current()[1].code)
        page = await (await client.get("/pod/1/")).text()
        assert 'href="/pod/1/desktop/pc1"' in page and "/desktop/srv" not in page
        assert "desktop.js" in await (await client.get("/pod/1/desktop/pc1")).text()
        assert (await client.get("/pod/1/desktop/srv")).status == 404          # no desktop there
        for path, origin, status in (("/pod/1/vnc/pc1", {"Origin": "http://evil.example"}, 403),
                                     ("/pod/1/vnc/pc1", {}, 403),                 # no Origin at all
                                     ("/pod/2/vnc/pc1", _origin(client), 403),    # another pod
                                     ("/pod/1/vnc/srv", _origin(client), 404)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await client.ws_connect(path, headers=origin)
            assert e.value.status == status, path
        assert svc.opened == []
        ws = await client.ws_connect("/pod/1/vnc/pc1", headers=_origin(client))
        assert (await ws.receive(timeout=5)).data == b"RFB 003.008\n"
        await ws.send_bytes(b"\x00\xff\x01")
        assert (await ws.receive(timeout=5)).data == b"\x00\xff\x01"      # bytes as they are
        t0 = time.monotonic()
        svc.access.set_open(1, False, "cli:test")
        m = await ws.receive(timeout=5)
        assert m.type == aiohttp.WSMsgType.CLOSE and time.monotonic() - t0 < 1.0
        assert ws.close_code == 4000 and "fermé par le formateur" in m.extra
        await asyncio.sleep(0.1)
        ev = station_events(tmp_path, 1)
        start = next(e for e in ev if e["event"] == "desktop-start")
        end = next(e for e in ev if e["event"] == "desktop-end")
        assert start["node"] == end["node"] == "pc1" and end["reason"] == "closed:manual-close"
        assert [e for e in ev if e.get("reason") == "cross-site" and e.get("path") == "/pod/1/vnc/pc1"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect("/pod/1/vnc/pc1", headers=_origin(client))
        assert e.value.status == 403
    run_portal(tmp_path, t)


def test_scenario_desktops_are_client_machines_in_the_portal(tmp_path):
    from tai_lab.errors import TaiLabError
    from tai_lab.scenario import load_plan
    root = Path(__file__).resolve().parents[2]
    text = (root / "scenarios/tai-standard.yaml").read_text()
    good = load_plan(root / "scenarios/tai-standard.yaml")
    assert good.pods[0].stations.desktops == ("pc1",) and good.pods[0].stations.desktop_user == "utilisateur"
    assert good.pods[0].node("pc1").image == "debian-12-desktop"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("desktops: [pc1]", "desktops: [srv, pc9]"))
    with pytest.raises(TaiLabError) as e:
        load_plan(bad)
    msg = str(e.value) + str(getattr(e.value, "problems", ""))
    assert "'srv' n'est pas un poste client" in msg and "'pc9' n'est pas un poste client" in msg
    bad.write_text(text.replace("nodes: [srv, pc1, pc2]", "nodes: [srv, pc2]"))
    with pytest.raises(TaiLabError) as e:
        load_plan(bad)
    assert "l'ajouter aussi à stations.nodes" in str(e.value) + str(getattr(e.value, "problems", ""))


def test_desktop_unit_listens_on_the_nodes_loopback_only():
    from tai_lab.stations import desktop
    script = desktop.provision_script("utilisateur")
    assert "-interface 127.0.0.1" in script and "-localhost" in script and f"-rfbport {desktop.PORT}" in script
    assert "Restart=always" in script and "setxkbmap -display :0 fr" in script and "User=utilisateur" in script
    assert "0.0.0.0" not in script


def test_portal_new_code_ends_the_old_sessions(tmp_path):
    async def t(client, svc, portal):
        svc.access.set_open(1, True)
        await _login(client, svc.access.current()[1].code)
        assert (await client.get("/pod/1/")).status == 200
        Journal(tmp_path / "journal.jsonl").event("reset", pod=1, to="baseline")
        await asyncio.sleep(0.2)
        r = await client.get("/pod/1/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/"
    run_portal(tmp_path, t)


def test_portal_security_headers_and_language(tmp_path):
    async def t(client, svc, portal):
        r = await client.get("/")
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        csrf = await _csrf(client)
        r = await client.post("/lang", data={"csrf": csrf, "lang": "en", "back": "//evil.example/"},
                              headers=_origin(client), allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/"
        assert "access code" in await (await client.get("/")).text()
    run_portal(tmp_path, t)


def test_cards_carry_each_pods_code_and_account(tmp_path):
    from types import SimpleNamespace

    from tai_lab.scenario import load_plan
    from tai_lab.stations import cards
    plan = load_plan(Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml")
    Journal(tmp_path / "journal.jsonl").event("up", pods=2)
    acc = Access(tmp_path, [1, 2])
    html = cards.render_html(SimpleNamespace(plan=plan, name="std"), acc, [1, 2], "http://10.0.0.1:8780/")
    s = acc.refresh()
    assert s[1].code in html and s[2].code in html and "Atelier-2" in html and "http://10.0.0.1:8780/" in html
    assert html.count('class="card"') == 2 and "router" not in html
    assert html.count("<strong>pc1</strong> (et son bureau)") == 2 and "<strong>pc2</strong> (et" not in html
