"""A failed inject and a locked lab on a real pod, as the jury's console says them.

One small plateau (router, server, client; one pod) with an intervention of the centre's own
whose playbook fails on the server: the jury reads « la panne n'a pas pu être appliquée sur
srv », the tools' words (Ansible's task name, its output) only as details, the record keeps
both, and the pod is back as it was. While a trainer's command holds the lab, the jury reads
that another command works on the pod since HH:MM, never its command line.
"""
from __future__ import annotations

import re
import threading
import time

import pytest

from .conftest import ROOT, lab_name

LAB = lab_name("tfail")
TASK = "Stop the name server (tai-lab fault)"

_OWN = """\
id: panne-ratee
title: {fr: "Serveur de noms arrêté", en: "Name server stopped"}
symptom: "Plus aucun site ne s'ouvre."
competencies: [c10]
difficulty: 1
category: serveur
check:
  - {probe: resolve, name: "srv.{domain}"}
variants:
  - id: arret
    title: {fr: "Service arrêté", en: "Service stopped"}
    target: {role: dns}
jury: {diagnostic: [a], fixes: [b]}
"""

_PLAYBOOK = f"""\
- hosts: tai_target
  gather_facts: false
  tasks:
    - name: {TASK}
      ansible.builtin.command: sh -c 'echo named.service not loaded >&2; exit 3'
      when: step == "inject"
"""


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    d = tmp_path_factory.mktemp("tfail")
    (d / "interventions").mkdir()
    (d / "interventions" / "panne-ratee.yaml").write_text(_OWN)
    (d / "interventions" / "panne-ratee.yml").write_text(_PLAYBOOK)
    text = (ROOT / "tests/unit/fixtures/valid_minimal.yaml").read_text()
    text = re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M).replace("pods: 2", "pods: 1")
    (d / "plateau.yaml").write_text(text + "interventions_dir: interventions\n")
    try:
        yield Lab.up(d / "plateau.yaml", pods=1)
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)


@pytest.fixture
def service(lab):
    from tai_lab.jury.service import JuryService
    from tai_lab.lab import Lab
    svc = JuryService(lambda: Lab(LAB), check_interval=60)
    yield svc
    svc.close()


def _wait(job, seconds: float = 300):
    deadline = time.monotonic() + seconds
    while job.state == "running":
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.2)
    return job


def test_a_failed_inject_is_told_in_words_with_the_details_kept(lab, service, monkeypatch):
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    job = _wait(service.inject(1, "panne-ratee", None, "web:jury"))
    assert job.state == "failed"
    shown = job.as_dict("fr")
    assert shown["error"] == "la panne n'a pas pu être appliquée sur srv"
    assert shown["what"] == "Injection : Serveur de noms arrêté"
    assert TASK not in shown["error"] + (shown["hint"] or "") and "panne-ratee" not in shown["error"]
    assert TASK in shown["details"] and "named.service not loaded" in shown["details"]
    assert job.as_dict("en")["error"] == "the fault could not be applied on srv"
    # the record: the sentence and, apart, what the tools said
    rec = [r for r in lab.evidence(1).records() if r["kind"] == "inject-failed"][-1]
    assert rec["error"].startswith("la panne n'a pas pu être appliquée sur srv") and TASK in rec["details"]
    # nothing left behind: rolled back, and the console shows the attempt as failed, in words
    assert lab.active_interventions(1) == []
    (a,) = [x for x in service.state(1, "fr")["attempts"] if x["id"] == "panne-ratee"]
    assert a["status"] == "failed" and TASK not in a["failed"]


def test_a_lab_held_by_a_trainers_command_is_told_without_its_command_line(lab, service, monkeypatch):
    from tai_lab.state import lab_lock
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    monkeypatch.setenv("TAI_LAB_LOCK_TIMEOUT", "1")
    held, release = threading.Event(), threading.Event()

    def trainer() -> None:
        with lab_lock(LAB, "tai-lab reset --pod 1 --yes"):
            held.set()
            release.wait(60)
    t = threading.Thread(target=trainer)
    before = time.strftime("%H:%M")
    t.start()
    try:
        assert held.wait(30)
        after = time.strftime("%H:%M")
        job = _wait(service.restore(1, None, "web:jury"), 60)
    finally:
        release.set()
        t.join()
    shown = job.as_dict("fr")
    assert job.state == "failed"
    assert re.fullmatch(r"une autre commande du formateur travaille sur ce pod \(depuis \d\d:\d\d\)", shown["error"])
    assert shown["error"][-6:-1] in (before, after)          # when the trainer's command took the lab
    assert "tai-lab" not in shown["error"] + (shown["hint"] or "") and "pid" not in shown["error"]
    assert "tai-lab reset --pod 1 --yes" in shown["details"]


def test_the_pod_page_shows_the_sentence_and_folds_the_details(lab, tmp_path):
    """In Chromium: after a failed inject the pod page reads the sentence; Ansible's task
    name is only there once « Détails » is opened."""
    import os
    import signal
    import subprocess
    import sys

    pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from .conftest import headless_chromium
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAI_LAB_LANG": "fr"}
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", LAB, "--listen", "127.0.0.1:0"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    drv = None
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://\S+)/login\?key=(\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start:\n" + log.read_text()
            time.sleep(0.1)
        drv = headless_chromium("1366,900")
        drv.get(m.group(0))
        drv.get(f"{m.group(1)}/pod/1")
        wait = WebDriverWait(drv, 30, poll_frequency=0.2)
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'tr.iv[data-id="panne-ratee"]'))
        if not row.is_displayed():
            todo = drv.find_element(By.ID, "filter-todo")
            if todo.is_selected():
                todo.click()
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
        row.click()
        wait.until(lambda d: d.find_element(By.ID, "pick-body").is_displayed())
        Select(drv.find_element(By.ID, "pick-variant")).select_by_value("arret")
        drv.find_element(By.ID, "pick-inject").click()
        WebDriverWait(drv, 300, poll_frequency=0.5).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#failures .failure"))
        drv.execute_script("document.getElementById('failures').scrollIntoView({block: 'center'})")
        text = drv.find_element(By.TAG_NAME, "body").text        # what a jury member reads
        assert "Injection : Serveur de noms arrêté : la panne n'a pas pu être appliquée sur srv" in text
        assert TASK not in text and "named.service" not in text
        assert drv.find_element(By.CSS_SELECTOR, "#failures summary").text == "Détails"

        def open_details(d) -> bool:       # the list is drawn anew at each poll: find it fresh
            try:
                d.find_element(By.CSS_SELECTOR, "#failures summary").click()      # « Détails », asked for
                return TASK in d.find_element(By.CSS_SELECTOR, "#failures pre").text
            except StaleElementReferenceException:
                return False
        wait.until(open_details)
        time.sleep(3)                      # a later poll keeps it open
        assert TASK in drv.find_element(By.CSS_SELECTOR, "#failures pre").text
    finally:
        if drv is not None:
            drv.quit()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
