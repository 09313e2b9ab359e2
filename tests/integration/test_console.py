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
        drv.find_element(By.ID, "show-all").click()
    Select(row.find_element(By.CSS_SELECTOR, "select.variant")).select_by_value(variant)
    row.find_element(By.CSS_SELECTOR, "button.inject").click()


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
        _wait(drv, lambda d: _status(d, "intranet-down") == "broken", 120, "NON RÉPARÉ")
        inject_to_broken = time.monotonic() - t0
        card = drv.find_element(By.ID, "card-intranet-down")
        assert "NON RÉPARÉ" in card.text and "✗" in card.text          # the probe's evidence is shown
        _shot(drv, "console-session-broken.png")

        t1 = time.monotonic()
        _cli("exec", "--lab", LAB, "1", "srv", "sh", "-c", "systemctl enable --now nginx")
        _wait(drv, lambda d: _status(d, "intranet-down") == "fixed", 60, "RÉPARÉ")
        fix_to_fixed = time.monotonic() - t1
        assert drv.execute_script("return window.__sameDocument") == 42   # no reload
        assert "Réparé en" in drv.find_element(By.ID, "card-intranet-down").text

        card = drv.find_element(By.ID, "card-intranet-down")
        card.find_element(By.CSS_SELECTOR, "textarea.note").send_keys("A vérifié le service nginx avec systemctl.")
        card.find_element(By.CSS_SELECTOR, "button.save-note").click()
        _wait(drv, lambda d: "systemctl." in d.find_element(By.CSS_SELECTOR, "#card-intranet-down ul.notes").text,
              10, "the note")
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
        for expected in ("Camille Dupont", "Site intranet inaccessible", "service-stopped",
                         "A vérifié le service nginx avec systemctl.", "réparé à", "☑"):
            assert expected in text, expected
        shutil.copy(out, workdir / "keep.pdf")

        drv.get(serve.base + "/")
        _wait(drv, lambda d: "intranet-down" in d.find_element(By.ID, "overview").text, 10, "the overview")
        _shot(drv, "console-overview.png")
        drv.get(serve.base + "/pod/1")
        _wait(drv, lambda d: _status(d, "intranet-down") == "fixed", 20, "the card again")
        drv.find_element(By.CSS_SELECTOR, "#card-intranet-down button.restore").click()
        _wait(drv, lambda d: _status(d, "intranet-down") == "restored", 120, "restored")
        drv.get(serve.base + "/pod/1/history")
        assert "Camille Dupont" in drv.page_source
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
    _wait(drv, lambda d: _status(d, "printer-offline") == "broken", 120, "NON RÉPARÉ")
    card = drv.find_element(By.ID, "card-printer-offline")
    card.find_element(By.CSS_SELECTOR, "textarea.note").send_keys("Note avant redémarrage")
    card.find_element(By.CSS_SELECTOR, "button.save-note").click()
    _wait(drv, lambda d: "redémarrage" in d.find_element(By.CSS_SELECTOR, "#card-printer-offline ul.notes").text,
          10, "the note")
    serve.kill(signal.SIGTERM)
    serve = serves()
    _login(drv, serve)
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
        child.send("intranet-down")
        child.send("\r")
        child.expect("Variante")
        child.send("\r")
        child.expect("injectée en", timeout=180)
        child.expect("Action")
        child.send("2\r")
        child.expect("NON RÉPARÉ", timeout=30)
        _cli("exec", "--lab", LAB, "1", "srv", "sh", "-c", "systemctl enable --now nginx")
        child.expect("fin du suivi", timeout=90)              # the live view ends once it is fixed
        child.expect("Action")
        child.send("5\r")
        child.expect("Restaurer :")
        child.send("\r")
        child.expect("intranet-down restaurée", timeout=180)
        child.expect("Action")
        child.send("9\r")
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
