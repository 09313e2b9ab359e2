"""Archives: `down` keeps the candidates' evidence; only `archives remove` deletes it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tai_lab import archive
from tai_lab.errors import NotFoundError
from tai_lab.evidence import EvidenceLog
from tai_lab.state import LabState

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    return tmp_path


def _lab_with_evidence(name: str = "std") -> LabState:
    state = LabState(name)
    state.data = {"lab": name, "title": "Plateau TAI", "pod_count": 2, "backend": "nspawn", "pods": {}}
    state.save()
    (state.dir / "scenario.yaml").write_text("lab: std\n")
    state.journal.event("phase", pod=1, phase="jury")
    log = EvidenceLog(state.dir, 1)
    log.record("candidate", actor="web:jury", name="Camille Dupont")
    log.record("inject-begin", id="intranet-down", variant="service-stopped")
    log.record("inject", id="intranet-down", variant="service-stopped", seconds=2, evidence=[])
    log.record("check", id="intranet-down", variant="service-stopped", fixed=True, evidence=[])
    (state.dir / "prep").mkdir()
    (state.dir / "prep" / "seal-pod1.json").write_text("{}")
    (state.dir / "plan.pickle").write_bytes(b"not kept")
    return state


def test_an_archive_is_a_checked_copy_with_a_manifest(home):
    state = _lab_with_evidence()
    assert archive.has_evidence(state.dir)
    a = archive.archive_lab(state, actor="cli:root")
    assert a.dir.parent == home / "archives" and a.dir.name.startswith("std-")
    assert (a.dir / "evidence" / "pod-1.jsonl").read_bytes() == (state.dir / "evidence" / "pod-1.jsonl").read_bytes()
    assert sorted(a.manifest["files"]) == ["evidence/pod-1.jsonl", "journal.jsonl", "prep/seal-pod1.json",
                                           "scenario.yaml", "state.json"]
    assert not (a.dir / "plan.pickle").exists()
    assert a.pods == [1, 2] and a.manifest["archived_by"] == "cli:root" and a.damaged() == []
    assert not list((home / "archives").glob(".*"))            # no half-made archive left
    # a second `down` of a lab of the same name the same second: another archive, not over it
    b = archive.archive_lab(state)
    assert b.dir != a.dir and [x.archive_name for x in archive.list_archives("std")] == [a.archive_name, b.archive_name]
    assert archive.find("std").archive_name == b.archive_name and archive.find(a.archive_name).dir == a.dir
    (a.dir / "evidence" / "pod-1.jsonl").write_text("tampered\n")
    assert a.damaged() == ["evidence/pod-1.jsonl: changed"]


def test_no_evidence_no_archive(home):
    state = LabState("empty")
    state.data = {"pod_count": 1}
    state.save()
    assert not archive.has_evidence(state.dir)


def test_the_report_is_made_from_an_archive(home):
    from tai_lab.jury import report
    a = archive.archive_lab(_lab_with_evidence())
    html = report.render_html(a, 1)
    assert "Camille Dupont" in html and "Plateau TAI" in html and "réparé" in html
    assert report.filename(a, 1) == "rapport-std-pod1-Camille-Dupont"
    with pytest.raises(NotFoundError, match="no pod 3"):
        a.evidence(3)
    with pytest.raises(NotFoundError, match="no archive named 'nope'"):
        archive.find("nope")


def test_remove_logs_what_it_removed(home):
    a = archive.archive_lab(_lab_with_evidence())
    with pytest.raises(NotFoundError, match="lab's name"):
        archive.remove("std")                      # a lab's name is not enough to delete
    rec = archive.remove(a.archive_name, actor="cli:root")
    assert not a.dir.exists() and rec["by"] == "cli:root"
    (line,) = (home / "archives" / "removals.jsonl").read_text().splitlines()
    logged = json.loads(line)
    assert logged["removed"]["candidates"]["1"] == ["Camille Dupont"] and "evidence/pod-1.jsonl" in logged["files"]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TAI_LAB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, cwd=str(home))


def test_cli_archives_list_report_and_remove(home):
    a = archive.archive_lab(_lab_with_evidence())
    import shutil
    shutil.rmtree(home / "labs")                   # the lab is down
    r = _cli("archives", "list", "--json", home=home)
    (row,) = json.loads(r.stdout)
    assert row["archive"] == a.archive_name and row["candidates"]["1"] == ["Camille Dupont"]
    r = _cli("report", "--archive", a.archive_name, "--pod", "1", "--format", "html", "-o", "r.html", home=home)
    assert r.returncode == 0, r.stderr
    assert "Camille Dupont" in (home / "r.html").read_text()
    r = _cli("report", "--lab", "std", "--pod", "1", "--format", "html", "-o", "r2.html", home=home)
    assert r.returncode == 0 and "archive" in r.stderr, r.stderr       # the lab is down: its archive
    r = _cli("archives", "remove", a.archive_name, home=home)
    assert r.returncode == 3 and "--yes" in r.stderr and "Traceback" not in r.stderr
    assert "Camille Dupont" in r.stderr and a.dir.is_dir()             # says what it would remove
    r = _cli("archives", "remove", a.archive_name, "--yes", home=home)
    assert r.returncode == 0 and not a.dir.exists(), r.stderr


def test_report_without_a_lab_up_points_to_the_archives(home):
    import shutil
    archive.archive_lab(_lab_with_evidence())
    shutil.rmtree(home / "labs")
    r = _cli("report", "--pod", "1", home=home)
    assert r.returncode == 4 and "--archive" in r.stderr and "Traceback" not in r.stderr
