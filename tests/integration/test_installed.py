"""The installed tool builds and removes a real plateau: the wheel in a fresh environment
(tests/installed.py), run as root from an empty directory, on a trainer's copy of a small
scenario (router, server with DNS and DHCP, client). Images, playbooks and Ansible's inventory
are all found from the installed package, never from a checkout; the plateau's health proves
the playbooks shipped in the wheel configured it.
"""
from __future__ import annotations

import json
import os
import re

import pytest

from ..installed import ROOT, run
from .conftest import host_leftovers, lab_name

LAB = lab_name("whl")
SMALL = ROOT / "tests/unit/fixtures/valid_minimal.yaml"

pytestmark = pytest.mark.timeout(1500)


def test_up_verify_down_with_the_installed_tool(venv, lab_home, tmp_path):
    from tai_lab.state import existing_labs
    env = {**venv["env"], "TAI_LAB_HOME": os.environ["TAI_LAB_HOME"], "TAI_LAB_IMAGES": os.environ["TAI_LAB_IMAGES"]}
    salle = tmp_path / "salle"
    salle.mkdir()
    (salle / "mon-plateau.yaml").write_text(
        re.sub(r"^lab: .*$", f"lab: {LAB}", SMALL.read_text(), count=1, flags=re.M))

    def tai(*argv: str, timeout: float = 300):
        return run([venv["tai_lab"], *argv], salle, env, timeout)

    where = json.loads(run([venv["python"], "-c", "import json, tai_lab, tai_lab.paths as p; print(json.dumps("
                                                  "[tai_lab.__file__, str(p.data_dir('playbooks'))]))"],
                           salle, env).stdout)
    assert all(w.startswith(str(venv["site"])) for w in where), where     # the wheel's code and data
    assert json.loads(tai("--json", "validate", "mon-plateau.yaml").stdout)["valid"] is True
    try:
        up = json.loads(tai("--json", "up", "mon-plateau.yaml", "--pods", "1", timeout=1200).stdout)
        assert up["lab"] == LAB and [p["pod"] for p in up["pods"]] == [1] and "baseline" in up["pods"][0]["snapshots"]
        status = json.loads(tai("--json", "--lab", LAB, "status").stdout)
        (pod,) = status["pods"]
        assert pod["nodes"] and all(pod["nodes"].values()), pod
        assert tai("--lab", LAB, "exec", "1", "srv", "hostname").stdout.strip() == "srv"
        # The plateau works for its user: pc1 got a lease from srv, srv's name resolves there.
        checks = {c["probe"]: c for c in json.loads(tai("--json", "--lab", LAB, "verify", timeout=240).stdout)}
        assert {"lease:pc1", "dns:srv"} <= set(checks) and all(c["passed"] for c in checks.values()), checks
    finally:
        if LAB in existing_labs():
            try:
                tai("--lab", LAB, "down", timeout=600)
            finally:
                if LAB in existing_labs():      # the installed tool could not: leave nothing behind anyway
                    from tai_lab.lab import Lab
                    Lab.down(LAB)
    assert LAB not in existing_labs()
    assert host_leftovers(LAB) == []
