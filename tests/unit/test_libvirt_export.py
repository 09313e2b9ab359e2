"""`tai-lab export` (the plan the Vagrantfile reads) and the Vagrantfile itself."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tai_lab.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _export(pods: int = 2) -> dict:
    res = CliRunner().invoke(cli, ["export", str(ROOT / "scenarios/tai-mini-vm.yaml"), "--pods", str(pods)])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_export_matches_what_the_backend_builds():
    plan = _export(2)
    assert plan["format"] == 1 and plan["lab"] == "mini" and plan["pods"] == 2
    names = [m["name"] for m in plan["machines"]]
    assert names == ["tai-mini-isp", "tai-mini-p1-router", "tai-mini-p1-pc1", "tai-mini-p2-router", "tai-mini-p2-pc1"]
    nets = {n["name"] for n in plan["networks"]}
    assert nets == {"tai-mini-p1-wan", "tai-mini-p2-wan", "tai-mini-p1-users", "tai-mini-p2-users"}
    assert all(n["isolated"] for n in plan["networks"])
    router = plan["machines"][1]
    assert [i["network"] for i in router["interfaces"]] == ["tai-mini-p1-wan", "tai-mini-p1-users"]
    assert router["interfaces"][1]["address"] == "10.1.10.1/24"
    assert router["interfaces"][0]["link_up"] is False          # born cut, like on the backend
    # Every interface plugs into a network of the plan.
    assert {i["network"] for m in plan["machines"] for i in m["interfaces"]} <= nets


def test_export_refuses_a_bad_scenario(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lab: x\n")
    res = CliRunner().invoke(cli, ["export", str(bad)])
    assert res.exit_code != 0


@pytest.mark.skipif(shutil.which("vagrant") is None,
                    reason="vagrant is not installed (scripts/install-host-deps.sh installs it)")
def test_vagrantfile_validates(tmp_path):
    shutil.copy(ROOT / "Vagrantfile", tmp_path / "Vagrantfile")
    env = dict(os.environ, TAI_LAB_SCENARIO=str(ROOT / "scenarios/tai-mini-vm.yaml"), TAI_LAB_PODS="2",
               TAI_LAB_CMD=f"env PYTHONPATH={ROOT} {sys.executable} -m tai_lab.cli",
               VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_CHECKPOINT_DISABLE="1")
    proc = subprocess.run(["vagrant", "validate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validated successfully" in proc.stdout
    # The machines come from the export, not from a copy: a missing scenario fails.
    env["TAI_LAB_SCENARIO"] = str(tmp_path / "nope.yaml")
    proc = subprocess.run(["vagrant", "validate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and "tai-lab export failed" in proc.stdout + proc.stderr
