"""A killed or failed `up` leaves nothing that `down` cannot remove."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, host_leftovers, lab_name

TFAIL, TKILL = lab_name("tfail"), lab_name("tkill")


def _scenario(tmp_path: Path, lab: str) -> Path:
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    path = tmp_path / f"{lab}.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {lab}", text, count=1, flags=re.M))
    return path


def test_failed_up_removes_what_it_created(lab_home, tmp_path, monkeypatch):
    from tai_lab import provision
    from tai_lab.errors import CommandFailed
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs

    seen: list[str] = []

    def broken_playbook(*args, **kwargs):
        seen.extend(host_leftovers(TFAIL))   # the containers were really there
        raise CommandFailed("provisioning failed (simulated)")

    monkeypatch.setattr(provision, "run_playbook", broken_playbook)
    with pytest.raises(CommandFailed, match="simulated"):
        Lab.up(_scenario(tmp_path, TFAIL), pods=1)
    assert any(s.startswith("process") for s in seen) and any(s.startswith("netns") for s in seen)
    assert host_leftovers(TFAIL) == []
    assert TFAIL not in existing_labs()


def test_sigkill_during_up_then_down_leaves_nothing(lab_home, tmp_path):
    from tai_lab.lab import Lab

    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "up", str(_scenario(tmp_path, TKILL)),
                             "--pods", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = host_leftovers(TKILL)
            if sum(1 for x in left if x.startswith("process")) >= 4:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the containers never started")
        proc.send_signal(signal.SIGKILL)   # no chance to clean up: like a power cut of the tool
        proc.wait(10)
        assert host_leftovers(TKILL)      # containers outlive the killed command
        Lab.down(TKILL)
        assert host_leftovers(TKILL) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        from tai_lab.state import existing_labs
        if TKILL in existing_labs():
            Lab.down(TKILL)
