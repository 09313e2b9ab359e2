"""The jury's console on a real 1-pod plateau, in headless Chromium (Selenium + chromedriver).

Open the console with its login link, name the candidate, pick an intervention, inject,
see "not fixed", fix it with `tai-lab exec`, see "fixed" without reloading, add a note,
tick a criterion, print the report (PDF text checked with pdftotext). Then the evidence
log survives a restart of `tai-lab serve` and a kill of it in the middle of an inject.

Screenshots go to a temporary directory, or to docs/console-*.png when TAI_LAB_SCREENSHOTS=docs
(to refresh the ones in the repository). Lab name: tweb. For a quicker loop while developing,
TAI_TEST_REUSE_LAB_HOME=<a TAI_LAB_HOME where tweb is already up> reuses that lab.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, headless_chromium, lab_name

LAB = lab_name("tweb")
# The repository's screenshots are refreshed on request only: a test run leaves the checkout as it was.
DOCS = ROOT / "docs" if os.environ.get("TAI_LAB_SCREENSHOTS") == "docs" else \
    Path(os.environ.get("TMPDIR", "/tmp")) / "tai-lab-console-screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
if not (CHROMIUM and DRIVER):
    pytest.skip("Debian's chromium and chromium-driver are needed (scripts/install-host-deps.sh)",
                allow_module_level=True)

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def _cli(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                         env=env, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"tai-lab {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


class Serve:
    """`tai-lab serve` in its own process group (killed as a whole, like Ctrl-C or systemd would)."""

    def __init__(self, workdir: Path) -> None:
        self.out = workdir / f"serve-{time.monotonic_ns()}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", LAB, "--listen",
                                      "127.0.0.1:0"], stdout=self.out.open("w"), stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            m = re.search(r"(http://\S+)/login\?key=(\S+)", self.out.read_text())
            if m:
                self.base, self.link = m.group(1), m.group(0)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("serve did not start:\n" + self.out.read_text())
            time.sleep(0.1)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(20)


@pytest.fixture(scope="module")
def web_lab(lab_home, tmp_path_factory):
    from tai_lab.lab import Lab
    reuse = os.environ.get("TAI_TEST_REUSE_LAB_HOME")
    if reuse:
        old = os.environ["TAI_LAB_HOME"]
        os.environ["TAI_LAB_HOME"] = reuse
        try:
            yield Lab(LAB)
        finally:
            os.environ["TAI_LAB_HOME"] = old
        return
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    scenario = tmp_path_factory.mktemp("scenario") / "tweb.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.MULTILINE))
    try:
        lab = Lab.up(scenario, pods=1, progress=print)
        lab.set_phase("jury")
        yield lab
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)


@pytest.fixture(scope="module")
def browser():
    drv = headless_chromium("1500,1150")
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("console")


@pytest.fixture
def serves(workdir):
    """Start `tai-lab serve`; every one started is stopped at the end, also when the test fails."""
    started: list[Serve] = []

    def start() -> Serve:
        started.append(Serve(workdir))
        return started[-1]
    yield start
    for s in started:
        s.kill()


def _wait(drv, cond, timeout: float, what: str):
    try:
        # the page may reload under us (a new candidate): elements go stale, then come back
        return WebDriverWait(drv, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                             ).until(lambda d: cond(d))
    except Exception as exc:
        DOCS.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(os.environ.get("TMPDIR", "/tmp")) / "tweb-failure.png"))
        raise AssertionError(f"timed out waiting for {what}") from exc


def _status(drv, iid: str) -> str | None:
    cards = drv.find_elements(By.CSS_SELECTOR, f"#card-{iid}")
    return cards[0].get_attribute("data-status") if cards else None


def _records(lab) -> list[dict]:
    path = lab.state.dir / "evidence" / "pod-1.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _shot(drv, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    drv.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    drv.save_screenshot(str(DOCS / name))


def _login(drv, serve: Serve) -> None:
    drv.get(serve.link)
    _wait(drv, lambda d: d.find_elements(By.ID, "overview"), 20, "the overview")


def _inject(drv, iid: str, variant: str) -> None:
    row = drv.find_element(By.CSS_SELECTOR, f'tr.iv[data-id="{iid}"]')
    if not row.is_displayed():
        todo = drv.find_element(By.ID, "filter-todo")      # "not yet evaluated" hides it: show all
        if todo.is_selected():
            todo.click()
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    _wait(drv, lambda d: d.find_element(By.ID, "pick-body").is_displayed(), 5, "the picked intervention")
    Select(drv.find_element(By.ID, "pick-variant")).select_by_value(variant)
    drv.find_element(By.ID, "pick-inject").click()


def _visible_text(drv) -> str:
    """What a jury member reads (closed <details> and hidden elements are not in it)."""
    return drv.find_element(By.TAG_NAME, "body").text


def _in_view(drv, element_id: str) -> bool:
    return drv.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;", element_id)


# Internal identifiers a jury member must not read (intervention and variant ids of the flow,
# an action's English name, a command line).
IDENTIFIERS = ("intranet-down", "service-stopped", "page-missing", "printer-offline", "dns-failure",
               "$ ", "getent", "curl ", "web:jury", "inject ", "restore ")


def test_browser_flow(web_lab, browser, workdir, serves):
    drv = browser
    serve = serves()
    try:
        # refused without the secret
        drv.get(serve.base + "/pod/1")
        assert "lien de connexion" in drv.page_source and "Injecter" not in drv.page_source
        _login(drv, serve)
        drv.get(serve.base + "/pod/1")
        drv.find_element(By.ID, "candidate-input").send_keys("Camille Dupont")
        drv.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
        _wait(drv, lambda d: d.find_element(By.ID, "candidate-name").text == "Camille Dupont", 10, "the name")
        drv.find_element(By.ID, "timer-start").click()
        _wait(drv, lambda d: d.find_element(By.ID, "timer").text not in ("", "00:00"), 10, "the timer")
        drv.execute_script("window.__sameDocument = 42")

        t0 = time.monotonic()
        _inject(drv, "intranet-down", "service-stopped")
        _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 120, "EN PANNE")
        inject_to_broken = time.monotonic() - t0
        card = drv.find_element(By.ID, "card-intranet-down")
        # the check's evidence in words, seen from the user's machine; the command folded away
        assert "EN PANNE" in card.text and "✗ La page http://intranet.pod1." in card.text, card.text
        assert "ne s’affiche pas sur pc1" in card.text
        assert "Serveur web arrêté" in card.text                         # the variant's title
        text = _visible_text(drv)
        assert not [i for i in IDENTIFIERS if i in text], [i for i in IDENTIFIERS if i in text]
        card.find_element(By.CSS_SELECTOR, "details.raw summary").click()  # unless the jury asks
        _wait(drv, lambda d: "curl" in d.find_element(By.ID, "card-intranet-down").text, 5, "the details")
        card.find_element(By.CSS_SELECTOR, "details.raw summary").click()
        _shot(drv, "console-session-broken.png")

        t1 = time.monotonic()
        _cli("exec", "--lab", LAB, "1", "srv", "sh", "-c", "systemctl enable --now nginx")
        _wait(drv, lambda d: _status(d, "intranet-down") == "fixed", 60, "RÉPARÉ")
        fix_to_fixed = time.monotonic() - t1
        assert drv.execute_script("return window.__sameDocument") == 42   # no reload
        card_text = drv.find_element(By.ID, "card-intranet-down").text
        fixed_in = re.search(r"RÉPARÉE en (\d\d:\d\d)", card_text)
        assert fixed_in, card_text
        assert fixed_in.group(0) in drv.find_element(By.ID, "faults").text   # the session bar agrees
        assert "Depuis l’injection" not in card_text                      # that clock stopped at the repair

        card = drv.find_element(By.ID, "card-intranet-down")
        card.find_element(By.CSS_SELECTOR, "textarea.note").send_keys("A vérifié le service nginx avec systemctl.")
        card.find_element(By.CSS_SELECTOR, "button.save-note").click()
        _wait(drv, lambda d: "systemctl." in d.find_element(By.CSS_SELECTOR, "#card-intranet-down ul.notes").text,
              10, "the note")
        card.find_element(By.CSS_SELECTOR, "details.competency summary").click()   # criteria per competency
        box = card.find_elements(By.CSS_SELECTOR, "input.criterion")[0]
        box.click()
        _wait(drv, lambda d: any(r["kind"] == "criterion" and r["checked"] for r in _records(web_lab)), 10,
              "the criterion in the log")
        _shot(drv, "console-session-fixed.png")

        # the report: from the console (signed-in browser session) and from the CLI
        cookie = drv.get_cookie("tai_jury")["value"]
        req = urllib.request.Request(serve.base + "/pod/1/report?format=pdf", headers={"Cookie": f"tai_jury={cookie}"})
        pdf_web = urllib.request.urlopen(req, timeout=60).read()
        assert pdf_web.startswith(b"%PDF")
        out = workdir / "rapport.pdf"
        _cli("report", "--lab", LAB, "--pod", "1", "--format", "pdf", "-o", str(out))
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout
        for expected in ("Camille Dupont", "Site intranet inaccessible", "Serveur web arrêté",
                         "A vérifié le service nginx avec systemctl.", "réparé à", "☑",
                         "Synthèse par compétence", "s’affiche sur pc1", fixed_in.group(1)):
            assert expected in text, expected
        assert "☐" not in text and "service-stopped" not in text       # only what was ticked; no id
        shutil.copy(out, workdir / "keep.pdf")

        drv.get(serve.base + "/")
        _wait(drv, lambda d: "Site intranet inaccessible — réparée" in d.find_element(By.ID, "overview").text, 10,
              "the overview")
        assert re.search(r"\d\d:\d\d / 40:00", drv.find_element(By.ID, "overview").text)   # the timer column
        _shot(drv, "console-overview.png")
        drv.get(serve.base + "/pod/1")
        _wait(drv, lambda d: _status(d, "intranet-down") == "fixed", 20, "the card again")
        drv.find_element(By.CSS_SELECTOR, "#card-intranet-down button.restore").click()
        _wait(drv, lambda d: _status(d, "intranet-down") == "restored", 120, "restored")
        # restored, and the repair stays visible
        assert f"avait été réparée en {fixed_in.group(1)}" in drv.find_element(By.ID, "card-intranet-down").text
        drv.get(serve.base + "/pod/1/history")
        assert "Camille Dupont" in drv.page_source
        text = _visible_text(drv)
        assert "Site intranet inaccessible" in text and not [i for i in IDENTIFIERS if i in text]
        _shot(drv, "console-history.png")
    finally:
        serve.kill()
    recs = _records(web_lab)
    kinds = [r["kind"] for r in recs]
    for k in ("candidate", "timer", "inject-begin", "inject", "check", "note", "criterion", "restore"):
        assert k in kinds, (k, kinds)
    assert next(r for r in recs if r["kind"] == "inject")["actor"] == "web:jury"
    assert web_lab.active_interventions(1) == []
    print(f"\nconsole: inject→'non réparé' {inject_to_broken:.1f} s, fix→'réparé' {fix_to_fixed:.1f} s")


def test_evidence_survives_restart_and_kill_mid_inject(web_lab, browser, workdir, serves):
    drv = browser
    before = _records(web_lab)
    serve = serves()
    _login(drv, serve)
    drv.get(serve.base + "/pod/1")
    drv.find_element(By.ID, "candidate-input").send_keys("Léa Martin")
    drv.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
    _wait(drv, lambda d: d.find_element(By.ID, "candidate-name").text == "Léa Martin", 10, "the name")
    drv.find_element(By.CSS_SELECTOR, 'tr.iv[data-id="dns-failure"]')
    # a note, then a restart of the console: nothing is lost
    _inject(drv, "printer-offline", "service-stopped")
    _wait(drv, lambda d: _status(d, "printer-offline") == "broken", 120, "EN PANNE")
    card = drv.find_element(By.ID, "card-printer-offline")
    card.find_element(By.CSS_SELECTOR, "textarea.note").send_keys("Note avant redémarrage")
    card.find_element(By.CSS_SELECTOR, "button.save-note").click()
    _wait(drv, lambda d: "redémarrage" in d.find_element(By.CSS_SELECTOR, "#card-printer-offline ul.notes").text,
          10, "the note")
    serve.kill(signal.SIGTERM)
    old_link = serve.link
    serve = serves()
    # the jury's browser stays signed in across the restart, and the link is the same one,
    # which the trainer can print again
    assert serve.link.split("?key=")[1] == old_link.split("?key=")[1]
    assert _cli("serve", "--lab", LAB, "--show-link").stdout.strip() == serve.link
    drv.get(serve.base + "/pod/1")
    _wait(drv, lambda d: _status(d, "printer-offline") == "broken", 30, "the attempt after a restart")
    assert "Note avant redémarrage" in drv.find_element(By.ID, "card-printer-offline").text
    assert drv.find_element(By.ID, "candidate-name").text == "Léa Martin"
    assert _records(web_lab)[:len(before)] == before                      # appended only

    # kill -9 in the middle of an inject (after the engine journalled it, during the playbook)
    def begun() -> int:
        return sum(1 for r in web_lab.state.journal.records() if r.get("op") == "event"
                   and r.get("kind") == "intervention" and r["data"]["id"] == "dns-failure"
                   and r["data"]["step"] == "begin")
    already = begun()
    _inject(drv, "dns-failure", "service-stopped")
    deadline = time.monotonic() + 60
    while begun() == already:
        assert time.monotonic() < deadline, "the inject never began"
        time.sleep(0.05)
    time.sleep(0.3)
    serve.kill(signal.SIGKILL)
    lines = (web_lab.state.dir / "evidence" / "pod-1.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]                          # every line whole
    assert recs[-1]["kind"] == "inject-begin" and recs[-1]["id"] == "dns-failure"

    serve = serves()
    try:
        _login(drv, serve)
        drv.get(serve.base + "/pod/1")
        _wait(drv, lambda d: _status(d, "dns-failure") == "interrupted", 30, "the interrupted inject")
        assert _status(drv, "printer-offline") == "broken"
        _shot(drv, "console-interrupted.png")
        for iid in ("dns-failure", "printer-offline"):
            drv.find_element(By.CSS_SELECTOR, f"#card-{iid} button.restore").click()
            _wait(drv, lambda d, i=iid: _status(d, i) == "restored", 120, f"{iid} restored")
    finally:
        serve.kill()
    assert web_lab.active_interventions(1) == []
    failed = [r for r in web_lab.verify(1) if not r.passed]
    assert not failed, [f"{r.probe.title}: {r.evidence}" for r in failed]
    sessions = web_lab.evidence(1).sessions()
    assert sessions[-1].candidate == "Léa Martin"
    assert "Note avant redémarrage" in [n["text"] for n in sessions[-1].notes["printer-offline"]]


def test_terminal_console_on_a_real_pod(web_lab, workdir):
    pexpect = pytest.importorskip("pexpect", reason="pexpect is in the test extra")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    child = pexpect.spawn(sys.executable, ["-m", "tai_lab.cli", "jury", "--lab", LAB, "--pod", "1",
                                           "--name", "Mme Martin"], cwd=str(workdir), env=env,
                          encoding="utf-8", timeout=30, dimensions=(50, 160))
    child.logfile_read = (workdir / "jury-pty.log").open("w")
    try:
        child.expect("Action")
        child.send("7\r")
        child.expect("Nom du candidat")
        child.send("Noé Petit\r")
        child.expect("candidat : Noé Petit")
        child.expect("Action")
        child.send("1\r")
        child.expect("Intervention")
        child.send("Site intranet")
        child.send("\r")
        child.expect("Variante")
        child.send("\r")
        child.expect("injectée en", timeout=180)
        child.expect("Action")
        child.send("2\r")
        child.expect("EN PANNE", timeout=30)
        child.expect("La page http://intranet.pod1.tai.lan/ ne s’affiche pas sur pc1", timeout=30)
        _cli("exec", "--lab", LAB, "1", "srv", "sh", "-c", "systemctl enable --now nginx")
        child.expect("fin du suivi", timeout=90)              # the live view ends once it is fixed
        child.expect("Action")
        child.send("5\r")
        child.expect("Restaurer :")
        child.send("\r")
        child.expect("Site intranet inaccessible : restaurée", timeout=180)
        child.expect("Action")
        child.send("0\r")                                   # Quitter (the 10th, after the reboot check)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    s = web_lab.evidence(1).current()
    assert s.candidate == "Noé Petit"
    (a,) = s.attempts
    assert a.actor == "tui:Mme Martin" and a.fixed_at is not None and a.restored_at is not None
    assert web_lab.active_interventions(1) == []


def test_console_and_cli_at_once(web_lab, browser, workdir, serves):
    """An inject from the console and one from the CLI on the same pod at once: the lab lock
    serialises them, both land, both are in the evidence log with who did them."""
    drv = browser
    serve = serves()
    try:
        _login(drv, serve)
        drv.get(serve.base + "/pod/1")
        drv.find_element(By.ID, "candidate-input").send_keys("Sam Bernard")
        drv.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
        _wait(drv, lambda d: d.find_element(By.ID, "candidate-name").text == "Sam Bernard", 10, "the name")
        _inject(drv, "intranet-down", "page-missing")
        cli = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "inject", "printer-offline", "--lab", LAB,
                                "--pod", "1", "--variant", "service-stopped"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 180, "the console's inject")
        out, _ = cli.communicate(timeout=300)
        assert cli.returncode == 0, out
        assert {a.id for a in web_lab.active_interventions(1)} == {"intranet-down", "printer-offline"}
        # the CLI's inject shows up in the console too (same log)
        _wait(drv, lambda d: _status(d, "printer-offline") == "broken", 30, "the CLI's inject in the console")
        for iid in ("intranet-down", "printer-offline"):
            drv.find_element(By.CSS_SELECTOR, f"#card-{iid} button.restore").click()
            _wait(drv, lambda d, i=iid: _status(d, i) == "restored", 180, f"{iid} restored")
        s = web_lab.evidence(1).current()
        # the overview keeps itself current: a candidate named elsewhere shows up without a reload
        drv.get(serve.base + "/")
        _wait(drv, lambda d: "Sam Bernard" in d.find_element(By.ID, "overview").text, 10, "the overview")
        drv.execute_script("window.__sameDocument = 7")
        web_lab.evidence(1).record("candidate", actor="test", name="Zoé Suivante")
        _wait(drv, lambda d: "Zoé Suivante" in d.find_element(By.ID, "overview").text, 15, "the overview's refresh")
        assert drv.execute_script("return window.__sameDocument") == 7
    finally:
        serve.kill()
    actors = {a.id: a.actor for a in s.attempts}
    assert actors["intranet-down"] == "web:jury" and actors["printer-offline"].startswith("cli")
    assert web_lab.active_interventions(1) == []
    failed = [r for r in web_lab.verify(1) if not r.passed]
    assert not failed, [f"{r.probe.title}: {r.evidence}" for r in failed]


def test_layouts_session_bar_and_reset(web_lab, browser, workdir, serves):
    """At 1024 and 1366 px: the session bar (timer, faults) stays in view after scrolling, the
    card of a new inject comes into view, the page names no internal identifier and shows the
    check in words. Then the reset button on a candidate's open session: it asks, says what
    will be recorded, and the pod is back at its baseline."""
    from selenium.webdriver.support import expected_conditions as EC
    drv = browser
    serve = serves()
    try:
        _login(drv, serve)
        drv.get(serve.base + "/pod/1")
        drv.find_element(By.ID, "candidate-input").send_keys("Inès Roux")
        drv.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
        _wait(drv, lambda d: d.find_element(By.ID, "candidate-name").text == "Inès Roux", 10, "the name")
        for width in (1024, 1366):
            drv.set_window_size(width, 768)
            drv.get(serve.base + "/pod/1")
            _wait(drv, lambda d: d.find_element(By.ID, "candidate-name").text == "Inès Roux", 10, "the page")
            if width == 1024:
                _inject(drv, "intranet-down", "page-missing")
                _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 120, "EN PANNE")
                time.sleep(1)                                # the smooth scroll to the new card
                assert _in_view(drv, "card-intranet-down") or drv.execute_script(
                    "return document.getElementById('card-intranet-down').getBoundingClientRect().top"
                    " < window.innerHeight"), "the injected card is out of sight"
            else:
                _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 30, "the card")
            # the timer started with the inject, and it stays in view at the bottom of the page
            _wait(drv, lambda d: d.find_element(By.ID, "timer").text not in ("", "00:00"), 10, "the timer running")
            drv.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            time.sleep(0.4)
            assert drv.execute_script("return window.scrollY") > 0, "nothing to scroll at this size"
            assert _in_view(drv, "timer") and _in_view(drv, "faults"), f"session bar out of view at {width} px"
            assert "Site intranet inaccessible : EN PANNE" in drv.find_element(By.ID, "faults").text
            text = _visible_text(drv)
            assert "La page http://intranet.pod1.tai.lan/ ne s’affiche pas sur pc1" in text
            assert not [i for i in IDENTIFIERS if i in text], [i for i in IDENTIFIERS if i in text]
            _shot(drv, f"console-session-{width}.png")
        drv.set_window_size(1366, 768)
        drv.get(serve.base + "/")
        _wait(drv, lambda d: "panne en cours" in d.find_element(By.ID, "overview").text, 10, "the fault in the overview")
        assert "fault" in drv.find_element(By.CSS_SELECTOR, '#overview tr[data-pod="1"]').get_attribute("class")

        # the reset button, on an open session with an active fault
        drv.get(serve.base + "/pod/1")
        _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 30, "the card")
        drv.find_element(By.ID, "reset").click()
        WebDriverWait(drv, 10).until(EC.alert_is_present())
        question = drv.switch_to.alert.text
        assert "Inès Roux" in question and "Site intranet inaccessible" in question, question
        assert "effacée par remise à zéro — non réparée" in question, question
        drv.switch_to.alert.dismiss()                       # "no": nothing happens
        time.sleep(1)
        assert not [r for r in _records(web_lab) if r["kind"] == "reset" and r["t"] > time.time() - 5]
        assert {a.id for a in web_lab.active_interventions(1)} == {"intranet-down"}
        drv.find_element(By.ID, "reset").click()
        WebDriverWait(drv, 10).until(EC.alert_is_present())
        drv.switch_to.alert.accept()
        _wait(drv, lambda d: _status(d, "intranet-down") == "cleared", 60, "cleared by the reset")
        assert "effacée par remise à zéro — non réparée" in drv.find_element(By.ID, "card-intranet-down").text
        # recorded before the pod is touched: the reset itself ends later (then the console says so)
        _wait(drv, lambda d: "Pod remis à zéro" in d.find_element(By.ID, "toast").get_attribute("textContent")
              and d.find_element(By.ID, "reset").is_enabled(), 300, "the end of the reset")
    finally:
        serve.kill()
        drv.set_window_size(1500, 1150)
    reset = [r for r in _records(web_lab) if r["kind"] == "reset"][-1]
    assert reset["cleared"] == ["intranet-down"] and reset["actor"] == "web:jury"
    assert web_lab.active_interventions(1) == []
    failed = [r for r in web_lab.verify(1) if not r.passed]
    assert not failed, [f"{r.probe.title}: {r.evidence}" for r in failed]
