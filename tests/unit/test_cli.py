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
    return subprocess.run([sys.executable, "-m", "tai_lab", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_both_module_entry_points_are_the_whole_command():
    """`python3 -m tai_lab` (the new form) and `python3 -m tai_lab.cli` (older scripts): every group
    registered, the same help, the same error exit through `main`."""
    short = _cli("--help")
    long = subprocess.run([sys.executable, "-m", "tai_lab.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert short.returncode == long.returncode == 0, short.stderr + long.stderr
    assert short.stdout.split("\n", 1)[1] == long.stdout.split("\n", 1)[1]   # after "Usage: python -m …"
    for group in ("prep", "serve", "jury", "report", "archives", "stations", "export", "hosts", "image"):
        assert f"\n  {group} " in short.stdout, f"{group} is not registered"
    build = _cli("image", "build", "--help")
    assert "--virtio-iso" in build.stdout, "the VM side's `image build` replaces the rootfs-only one"
    bad = subprocess.run([sys.executable, "-m", "tai_lab.cli", "validate", "no-such-file.yaml"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "tai-lab:" in bad.stderr


def test_validate_ok_and_json():
    r = _cli("--json", "validate", "scenarios/tai-standard.yaml", "--pods", "16")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"valid": True, "lab": "std", "pods": 16}


def test_validate_reports_file_line_and_exit_code():
    bad = sorted(FIX.glob("*.yaml"))
    bad = [p for p in bad if not p.name.startswith("valid")][0]
    r = _cli("validate", str(bad))
    assert r.returncode == 2
    assert f"{bad}:" in r.stderr and "conseil :" in r.stderr and "problème" in r.stderr   # French by default
    assert "Traceback" not in r.stderr
    r = _cli("validate", str(bad), "--lang", "en")
    assert r.returncode == 2
    assert f"{bad}:" in r.stderr and "hint:" in r.stderr and "problem(s)" in r.stderr
    assert "conseil" not in r.stderr


def test_schema_is_json_schema():
    r = _cli("schema")
    data = json.loads(r.stdout)
    assert data["$schema"].startswith("https://json-schema.org/") and "properties" in data


def test_commands_without_a_lab_say_how_to_start_one(tmp_path):
    r = _cli("status", env_home=str(tmp_path))
    assert r.returncode == 4
    assert "aucun lab n'est démarré" in r.stderr and "tai-lab up" in r.stderr
