"""`tai-lab serve`, `report` and `jury` as commands: bad input gives a clear error and starts nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TAI_LAB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                          cwd=str(home), env=env, timeout=60)


def test_commands_are_listed(tmp_path):
    r = _cli("--help", home=tmp_path)
    for cmd in ("serve", "report", "jury"):
        assert cmd in r.stdout


def test_serve_refuses_a_remote_address_without_the_flag(tmp_path):
    r = _cli("serve", "--listen", "0.0.0.0:0", home=tmp_path)
    assert r.returncode != 0
    assert "--allow-remote" in r.stderr and "Traceback" not in r.stderr
    assert "login?key=" not in r.stdout                       # no secret was made or shown


def test_serve_bad_listen_value(tmp_path):
    r = _cli("serve", "--listen", "8765", home=tmp_path)
    assert r.returncode == 2 and "ADRESSE:PORT" in r.stderr


def test_serve_and_report_without_a_lab(tmp_path):
    for args in (("serve",), ("report", "--pod", "1"), ("jury", "--pod", "1")):
        r = _cli(*args, home=tmp_path)
        assert r.returncode != 0, args
        assert "aucun lab n'est démarré" in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not list(tmp_path.glob("rapport-*"))
