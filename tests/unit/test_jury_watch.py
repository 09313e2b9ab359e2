"""The jury's watch page (tai_lab/jury/watch.py) with a fake VNC server: behind the jury's login,
only the pod's desktop machines, a PNG frame, keys and clicks only with the CSRF token and from
this origin, recorded in the pod's evidence without the text typed."""
from __future__ import annotations

import json
import socket
import threading
from types import SimpleNamespace

import pytest

from tai_lab.jury import watch
from tai_lab.jury.web import create_app

from .test_desktop_screen import _server

KEY = "jury-key"


@pytest.fixture
def jury(tmp_path, monkeypatch):
    opened: list[tuple[int, str, str]] = []
    inputs: list[bytes] = []

    def fake_open(lab, pod, node, user):
        opened.append((pod, node, user))
        ours, theirs = socket.socketpair()
        got: dict = {}

        def serve():
            try:
                _server(theirs, 4, 2, got)
            except (OSError, ValueError):
                pass
            inputs.append(got.get("input", b""))
        threading.Thread(target=serve, daemon=True).start()
        return ours
    monkeypatch.setattr(watch, "open_desktop", fake_open)
    stations = SimpleNamespace(desktops=("pc1",), desktop_user="utilisateur")
    lab = SimpleNamespace(plan=SimpleNamespace(pod=lambda n: SimpleNamespace(stations=stations), title="Test"),
                          state=SimpleNamespace(dir=tmp_path), name="fake")
    service = SimpleNamespace(pods=[1], lab=lab, name="fake", terminals=lambda pod, *a, **kw: [])
    app = create_app(service, KEY)
    app.config["TESTING"] = True
    c = app.test_client()
    c.opened, c.inputs, c.dir = opened, inputs, tmp_path
    return c


def test_watch_needs_the_jury_login(jury):
    for url in ("/pod/1/watch", "/pod/1/watch/pc1/screen.png"):
        assert jury.get(url).status_code == 401
    assert jury.post("/api/pod/1/watch/pc1/keys", json={"text": "x"}).status_code == 401
    assert jury.opened == []


def test_watch_frames_keys_and_clicks(jury):
    jury.get(f"/login?key={KEY}")
    with jury.session_transaction() as s:
        csrf = s["csrf"]
    page = jury.get("/pod/1/watch")
    assert page.status_code == 200 and "Affichage seul" in page.text and "Prendre le clavier" in page.text
    assert jury.get("/pod/1/watch/srv/screen.png").status_code == 404          # not a desktop
    assert jury.get("/pod/9/watch").status_code == 404
    shot = jury.get("/pod/1/watch/pc1/screen.png")
    assert shot.status_code == 200 and shot.data.startswith(b"\x89PNG") and shot.headers["X-Screen-Size"] == "4x2"
    assert jury.opened == [(1, "pc1", "utilisateur")]
    assert jury.post("/api/pod/1/watch/pc1/keys", json={"text": "secret"}).status_code == 403      # no token
    r = jury.post("/api/pod/1/watch/pc1/keys", json={"text": "secret"},
                  headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403
    r = jury.post("/api/pod/1/watch/pc1/keys", json={"text": "ab", "keys": ["Enter", "rm -rf"]},
                  headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert jury.post("/api/pod/1/watch/pc1/click", json={"x": "a"}, headers={"X-CSRF-Token": csrf}).status_code == 400
    log = [json.loads(x) for x in (jury.dir / "evidence" / "pod-1.jsonl").read_text().splitlines()]
    typed = [e for e in log if e.get("event") == "jury-keyboard"]
    assert len(typed) == 1 and typed[0]["characters"] == 2 and typed[0]["keys"] == ["Enter"]
    assert "secret" not in json.dumps(log) and '"ab"' not in json.dumps(log)
