"""Bad input gets a clear error and changes nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from tai_lab.errors import PrerequisiteError, ScenarioError
from tai_lab.lab import Lab

STD = Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path / "no-images"))
    return tmp_path / "home"


def test_not_root_is_refused_before_anything_changes(monkeypatch, home):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(PrerequisiteError, match="demande les droits root"):
        Lab.up(STD, pods=1)
    assert not home.exists()


def test_image_not_built_names_the_command(monkeypatch, home):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(PrerequisiteError) as exc:
        Lab.up(STD, pods=1)
    assert "tai-lab image build debian-12" in str(exc.value)
    assert not (home / "labs").exists()


def test_missing_host_tool_names_the_package(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "systemd-nspawn" else f"/bin/{tool}")
    with pytest.raises(PrerequisiteError, match="apt-get install systemd-container"):
        Lab.up(STD, pods=1)


def test_scenario_errors_come_before_root_checks(monkeypatch, tmp_path):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    bad = tmp_path / "bad.yaml"
    bad.write_text(STD.read_text().replace("kind: router", "kind: routeur", 1))
    with pytest.raises(ScenarioError) as exc:
        Lab.up(bad, pods=1)
    assert f"{bad}:" in str(exc.value)


def test_too_many_pods_is_a_clear_error():
    with pytest.raises(Exception, match="16"):
        Lab.up(STD, pods=17)
