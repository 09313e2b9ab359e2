"""The CLI is a thin face: validate, schema and error exits."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).resolve().parent / "fixtures"


def _cli(*args: str, env_home: str | None = None) -> subprocess.CompletedProcess:
    import os
    env = dict(os.environ)
    if env_home:
        env["TAI_LAB_HOME"] = env_home
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_validate_ok_and_json():
    r = _cli("--json", "validate", "scenarios/tai-standard.yaml", "--pods", "16")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"valid": True, "lab": "std", "pods": 16}


def test_validate_reports_file_line_and_exit_code():
    bad = sorted(FIX.glob("*.yaml"))
    bad = [p for p in bad if not p.name.startswith("valid")][0]
    r = _cli("validate", str(bad))
    assert r.returncode == 2
    assert f"{bad}:" in r.stderr and "hint" in r.stderr
    assert "Traceback" not in r.stderr


def test_schema_is_json_schema():
    r = _cli("schema")
    data = json.loads(r.stdout)
    assert data["$schema"].startswith("https://json-schema.org/") and "properties" in data


def test_commands_without_a_lab_say_how_to_start_one(tmp_path):
    r = _cli("status", env_home=str(tmp_path))
    assert r.returncode == 4
    assert "no lab is up" in r.stderr and "tai-lab up" in r.stderr
