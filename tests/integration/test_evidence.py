"""The jury's record is never lost or false, on a real 2-pod plateau (issue 11).

* a `phase prep` killed between two pods: each pod's state says what was done to it, `status`
  agrees with the links, and running the command again finishes it;
* an inject killed midway is "interrupted" for `check`, the consoles and the report, never fixed;
* `check` never judges a pod being reset: it waits (bounded) or says a reset is in progress;
* a reset/rebuild with a candidate's session open asks (terminal) or is refused (no terminal,
  no --yes, or the API without its flag), and records what it clears as not repaired;
* `down` archives the evidence, the report is made from the archive, and only
  `archives remove` deletes an archive.

Lab name: tevid (suffixed by TAI_LAB_TEST_TAG).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tai_lab.errors import LockBusyError, TaiLabError

from .conftest import ROOT, lab_name, standard_lab

LAB = lab_name("tevid")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def _cli(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, env={**ENV, **(env or {})})


@pytest.fixture(scope="module")
def lab(lab_home, tmp_path_factory):
    try:
        with standard_lab(LAB, 2, tmp_path_factory.mktemp("tevid")) as lab:
            lab.set_phase("jury")
            yield lab
    finally:
        ENV["TAI_LAB_HOME"] = os.environ["TAI_LAB_HOME"]


@pytest.fixture(autouse=True)
def _home_in_env(lab_home):
    ENV["TAI_LAB_HOME"] = os.environ["TAI_LAB_HOME"]
    ENV["TAI_LAB_IMAGES"] = os.environ["TAI_LAB_IMAGES"]


def _fresh(lab):
    from tai_lab.lab import Lab
    return Lab(lab.name)


def _engine_steps(lab, iid: str) -> list[str]:
    return [r["data"]["step"] for r in lab.state.journal.records()
            if r.get("op") == "event" and r.get("kind") == "intervention" and r["data"]["id"] == iid]


# ------------------------------------------------------------------ 5. phase killed between pods
KILL_AT_POD_2 = """
import os, signal, sys
from tai_lab.lab import Lab
lab = Lab(sys.argv[1])
real = lab.backend.set_upstream
def set_upstream(n, up):
    if n == 2:
        os.kill(os.getpid(), signal.SIGKILL)     # a crash between the two pods
    real(n, up)
lab.backend.set_upstream = set_upstream
lab.set_phase("prep")
"""


def test_phase_prep_killed_between_pods_is_journaled_per_pod_and_finished_by_a_rerun(lab):
    r = subprocess.run([sys.executable, "-c", KILL_AT_POD_2, LAB], env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    fresh = _fresh(lab)
    st = {s.number: s for s in fresh.status()}
    # pod 1 was cut and its state says so (before: "jury" for a cut pod); pod 2 was not touched
    assert (st[1].phase, st[1].internet) == ("prep", False)
    assert (st[2].phase, st[2].internet) == ("jury", True)
    assert (st[1].pending, st[2].pending) == (None, "prep")       # where the command stopped
    r = _cli("status", "--lab", LAB)
    assert r.returncode == 0 and "interrompu" in r.stdout and "tai-lab phase prep" in r.stdout, r.stdout
    r = _cli("phase", "prep", "--lab", LAB, "--no-verify")
    assert r.returncode == 0, r.stderr
    st = {s.number: s for s in _fresh(lab).status()}
    assert all((s.phase, s.internet, s.pending) == ("prep", False, None) for s in st.values())
    steps = [(r["kind"], r["data"]["pod"]) for r in lab.state.journal.records()
             if r.get("op") == "event" and r.get("kind") in ("phase-begin", "phase")][-7:]
    assert steps[:3] == [("phase-begin", 1), ("phase", 1), ("phase-begin", 2)]    # the killed run
    assert _cli("phase", "jury", "--lab", LAB, "--no-verify").returncode == 0


# ------------------------------------------------------------------ 3. inject killed midway
def test_an_inject_killed_midway_is_interrupted_never_fixed(lab, tmp_path):
    from rich.console import Console

    from tai_lab.jury import report
    from tai_lab.jury.service import JuryService
    from tai_lab.jury.tui import JuryTUI
    lab.evidence(1).record("candidate", actor="test", name="Inès Kill")
    already = _engine_steps(lab, "dns-failure").count("begin")
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "inject", "dns-failure", "--pod", "1",
                             "--variant", "forwarder-wrong", "--lab", LAB], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _engine_steps(lab, "dns-failure").count("begin") == already:
            assert time.monotonic() < deadline, "the inject never began"
            time.sleep(0.05)
        time.sleep(0.2)          # inside the playbook's start: the fault has not taken
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the command line: interrupted, not fixed, exit 1 (the table) / state in JSON
    r = _cli("--json", "check", "--pod", "1", "--lab", LAB)
    (c,) = json.loads(r.stdout)
    assert (c["id"], c["fixed"]) == ("dns-failure", False), r.stdout     # before: "fixed"
    assert c["state"] == "interrupted"
    r = _cli("check", "--pod", "1", "--lab", LAB)
    assert r.returncode == 1 and "INJECTION INTERROMPUE" in r.stdout and "RÉPARÉ" not in r.stdout, r.stdout
    # the consoles (web service and terminal) and the report
    svc = JuryService(lambda: _fresh(lab), check_interval=0.2)
    try:
        svc.check_now(1)
        (a,) = svc.state(1)["attempts"]
        assert a["status"] == "interrupted" and not a["fixed"]
        con = Console(record=True, width=200)
        con.print(JuryTUI(svc, 1, "tui:test", con).table(svc.state(1)))
        assert "injection interrompue" in con.export_text() and "RÉPARÉ" not in con.export_text()
    finally:
        svc.close()
    ctx = report.context(LAB, "t", lab.evidence(1))
    assert [i["verdict"] for i in ctx["items"]] == ["injection interrompue — jamais réparée"]
    assert not any(r.get("fixed") for r in lab.evidence(1).records() if r["kind"] == "check")
    assert _fresh(lab).restore(1) == ["dns-failure"]
    assert all(r.passed for r in lab.verify(1))


# ------------------------------------------------------------------ 4 and 2. check during a reset
# A reset as `tai-lab reset --yes` does it, its revert slowed down (a loaded host): the lock is
# held long enough for the checks around it to meet it, whatever the machine's speed.
SLOW_RESET = """
import sys, time
from tai_lab.lab import Lab
lab = Lab(sys.argv[1], progress=print)
real = lab.backend.revert
def slow(plan, to):
    time.sleep(6)
    real(plan, to)
