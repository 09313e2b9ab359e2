"""The candidates' portal on a real 1-pod plateau, in headless Chromium (Selenium + chromedriver).

A candidate types pod 1's code, opens a terminal on pc1, logs in as the scenario's account
and reads ``pc1`` from ``hostname`` on xterm's screen; UTF-8 and the terminal's size come
through; from that terminal the portal's own port on the host's loopback is out of reach.
Pod 1's session is refused on pod 2's pages; a page of another origin (same site, other
port) cannot open the terminal's WebSocket nor POST; nothing opens without a session. The
trainer's close and the prep seal end the open terminal within a second and the portal
refuses it until the jury phase opens it again; a reset closes it and replaces the code.
Sessions are recorded (asciicast) and every step is in the pod's evidence log.
Lab name: tstn (+ TAI_LAB_TEST_TAG).
"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, headless_chromium, lab_name, standard_lab, stations_portal

LAB = lab_name("tstn")
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


def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tai_lab.cli", *args, "--lab", LAB], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, f"tai-lab {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def _code() -> str:
    return json.loads(_cli("stations", "codes", "--json"))[0]["code"]


@pytest.fixture(scope="module")
def stations_lab(lab_home, tmp_path_factory):
    with standard_lab(LAB, 1, tmp_path_factory.mktemp("scenario")) as lab:
        lab.set_phase("prep")
        yield lab


@pytest.fixture(scope="module")
def portal(stations_lab, tmp_path_factory):
    with stations_portal(LAB, tmp_path_factory.mktemp("portal") / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    drv = headless_chromium("1200,900")
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def other_origin():
    """A page of another origin on the same site (127.0.0.1, another port): it tries the
    portal's WebSocket and a POST with the candidate's cookies, which SameSite lets through."""
    page = b"""<!doctype html><html><body><form id="f" method="post" target="sink"><input name="lang"
value="en"><input name="csrf" value="guess"></form><iframe name="sink"></iframe><script>
const portal = decodeURIComponent(location.hash.slice(1));
document.title = 'pending';
const ws = new WebSocket(portal.replace('http:', 'ws:') + '/pod/1/ws/pc1');
ws.onopen = () => { document.title = 'OPENED'; };
ws.onclose = ws.onerror = () => { if (document.title !== 'OPENED') document.title = 'refused'; };
const f = document.getElementById('f'); f.action = portal + '/lang'; f.submit();
</script></body></html>"""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()


def _wait(drv, cond, timeout: float, what: str):
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException, JavascriptException)).until(cond)
    except Exception as exc:
        drv.save_screenshot(str(Path(os.environ.get("TMPDIR", "/tmp")) / "tstn-failure.png"))
        raise AssertionError(f"timed out waiting for {what}; screen:\n" + "\n".join(_screen(drv))) from exc


def _screen(drv) -> list[str]:
    try:
        return drv.execute_script("""
            const b = window.taiTerm.buffer.active, out = [];
            for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
            return out;""") or []
    except Exception:  # noqa: BLE001
        return []


def _type(drv, text: str) -> None:
    drv.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(text)


def _closed(drv) -> str | None:
    return drv.execute_script("return document.getElementById('term').dataset.closed || null")


def _enter_code(drv, base: str, code: str) -> None:
    drv.get(base + "/")
    drv.find_element(By.ID, "code").send_keys(code)
    drv.find_element(By.ID, "enter").click()


def _terminal(drv, base: str, node: str = "pc1") -> float:
    """Open the node's terminal and log in; the seconds to the login prompt."""
    t0 = time.monotonic()
    drv.get(f"{base}/pod/1/terminal/{node}")
    _wait(drv, lambda d: any(line.rstrip().endswith(f"{node} login:") for line in _screen(d)), 60, "login:")
    prompt = time.monotonic() - t0
    _type(drv, "root\n")
    _wait(drv, lambda d: any("Password:" in line for line in _screen(d)), 20, "Password:")
    _type(drv, PASSWORD + "\n")
    _wait(drv, lambda d: any(line.rstrip().endswith(f"root@{node}:~#") for line in _screen(d)), 20, "a shell")
    return prompt


