"""The candidates' desktops on a real 2-pod plateau, in headless Chromium.

Pod 1's candidate opens pc1's desktop: noVNC draws it (the canvas is not black), keys of a
French AZERTY keyboard arrive as typed (a terminal on the desktop writes them to a file the
test reads back from inside the node), and from that desktop neither the host (the portal's
own port) nor pod 2 answers. Pod 1's code is refused on pod 2's desktop; a client with the
candidate's cookies but another Origin, or none, cannot open the desktop's WebSocket. The
prep seal ends the open desktop within a second, and no desktop session survives it (the
machine boots for the jury without one). Connection times are in the pod's evidence log.
Set TAI_LAB_SCREENSHOTS=<dir> to keep the screenshots (docs/images/ has them).
Lab name: tdsk (+ TAI_LAB_TEST_TAG).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT, headless_chromium, lab_name, standard_lab, stations_portal

LAB = lab_name("tdsk")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
aiohttp = pytest.importorskip("aiohttp", reason="the portal's dependency")
if not (CHROMIUM and DRIVER):
    pytest.skip("Debian's chromium and chromium-driver are needed (scripts/install-host-deps.sh)",
                allow_module_level=True)

from selenium.common.exceptions import JavascriptException, NoSuchElementException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# A French AZERTY keyboard: the character → (the physical key's `code`, Shift held).
# Digits need Shift; the digit row without it gives & é " ' ( - è _ ç à ) =.
AZERTY: dict[str, tuple[str, bool]] = {
    **{c: (f"Key{c.upper()}", False) for c in "bcdefghijklnoprstuvxy"},
    "a": ("KeyQ", False), "q": ("KeyA", False), "z": ("KeyW", False), "w": ("KeyZ", False),
    "m": ("Semicolon", False), ",": ("KeyM", False), "?": ("KeyM", True), ";": ("Comma", False),
    ".": ("Comma", True), ":": ("Period", False), "/": ("Period", True), "!": ("Slash", False),
    "&": ("Digit1", False), "é": ("Digit2", False), '"': ("Digit3", False), "'": ("Digit4", False),
    "(": ("Digit5", False), "-": ("Digit6", False), "è": ("Digit7", False), "_": ("Digit8", False),
    "ç": ("Digit9", False), "à": ("Digit0", False), ")": ("Minus", False), "=": ("Equal", False),
    "$": ("BracketRight", False), "ù": ("Quote", False), "*": ("Backslash", False),
    "<": ("IntlBackslash", False), ">": ("IntlBackslash", True), " ": ("Space", False),
    "\n": ("Enter", False),
    **{str(d): (f"Digit{d}", True) for d in range(10)},
}
AZERTY.update({c.upper(): (AZERTY[c][0], True) for c in "abcdefghijklmnopqrstuvwxyz"})


def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tai_lab.cli", *args, "--lab", LAB], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, f"tai-lab {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def desktop_lab(lab_home, tmp_path_factory):
    with standard_lab(LAB, 2, tmp_path_factory.mktemp("scenario")) as lab:
        lab.set_phase("prep")
        yield lab


@pytest.fixture(scope="module")
def portal(desktop_lab, tmp_path_factory):
    with stations_portal(LAB, tmp_path_factory.mktemp("portal") / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    drv = headless_chromium("1400,950")
    yield drv
    drv.quit()


def _shot(drv, name: str) -> None:
    where = os.environ.get("TAI_LAB_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(where) / name))


def _wait(drv, cond, timeout: float, what: str):
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.1,
                             ignored_exceptions=(NoSuchElementException, JavascriptException)).until(cond)
    except Exception as exc:
        drv.save_screenshot(str(Path(os.environ.get("TMPDIR", "/tmp")) / "tdsk-failure.png"))
        raise AssertionError(f"timed out waiting for {what}") from exc


def _lit(drv) -> float:
    """The share of the desktop's canvas that is not black (what noVNC has drawn)."""
    return drv.execute_script("""
        const c = document.querySelector('#screen canvas');
        if (!c || !c.width) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4 * 7) if (d[i] + d[i + 1] + d[i + 2] > 30) lit++;
        return lit / (d.length / (4 * 7));""")


def _press(drv, ch: str) -> None:
    """One key of an AZERTY keyboard, as Chromium gets it from the system (key, code, text)."""
    code, shift = AZERTY[ch]
    key = "Enter" if ch == "\n" else ch
    text = "\r" if ch == "\n" else ch
    mods = 8 if shift else 0
    if shift:
        drv.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": "Shift", "code": "ShiftLeft",
                                                       "windowsVirtualKeyCode": 16, "modifiers": 8})
    drv.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "text": text,
                                                   "unmodifiedText": text, "modifiers": mods})
    drv.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "modifiers": mods})
    if shift:
        drv.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Shift", "code": "ShiftLeft",
                                                       "windowsVirtualKeyCode": 16, "modifiers": 0})


