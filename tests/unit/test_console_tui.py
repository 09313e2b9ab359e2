"""`tai-lab jury` driven through a pseudo-terminal (pexpect), over the fake lab of test_console.

The same flow on a real pod is in tests/integration/test_console.py.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect", reason="pexpect is in the test extra")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from rich.console import Console
from tests.unit.test_console import FakeLab
from tai_lab.jury.service import JuryService
from tai_lab.jury.tui import run_service
lab = FakeLab(sys.argv[1])
run_service(JuryService(lambda: lab, check_interval=0.2), None, "Mme Martin", Console())
"""


def test_terminal_flow(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}
    child = pexpect.spawn(sys.executable, ["-c", SCRIPT, str(tmp_path)], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=20, dimensions=(50, 160))
    log = open(tmp_path / "pty.log", "w")
    child.logfile_read = log
    try:
        child.expect("Console du jury")
        child.expect("Action")
        child.send("7\r")                                   # Nouveau candidat
        child.expect("Nom du candidat")
        child.send("Camille Dupont\r")
        child.expect("candidat : Camille Dupont")
        child.expect("Action")
        child.send("1\r")                                   # Injecter
        child.expect("Intervention")
        child.send("Site intranet")                          # the list filters as one types
        child.send("\r")
        child.expect("Symptôme à lire")
        child.expect("Variante")
        child.send("\r")                                    # the first variant
        child.expect("EN PANNE")
        child.expect("À lire à l'utilisateur")
        child.expect("Action")
        child.send("2\r")                                   # Suivre en direct
        child.expect("EN PANNE")
        (tmp_path / "fixed-intranet-down").touch()           # the candidate fixes it
        child.expect("fin du suivi")                        # the watch ends when all are fixed
        child.expect("Action")
        child.send("3\r")                                   # Note
        child.expect("Note sur")
        child.send("\r")
        child.expect("Note :")
        child.send("a relancé nginx\r")
        child.expect("note enregistrée")
        child.expect("Action")
        child.send("4\r")                                   # Critères
        child.expect("Critères de")
        child.send("\r")
        child.expect("Critères observés")
        child.send(" ")                                     # tick the first one
        child.send("\r")
        child.expect("critères cochés")
        child.expect("Action")
        child.send("5\r")                                   # Restaurer
        child.expect("Restaurer :")
        child.send("\r")
        child.expect("Site intranet inaccessible : restaurée")
        child.expect("Action")
        child.send("0\r")                                   # Quitter (the 10th)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        log.close()
    records = [json.loads(line) for line in (tmp_path / "evidence" / "pod-1.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    for k in ("candidate", "inject-begin", "inject", "check", "note", "criterion", "restore"):
        assert k in kinds, (k, kinds)
    assert {r["actor"] for r in records if r["kind"] != "check"} == {"tui:Mme Martin"}
    assert next(r for r in records if r["kind"] == "note")["text"] == "a relancé nginx"
    assert next(r for r in records if r["kind"] == "check")["fixed"] is True


def test_terminal_console_in_english(tmp_path):
    """The trainer's switch (--lang en / TAI_LAB_LANG=en) reaches the terminal console too."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50",
           "TAI_LAB_LANG": "en"}
    child = pexpect.spawn(sys.executable, ["-c", SCRIPT, str(tmp_path)], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=20, dimensions=(50, 160))
    child.logfile_read = open(tmp_path / "pty.log", "w")
    try:
        child.expect("Jury console")
        child.expect("Inject an intervention")
        child.expect("Quit")
        child.send("7\r")                                   # New candidate
        child.expect("Candidate's name")
        child.send("Camille Dupont\r")
        child.expect("candidate: Camille Dupont")
        child.expect("since the injection")                 # the table's headers
        child.send("0\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "Nouveau candidat" not in (tmp_path / "pty.log").read_text()
