"""The jury watches live, on a real 1-pod plateau, in headless Chromium (issue #13, items 5–6).

The candidate opens a terminal on pc1 in the portal; on the jury's watch page (the console,
another origin) that terminal grows as the candidate types. pc1's desktop is drawn live on the
same page (noVNC through the portal, with a one-time token from the console): view-only for
real — keys and clicks sent on that connection by hand never reach the desktop, while
« Prendre le clavier » types in the same window. The live APIs refuse a request without the
jury's login, and a token from another origin or used twice. Then the portal is killed
(SIGKILL) with the terminal open: the console says the session was interrupted, at its last
byte; the watch page falls back to a picture a second; the next portal records that end in the
evidence log without touching the recording; the report says it in French and English.
Lab name: tliv (+ TAI_LAB_TEST_TAG).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, headless_chromium, jury_console, lab_name, portal_process, standard_lab

LAB = lab_name("tliv")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PASSWORD = "Atelier-1"          # scenarios/tai-standard.yaml, stations.accounts, pod 1

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
aiohttp = pytest.importorskip("aiohttp", reason="the portal's dependency")
if not (CHROMIUM and DRIVER):
    pytest.skip("Debian's chromium and chromium-driver are needed (scripts/install-host-deps.sh)",
                allow_module_level=True)

from selenium.common.exceptions import JavascriptException, NoSuchElementException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def live_lab(lab_home, tmp_path_factory):
    with standard_lab(LAB, 1, tmp_path_factory.mktemp("scenario")) as lab:
        lab.set_phase("prep")
        lab.evidence(1).record("candidate", name="Camille Dupont", actor="test")
        yield lab


@pytest.fixture(scope="module")
def browser():
    drv = headless_chromium("1400,1000")
    yield drv
    drv.quit()


def _wait(drv, cond, timeout: float, what: str):
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.1,
                             ignored_exceptions=(NoSuchElementException, JavascriptException)).until(cond)
    except Exception as exc:
        drv.save_screenshot(str(Path(os.environ.get("TMPDIR", "/tmp")) / "tliv-failure.png"))
        raise AssertionError(f"timed out waiting for {what}") from exc


def _candidate_screen(drv) -> list[str]:
    return drv.execute_script("""
        const b = window.taiTerm.buffer.active, out = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
        return out;""") or []


def _jury_screen(drv, number: int) -> list[str]:
    return drv.execute_script("""
        const t = (window.taiTerms || {})[arguments[0]];
        if (!t) return [];
        const b = t.buffer.active, out = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
        return out;""", number) or []


def _http(method: str, url: str, cookies: dict | None = None, headers: dict | None = None) -> tuple[int, object]:
    """(status, JSON body or text) of a request with these cookies and headers."""
    h = dict(headers or {})
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    req = urllib.request.Request(url, method=method, headers=h, data=b"{}" if method == "POST" else None)
    if method == "POST":
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tai_lab.cli", *args, "--lab", LAB], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, f"tai-lab {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def _type(drv, text: str) -> None:
    drv.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(text)


def _lit(drv, node: str = "pc1") -> float:
    return drv.execute_script("""
        const c = document.querySelector('section.watch[data-node="' + arguments[0] + '"] .screen-live canvas');
        if (!c || !c.width) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4 * 7) if (d[i] + d[i + 1] + d[i + 2] > 30) lit++;
        return lit / (d.length / (4 * 7));""", node)


def _run(lab, script: str):
    return lab.backend.transport(1, "pc1").run(["sh", "-c", script], timeout=60)


def _events(lab) -> list[dict]:
    return [r for r in lab.evidence(1).records() if r["kind"] == "station"]


def _try_typing_through_the_view(url: str, origin: str, text: str) -> int:
    """Open the jury's view-only connection by hand and send keys and clicks on it, as a page
    with the token could; returns the WebSocket status (101 when it opened)."""
    from tai_lab.stations import screen

    async def go() -> int:
        async with aiohttp.ClientSession() as s:
            try:
                ws = await s.ws_connect(url, headers={"Origin": origin})
            except aiohttp.WSServerHandshakeError as e:
                return e.status
            buf = bytearray()

            async def need(n: int) -> bytes:
                while len(buf) < n:
                    m = await ws.receive(timeout=20)
                    assert m.type == aiohttp.WSMsgType.BINARY, m
                    buf.extend(m.data)
                out = bytes(buf[:n])
                del buf[:n]
                return out
            assert (await need(12)).startswith(b"RFB 003.")
            await ws.send_bytes(b"RFB 003.008\n")
            await need((await need(1))[0])
            await ws.send_bytes(b"\x01")
            assert struct.unpack(">I", await need(4))[0] == 0
            await ws.send_bytes(b"\x00")                     # asks for an exclusive connection
            await need(20)
            await need(struct.unpack(">I", await need(4))[0])
            syms = [screen.keysym(c) for c in text] + [screen.KEYS["Enter"]]
            await ws.send_bytes(b"".join(struct.pack(">BBxxI", 4, 1, k) + struct.pack(">BBxxI", 4, 0, k)
                                         for k in syms))
            await ws.send_bytes(struct.pack(">BBHH", 5, 1, 640, 400) + struct.pack(">BBHH", 5, 0, 640, 400))
            await ws.send_bytes(struct.pack(">BBHII", 255, 0, 1, 0x78, 45) + struct.pack(">BBHII", 255, 0, 0, 0x78, 45))
            await asyncio.sleep(2)
            await ws.close()
            return 101
    return asyncio.run(go())


def test_the_jury_watches_live(live_lab, browser, tmp_path):
    lab, drv = live_lab, browser
    timings: dict[str, float] = {}
    from tai_lab.jury import report
    from tai_lab.terminal_sessions import recordings_dir
    codes = {c["pod"]: c["code"] for c in json.loads(_cli("stations", "codes", "--json"))}

    with portal_process(LAB, tmp_path / "portal.log") as (base, portal), \
            jury_console(LAB, tmp_path / "console.log") as (console, link):
        # ---- the candidate's terminal on pc1, in the portal
        drv.get(base + "/")
        drv.find_element(By.ID, "code").send_keys(codes[1])
        drv.find_element(By.ID, "enter").click()
        _wait(drv, lambda d: d.current_url == base + "/pod/1/", 10, "the pod's page")
        drv.get(f"{base}/pod/1/terminal/pc1")
        _wait(drv, lambda d: any(x.rstrip().endswith("pc1 login:") for x in _candidate_screen(d)), 60, "login:")
        _type(drv, "root\n")
        _wait(drv, lambda d: any("Password:" in x for x in _candidate_screen(d)), 20, "Password:")
        _type(drv, PASSWORD + "\n")
        _wait(drv, lambda d: any(x.rstrip().endswith("root@pc1:~#") for x in _candidate_screen(d)), 20, "a shell")
        candidate_tab = drv.current_window_handle

        # ---- the jury's watch page: the open terminal, the desktop live
        drv.switch_to.new_window("tab")
        jury_tab = drv.current_window_handle
        drv.get(link)
        drv.get(f"{console}/pod/1/watch")
        _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, 'section.live-term[data-number="1"]')
              .get_attribute("data-state") == "live", 20, "the open terminal on the jury's page")
        _wait(drv, lambda d: any("root@pc1:~#" in x for x in _jury_screen(d, 1)), 20, "the candidate's prompt")
        t0 = time.monotonic()
        _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"]')
              .get_attribute("data-view") == "live", 120, "the desktop live")
        _wait(drv, lambda d: _lit(d) > 0.3, 120, "the desktop drawn on the jury's page")
        timings["jury: desktop drawn live (s)"] = time.monotonic() - t0
        assert drv.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"] .how').text == "en direct"
        assert drv.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"] .mode').text == "Affichage seul"

        # the candidate types; the jury sees it grow
        drv.switch_to.window(candidate_tab)
        _type(drv, "echo live-$((6*7)) vu-par-le-jury\n")
        _wait(drv, lambda d: "live-42 vu-par-le-jury" in [x.strip() for x in _candidate_screen(d)], 10, "the echo")
        typed_at = time.monotonic()
        drv.switch_to.window(jury_tab)
        _wait(drv, lambda d: "live-42 vu-par-le-jury" in [x.strip() for x in _jury_screen(d, 1)], 15,
              "the candidate's output on the jury's page")
        timings["candidate's output → jury's page (s, tab switch included)"] = time.monotonic() - typed_at
        assert any("echo live-$((6*7)) vu-par-le-jury" in x for x in _jury_screen(drv, 1))
        where = os.environ.get("TAI_LAB_SCREENSHOTS")      # docs/images/jury-watch.png
        if where:
            size = drv.get_window_size()
            drv.set_window_size(1300, 1900)            # the whole page (xterm paints what is in view)
            time.sleep(3)
            drv.save_screenshot(str(Path(where) / "jury-watch.png"))
            drv.set_window_size(size["width"], size["height"])

        # ---- the live APIs: the jury's login, this origin, a token once
        jar = {c["name"]: c["value"] for c in drv.get_cookies()}
        csrf = drv.execute_script("return document.body.dataset.csrf")
        assert _http("GET", f"{console}/api/pod/1/terminal/1/live?from=0")[0] == 401
        assert _http("GET", f"{console}/api/pod/1/terminals")[0] == 401
        assert _http("POST", f"{console}/api/pod/1/watch/pc1/live")[0] == 401
        assert _http("GET", f"{console}/api/pod/1/terminal/1/live?from=0", jar,
                     {"Origin": base})[0] == 403                                  # the portal's origin, say
        assert _http("GET", f"{console}/api/pod/1/terminal/1/live?from=0", jar,
                     {"Sec-Fetch-Site": "same-site"})[0] == 403
        status, live = _http("GET", f"{console}/api/pod/1/terminal/1/live?from=0", jar)
        assert status == 200 and isinstance(live, dict)
        assert live["node"] == "pc1" and not live["ended"] and PASSWORD not in json.dumps(live)

        def token() -> str:
            status, body = _http("POST", f"{console}/api/pod/1/watch/pc1/live", jar,
                                 {"X-CSRF-Token": csrf, "Origin": console})
            assert status == 200 and isinstance(body, dict), body
            return body["url"]

        # keys sent by hand on the jury's connection: dropped by the portal, never typed
        res = _run(lab, "rm -f /tmp/vo; systemd-run --unit=tliv-term --uid=utilisateur --setenv=DISPLAY=:0 "
                        "--setenv=LANG=fr_FR.UTF-8 xfce4-terminal --disable-server --geometry=100x20 -x bash --norc")
        assert res.ok, res.brief()
        time.sleep(4)                                   # the window maps and takes the focus
        url = token()
        assert _try_typing_through_the_view(url, "http://127.0.0.1:1", "echo x > /tmp/vo") == 403   # other origin
        assert _try_typing_through_the_view(url, console, "echo x > /tmp/vo") == 403               # used already
        assert _try_typing_through_the_view(token(), console, "echo view-only-broken > /tmp/vo") == 101
        time.sleep(1)
        assert _run(lab, "cat /tmp/vo 2>/dev/null || echo none").text == "none"
        # the jury's page is still connected (the hand-made connection asked for exclusivity: made shared)
        assert drv.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"]').get_attribute("data-view") == "live"
        # « Prendre le clavier » types in that very window
        sec = drv.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"]')
        sec.find_element(By.CSS_SELECTOR, "button.take").click()
        field = sec.find_element(By.CSS_SELECTOR, "form.keyboard input")
        field.send_keys("echo jury-ok > /tmp/vo")
        sec.find_element(By.CSS_SELECTOR, "form.keyboard button[type=submit]").click()
        time.sleep(1)
        sec.find_element(By.CSS_SELECTOR, 'form.keyboard button[data-key="Enter"]').click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _run(lab, "cat /tmp/vo 2>/dev/null").text:
            time.sleep(0.3)
        assert _run(lab, "cat /tmp/vo").text == "jury-ok"
        _run(lab, "systemctl stop tliv-term.service || true")
        views = [e for e in _events(lab) if e["event"] in ("jury-view-start", "jury-view-end")]
        assert [e for e in views if e["event"] == "jury-view-end" and e.get("dropped", {}).get("key", 0) >= 2]
        assert all(e["actor"].startswith("web:") for e in views)
        assert {e.get("reason") for e in _events(lab) if e["event"] == "refused"} >= {"jury-token", "cross-site"}

        # ---- the portal is killed with the terminal open
        cast = recordings_dir(lab.evidence(1)) / next(e["recording"] for e in _events(lab)
                                                      if e["event"] == "session-start")
        time.sleep(1)
        os.killpg(portal.pid, signal.SIGKILL)
        portal.wait(20)
        killed_at = time.time()
        digest = hashlib.sha256(cast.read_bytes()).hexdigest()
        assert not [e for e in _events(lab) if e["event"] == "session-end"]
        status, body = _http("GET", f"{console}/api/pod/1/terminals", jar)
        assert status == 200 and isinstance(body, dict)
        terms = body["terminals"]
        assert [(t["live"], t["end"]) for t in terms] == [(False, "interrompue (portail arrêté)")]
        header_t = json.loads(cast.read_text().splitlines()[0])["timestamp"]
        last = json.loads(cast.read_text().splitlines()[-1])[0]
        assert terms[0]["seconds"] == round(last, 1) and header_t + last <= killed_at
        _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, 'section.live-term[data-number="1"]')
              .get_attribute("data-state") == "ended", 20, "the jury's terminal shown ended")
        assert "interrompue (portail arrêté)" in drv.find_element(By.CSS_SELECTOR, 'section.live-term h3').text
        _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"]')
              .get_attribute("data-view") == "pictures", 30, "the desktop back to pictures")
        _wait(drv, lambda d: int(d.find_element(By.CSS_SELECTOR, 'section.watch[data-node="pc1"]')
                                 .get_attribute("data-frames") or 0) >= 1, 60, "a picture")
        drv.switch_to.window(candidate_tab)
        drv.close()
        drv.switch_to.window(jury_tab)

        # ---- the next portal records that end: appended, once; the recording untouched
        with portal_process(LAB, tmp_path / "portal2.log"):
            ends = [e for e in _events(lab) if e["event"] == "session-end"]
            assert [(e["reason"], e["seconds"], e["recording"]) for e in ends] == [
                ("interrupted", round(last, 1), cast.name)]
            assert ends[0]["last_output"] and ends[0]["found_at"] == "portal-start"
        assert hashlib.sha256(cast.read_bytes()).hexdigest() == digest
        fr = report.render_html(lab, 1)
        en = report.render_html(lab, 1, lang="en")
        assert "interrompue (portail arrêté)" in fr and "sans fin enregistrée" not in fr
        assert "interrupted (portal stopped)" in en and "echo live-$((6*7)) vu-par-le-jury" in fr
    print("\njury live timings:", json.dumps({k: round(v, 3) for k, v in timings.items()}, ensure_ascii=False))