def _type(drv, text: str) -> None:
    for ch in text:
        _press(drv, ch)
        time.sleep(0.02)


def _run(lab, pod: int, node: str, script: str):
    return lab.backend.transport(pod, node).run(["sh", "-c", script], timeout=60)


def _ws_status(base: str, path: str, cookies: dict, origin: str | None) -> int:
    import asyncio

    async def go() -> int:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession(cookies=cookies) as s:
            try:
                ws = await s.ws_connect(base + path, headers=headers)
            except aiohttp.WSServerHandshakeError as e:
                return e.status
            await ws.close()
            return 101
    return asyncio.run(go())


def _events(lab, pod: int = 1) -> list[dict]:
    path = lab.state.dir / "evidence" / f"pod-{pod}.jsonl"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["kind"] == "station"]


def _open_desktop(drv, base: str) -> float:
    """Open pc1's desktop; the seconds until it is drawn."""
    t0 = time.monotonic()
    drv.get(f"{base}/pod/1/desktop/pc1")
    _wait(drv, lambda d: _lit(d) > 0.3, 180, "the desktop drawn")
    return time.monotonic() - t0


def test_candidate_desktop(desktop_lab, portal, browser):
    lab, drv, base = desktop_lab, browser, portal
    timings: dict[str, float] = {}
    codes = {c["pod"]: c["code"] for c in json.loads(_cli("stations", "codes", "--json"))}

    drv.get(base + "/")
    drv.find_element(By.ID, "code").send_keys(codes[1])
    drv.find_element(By.ID, "enter").click()
    _wait(drv, lambda d: d.current_url == base + "/pod/1/", 10, "the pod's page")
    assert drv.find_element(By.ID, "desktop-pc1").text == "Ouvrir le bureau"
    assert not drv.find_elements(By.ID, "desktop-srv") and not drv.find_elements(By.ID, "desktop-pc2")
    _shot(drv, "portal-pod.png")
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}

    # ---- pod 1's code on pod 2's desktop: refused (page and WebSocket); no Origin / another: refused
    drv.get(base + "/pod/2/desktop/pc1")
    assert "pas celle de votre pod" in drv.page_source
    assert _ws_status(base, "/pod/2/vnc/pc1", cookies, base) == 403
    assert _ws_status(base, "/pod/1/vnc/pc1", cookies, "http://127.0.0.1:1") == 403
    assert _ws_status(base, "/pod/1/vnc/pc1", cookies, None) == 403
    assert _ws_status(base, "/pod/1/vnc/pc1", {}, base) == 401

    # ---- the desktop, drawn
    timings["desktop drawn (first: starts the session)"] = _open_desktop(drv, base)
    time.sleep(3)                                  # the panel and icons settle, for the picture
    _shot(drv, "desktop.png")
    assert drv.find_element(By.ID, "desktop-state").text == "connecté"
    assert _run(lab, 1, "pc1", "hostname -f").text == "pc1.pod1.tai.lan"
    units = _run(lab, 1, "pc1", "systemctl is-active tai-desktop.service tai-desktop-session.service").text
    assert units.split() == ["active", "active"]
    listen = _run(lab, 1, "pc1", "ss -Htln 'sport = :5900'").text
    assert listen and all(line.split()[3].startswith(("127.0.0.1:", "[::1]:")) for line in listen.splitlines()), listen

    # ---- AZERTY: a terminal on the desktop (as its user), keys typed as on a French keyboard
    res = _run(lab, 1, "pc1", "rm -f /tmp/typed /tmp/net; systemd-run --unit=tdsk-term --uid=utilisateur "
               "--setenv=DISPLAY=:0 --setenv=LANG=fr_FR.UTF-8 xfce4-terminal --disable-server "
               "--geometry=100x20 -x bash --norc")
    assert res.ok, res.brief()
    time.sleep(4)                                  # the window maps and takes the focus
    drv.execute_script("window.taiRfb.focus()")
    typed = "azqwm AZERTY àéèçù &\"'(-_)= ;:!,?./ $*<> 0123456789"
    _type(drv, "echo '" + typed.replace("'", "'\"'\"'") + "' > /tmp/typed\n")
    port = base.rsplit(":", 1)[1]
    # From the desktop: the host's portal (loopback is the node's own) and pod 2's server.
    _type(drv, f"curl -sm 3 -o /dev/null http://127.0.0.1:{port}/; echo host=$? > /tmp/net; "
               "curl -sm 3 -o /dev/null http://10.2.20.10/; echo pod2=$? >> /tmp/net\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "pod2=" not in _run(lab, 1, "pc1", "cat /tmp/net 2>/dev/null").text:
        time.sleep(0.5)
    _shot(drv, "desktop-terminal.png")
    assert _run(lab, 1, "pc1", "cat /tmp/typed").stdout == typed + "\n"
    net = dict(line.split("=") for line in _run(lab, 1, "pc1", "cat /tmp/net").text.splitlines())
    assert net["host"] == "7", net                 # refused: the node's own loopback, not the host's
    assert net["pod2"] not in ("0", ""), net       # pod 2 is out of reach (no route or timeout)

    # ---- the jury watches it (view-only) and, keyboard taken, types in that terminal
    from tai_lab.jury.service import JuryService
    from tai_lab.jury.web import create_app
    from tai_lab.lab import Lab
    jury = create_app(JuryService(lambda: Lab(LAB)), "jury-key").test_client()
    assert jury.get("/pod/1/watch/pc1/screen.png").status_code == 401            # no jury login
    jury.get("/login?key=jury-key")
    assert 'id="watch-link"' in jury.get("/pod/1").text
    page = jury.get("/pod/1/watch").text
    assert "Affichage seul" in page and "Prendre le clavier" in page
    shot = jury.get("/pod/1/watch/pc1/screen.png")
    assert shot.status_code == 200 and shot.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.headers["X-Screen-Size"] == "1280x800"
    with jury.session_transaction() as sess:
        csrf = sess["csrf"]
    assert jury.post("/api/pod/1/watch/pc1/keys", json={"text": "x"}).status_code == 403      # no token
    r = jury.post("/api/pod/1/watch/pc1/keys", json={"text": "echo jury-ok-é > /tmp/jury", "keys": ["Enter"]},
                  headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not _run(lab, 1, "pc1", "cat /tmp/jury 2>/dev/null").text:
        time.sleep(0.3)
    assert _run(lab, 1, "pc1", "cat /tmp/jury").text == "jury-ok-é"
    # the jury's page in the browser: the pictures load (the console's CSP allows them)
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{LAB}-serve.log"
    serve = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", LAB, "--listen", "127.0.0.1:0"],
                             stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/login\?key=(\S+)", log.read_text())):
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        drv.execute_script("window.open(arguments[0], '_blank')", f"{m.group(1)}/login?key={m.group(2)}")
        drv.switch_to.window(drv.window_handles[-1])
        drv.get(f"{m.group(1)}/pod/1/watch")
        # the portal runs: the desktop is live there (noVNC through the portal, view-only)
        _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, "section.watch").get_attribute("data-view") == "live",
              60, "the desktop live on the jury's page")
        _wait(drv, lambda d: d.execute_script("const c = document.querySelector('section.watch canvas'); "
                                              "return c ? c.width : 0") == 1280, 60, "the jury's canvas")
        drv.close()
        drv.switch_to.window(drv.window_handles[0])
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(20)
    typed_by_jury = [e for e in _events(lab) if e["event"] == "jury-keyboard"]
    assert typed_by_jury and typed_by_jury[-1]["characters"] == 26 and "jury-ok" not in json.dumps(typed_by_jury)
    _run(lab, 1, "pc1", "systemctl stop tdsk-term.service || true")

    # ---- the seal ends the open desktop within a second; no desktop session survives it
    from tai_lab.prep import seal
    done = threading.Event()
    th = threading.Thread(target=lambda: (seal.seal(lab, 1), done.set()))
    th.start()
    _wait(drv, lambda d: d.find_element(By.ID, "screen").get_attribute("data-closed"), 30, "the seal's close")
    seen_at = time.time()
    th.join(300)
    assert done.is_set()
    t_event = next(r["t"] for r in lab.state.journal.records() if r.get("kind") == "prep-seal-begin")
    timings["seal → desktop ended, seen by the test (s)"] = seen_at - t_event
    assert seen_at - t_event < 1.5
    assert "scellé" in drv.find_element(By.ID, "ended-why").text
    assert _ws_status(base, "/pod/1/vnc/pc1", cookies, base) == 403
    lab.set_phase("jury")
    state = _run(lab, 1, "pc1", "systemctl is-active tai-desktop.service tai-desktop-session.service; "
                 "pgrep -c Xvnc || true").text.split()
    assert state == ["inactive", "inactive", "0"], state
    timings["desktop drawn (jury, node rebooted)"] = _open_desktop(drv, base)

    events = _events(lab)
    starts = [e for e in events if e["event"] == "desktop-start"]
    ends = [e for e in events if e["event"] == "desktop-end"]
    assert len(starts) >= 2 and all(e["node"] == "pc1" for e in starts)
    assert "closed:seal" in {e["reason"] for e in ends}
    refused = {(e.get("reason"), e.get("path")) for e in events if e["event"] == "refused"}
    assert ("cross-site", "/pod/1/vnc/pc1") in refused
    assert any(e.get("asked_pod") == 2 for e in events if e["event"] == "refused")
    print("\ndesktop timings:", json.dumps({k: round(v, 3) for k, v in timings.items()}, ensure_ascii=False))