lab.backend.revert = slow
lab.reset(pod=1, actor="cli:test", confirm_open_session=True)
"""

def test_check_never_judges_a_pod_being_reset_and_the_reset_records_not_repaired(lab):
    from tai_lab.jury import report
    from tai_lab.lab import SessionOpenError
    lab.evidence(1).record("candidate", actor="test", name="Camille Reset")
    _fresh(lab).inject("intranet-down", 1, variant="service-stopped", actor="test")
    # the API refuses without its explicit flag, and changes nothing
    with pytest.raises(SessionOpenError, match="Camille Reset"):
        _fresh(lab).reset(pod=1)
    assert [a.id for a in lab.active_interventions(1)] == ["intranet-down"]

    # a console polls all along (as the jury's watcher does); the reset runs in another process
    seen, errors, stop = [], [], threading.Event()

    def poll():
        me = _fresh(lab)
        while not stop.is_set():
            try:
                seen.append([(c.id, c.fixed) for c in me.check(1, actor="web:poll", record="changes", wait=0.3)])
            except LockBusyError as exc:
                errors.append(exc.message)
            time.sleep(0.1)
    t = threading.Thread(target=poll)
    t.start()
    try:
        proc = subprocess.Popen([sys.executable, "-c", SLOW_RESET, LAB],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        owner = lab.state.dir / "lock.owner"
        deadline = time.monotonic() + 60
        while not (owner.is_file() and "reset" in owner.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None, "the reset never took the lock"
            time.sleep(0.02)
        # the command line, during the reset: a clear "in progress", no verdict
        r = _cli("check", "--pod", "1", "--lab", LAB, env={"TAI_LAB_CHECK_WAIT": "0.5"})
        assert r.returncode == 6 and "reset" in r.stderr and "Traceback" not in r.stderr, r.stderr
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    finally:
        stop.set()
        t.join(30)
    assert errors and all("reset" in e for e in errors)
    assert ("intranet-down", True) not in [x for s in seen for x in s]
    # a check that waits gets its answer after the reset: nothing is active any more
    assert _fresh(lab).check(1) == []
    s = lab.evidence(1).current()
    (a,) = [x for x in s.attempts if x.id == "intranet-down"]
    assert a.outcome == "cleared" and a.fixed_at is None and not s.is_open
    rec = [r for r in lab.evidence(1).records() if r["kind"] == "reset"][-1]
    assert rec["cleared"] == ["intranet-down"] and rec["command"] == "reset"
    ctx = report.context(LAB, "t", lab.evidence(1))
    assert ctx["items"][-1]["verdict"] == "effacée par remise à zéro — non réparée" and ctx["n_fixed"] == 0


def test_reset_asks_on_a_terminal_and_refuses_without_one(lab, tmp_path):
    pexpect = pytest.importorskip("pexpect", reason="pexpect is in the test extra")
    lab.evidence(1).record("candidate", actor="test", name="Noé Terminal")
    _fresh(lab).inject("printer-offline", 1, variant="service-stopped", actor="test")
    before = len(lab.evidence(1).records())
    r = _cli("reset", "--pod", "1", "--lab", LAB)              # no terminal, no --yes
    assert r.returncode == 5 and "Noé Terminal" in r.stderr and "--yes" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    child = pexpect.spawn(sys.executable, ["-m", "tai_lab.cli", "reset", "--pod", "1", "--lab", LAB],
                          env=ENV, encoding="utf-8", timeout=60, dimensions=(50, 200))
    try:
        child.expect("Noé Terminal")
        child.expect("quand même")
        child.sendline("n")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus != 0
    assert len(lab.evidence(1).records()) == before                # nothing recorded, nothing done
    assert [a.id for a in lab.active_interventions(1)] == ["printer-offline"]
    child = pexpect.spawn(sys.executable, ["-m", "tai_lab.cli", "reset", "--pod", "1", "--lab", LAB],
                          env=ENV, encoding="utf-8", timeout=300, dimensions=(50, 200))
    try:
        child.expect("quand même")
        child.sendline("y")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert lab.active_interventions(1) == []
    assert lab.evidence(1).current().attempts[-1].outcome == "cleared"


def test_rebuild_with_an_open_session_records_cleared_never_fixed(lab):
    from tai_lab.jury import report
    lab.evidence(2).record("candidate", actor="test", name="Sam Rebuild")
    _fresh(lab).inject("intranet-down", 2, variant="service-stopped", actor="test")
    r = _cli("rebuild", "--pod", "2", "--lab", LAB)
    assert r.returncode == 5 and "Sam Rebuild" in r.stderr, r.stderr
    r = _cli("rebuild", "--pod", "2", "--yes", "--lab", LAB, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    # the rebuilt pod works: a check must not call the old fault fixed
    assert _fresh(lab).active_interventions(2) == [] and _fresh(lab).check(2) == []
    ctx = report.context(LAB, "t", lab.evidence(2))
    assert [i["verdict"] for i in ctx["items"]] == ["effacée par remise à zéro — non réparée"]


# ------------------------------------------------------------------ 1. down archives
def test_down_archives_the_evidence_and_the_report_works_from_the_archive(lab, tmp_path):
    from tai_lab import archive
    from tai_lab.lab import Lab
    logs = {n: (lab.state.dir / "evidence" / f"pod-{n}.jsonl").read_bytes() for n in (1, 2)}
    lab_dir = lab.state.dir
    r = _cli("down", "--lab", LAB)
    assert r.returncode == 0, r.stderr
    assert not lab_dir.exists()
    m = re.search(r"preuves archivées dans (\S+)", r.stdout)       # French by default
    assert m, r.stdout
    kept = Path(m.group(1))
    assert kept.parent == archive.archives_dir()
    for n, data in logs.items():
        assert (kept / "evidence" / f"pod-{n}.jsonl").read_bytes() == data       # byte for byte
    assert (kept / "scenario.yaml").is_file() and (kept / "state.json").is_file()
    # the report, from the archive by its name and by the lab's name
    out = tmp_path / "r.html"
    r = _cli("report", "--archive", kept.name, "--pod", "2", "--format", "html", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "Sam Rebuild" in out.read_text() and "effacée par remise à zéro" in out.read_text()
    r = _cli("report", "--lab", LAB, "--pod", "1", "--session", "2", "--format", "html", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "Camille Reset" in out.read_text()
    r = _cli("archives", "list", "--json")
    (row,) = [x for x in json.loads(r.stdout) if x["archive"] == kept.name]
    assert row["lab"] == LAB and row["damaged"] == [] and "Sam Rebuild" in row["candidates"]["2"]
    # removing it: refused without a terminal or --yes; with --yes it says what it removes
    r = _cli("archives", "remove", kept.name)
    assert r.returncode != 0 and kept.is_dir() and "--yes" in r.stderr
    r = _cli("archives", "remove", kept.name, "--yes")
    assert r.returncode == 0 and not kept.exists(), r.stderr
    assert "Sam Rebuild" in r.stderr
    removals = (archive.archives_dir() / archive.REMOVALS).read_text().splitlines()
    assert json.loads(removals[-1])["removed"]["archive"] == kept.name
    assert LAB not in [x for x in os.listdir(archive.archives_dir().parent / "labs")]
    with pytest.raises(TaiLabError):     # no such lab any more
        Lab(LAB)