def _ws_status(base: str, cookies: dict, origin: str | None) -> int:
    """The WebSocket handshake's answer to a client holding the browser's cookies."""
    import asyncio

    async def go() -> int:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession(cookies=cookies) as s:
            try:
                ws = await s.ws_connect(base + "/pod/1/ws/pc1", headers=headers)
            except aiohttp.WSServerHandshakeError as e:
                return e.status
            await ws.close()
            return 101
    return asyncio.run(go())


def _events(lab) -> list[dict]:
    path = lab.state.dir / "evidence" / "pod-1.jsonl"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["kind"] == "station"]


def _closed_at(drv, what: str) -> float:
    """When the browser saw its terminal end (epoch seconds, the page's own clock)."""
    _wait(drv, lambda d: _closed(d), 30, what)
    return int(drv.execute_script("return document.getElementById('term').dataset.closedAt")) / 1000


def test_candidate_terminal_follows_the_exam(stations_lab, portal, browser, other_origin):
    lab, drv, base = stations_lab, browser, portal
    timings: dict[str, float] = {}

    # ---- nothing without a session
    with urllib.request.urlopen(base + "/pod/1/") as r:          # redirected to the code page
        assert r.url == base + "/" and "accès de votre pod" in r.read().decode()
    req = urllib.request.Request(base + "/pod/1/state")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 401
    assert _ws_status(base, {}, base) == 401

    # ---- a wrong code, then pod 1's code
    code = _code()
    _enter_code(drv, base, "ZZZZ-ZZZZ-ZZZZ")
    _wait(drv, lambda d: "Code inconnu" in d.find_element(By.ID, "error").text, 10, "a wrong code refused")
    _enter_code(drv, base, code.lower())
    _wait(drv, lambda d: d.current_url == base + "/pod/1/", 10, "the pod's page")
    names = [e.get_attribute("data-node") for e in drv.find_elements(By.CSS_SELECTOR, "li.machine")]
    assert names == ["srv", "pc1", "pc2"]                         # never the router, switch, AP, ISP
    assert "ouvert" in drv.find_element(By.ID, "access-state").text
    drv.get(base + "/pod/2/")                                      # pod 1's code on pod 2's pages
    assert "pas celle de votre pod" in drv.page_source
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}

    # ---- a terminal on pc1: login, hostname, UTF-8, size
    timings["login prompt (first, provisions the node)"] = _terminal(drv, base)
    _type(drv, "hostname; echo ok-$((6*7)) héllo; stty size\n")
    _wait(drv, lambda d: "pc1" in [line.strip() for line in _screen(d)], 10, "pc1 on the screen")
    screen = _screen(drv)
    assert "ok-42 héllo" in [line.strip() for line in screen]
    cols, rows = drv.execute_script("return [window.taiTerm.cols, window.taiTerm.rows]")
    assert f"{rows} {cols}" in [line.strip() for line in screen]

    # ---- from the terminal, the host is out of reach (the portal's own port on loopback)
    port = base.rsplit(":", 1)[1]
    _type(drv, f"curl -sS -m 3 -o /dev/null http://127.0.0.1:{port}/; echo rc=$?\n")
    _wait(drv, lambda d: any(line.strip().startswith("rc=") for line in _screen(d)), 15, "curl's result")
    rc = next(line.strip() for line in _screen(drv) if line.strip().startswith("rc="))
    assert rc == "rc=7", rc                                        # connection refused: its own loopback

    # ---- another origin: no WebSocket, no POST; a client with the cookies and a foreign Origin: 403
    drv.execute_script("window.open(arguments[0], '_blank')", other_origin + "#" + base)
    drv.switch_to.window(drv.window_handles[-1])
    _wait(drv, lambda d: d.title in ("refused", "OPENED"), 10, "the other origin's WebSocket")
    assert drv.title == "refused"
    drv.close()
    drv.switch_to.window(drv.window_handles[0])
    assert _ws_status(base, cookies, "http://127.0.0.1:1") == 403
    assert _ws_status(base, cookies, None) == 403
    assert _ws_status(base, cookies, base) == 101                  # the same cookies, this origin
    drv.get(base + "/pod/1/")
    assert "Pod 1 — vos machines" in drv.page_source              # still French: the POST was refused

    # ---- the trainer closes the pod: the terminal ends within a second, and stays refused
    _terminal(drv, base)
    _cli("stations", "close", "--pod", "1")
    t_event = next(r["cause_t"] for r in reversed(_events(lab)) if r.get("cause") == "stations-close")
    seen = _closed_at(drv, "the close") - t_event
    timings["close → terminal ended (s)"] = seen
    assert seen < 1.0
    assert "fermé par le formateur" in _closed(drv)
    assert _ws_status(base, cookies, base) == 403
    _cli("stations", "open", "--pod", "1")

    # ---- the prep seal closes it before the machines go off; the jury phase opens it again
    _terminal(drv, base)
    from tai_lab.prep import seal
    done = threading.Event()
    th = threading.Thread(target=lambda: (seal.seal(lab, 1), done.set()))
    th.start()
    seen_at = _closed_at(drv, "the seal's close")
    th.join(300)
    assert done.is_set()
    t_event = next(r["t"] for r in lab.state.journal.records() if r.get("kind") == "prep-seal-begin")
    timings["seal → terminal ended (s)"] = seen_at - t_event
    assert seen_at - t_event < 1.0
    assert "scellé" in _closed(drv)
    assert _ws_status(base, cookies, base) == 403
    lab.set_phase("jury")
    timings["login prompt (jury, node rebooted)"] = _terminal(drv, base)
    _type(drv, "hostname\n")
    _wait(drv, lambda d: [line.strip() for line in _screen(d)].count("pc1") >= 1, 10, "pc1 again")

    # ---- a reset closes it and replaces the code: the old session and the old code are refused
    lab.reset(1, confirm_open_session=True)
    _wait(drv, lambda d: _closed(d), 30, "the reset's close")
    assert _code() != code
    drv.get(base + "/pod/1/")
    assert drv.current_url == base + "/"                           # the session died with its code
    _enter_code(drv, base, code)
    _wait(drv, lambda d: "Code inconnu" in d.find_element(By.ID, "error").text, 10, "the old code refused")

    # ---- recorded: every session, with the machine; the evidence log has it all
    rec = json.loads(_cli("stations", "recordings", "--json"))
    assert len(rec) >= 4 and {r["node"] for r in rec} == {"pc1"}
    texts = [Path(r["file"]).read_text() for r in rec]
    assert all('"version": 2' in x.splitlines()[0] and PASSWORD not in x for x in texts)
    assert any("ok-42 héllo" in x for x in texts)      # what the candidate saw, in one of them
    events = _events(lab)
    kinds = {(e["event"], e.get("reason")) for e in events}
    for want in (("open", "prep"), ("close", "manual-close"), ("open", "manual-open"), ("close", "seal"),
                 ("open", "jury"), ("close", "reset"), ("refused", "other-pod"), ("refused", "cross-site"),
                 ("refused", "closed")):
        assert want in kinds, want
    ends = [e for e in events if e["event"] == "session-end"]
    # (the handshake test above opened one without logging in: no account)
    assert {e["account"] for e in ends if e["reason"].startswith("closed:")} == {"root"}
    assert {e["reason"] for e in ends} >= {"closed:manual-close", "closed:seal", "closed:reset"}
    print("\nportal timings:", json.dumps({k: round(v, 3) for k, v in timings.items()}, ensure_ascii=False))
