"""tai-lab as a trainer installs it: a wheel in a fresh virtual environment, used from an
empty directory, far from any checkout (the wheel and the environment: tests/conftest.py).
A lab brought up and down by the installed tool: tests/integration/test_installed.py.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from ..installed import ROOT, run as _run

DATA_DIRS = ("playbooks", "scenarios", "images")

pytestmark = pytest.mark.timeout(600)


def test_the_wheel_holds_every_file_tai_lab_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = []
    for f in (ROOT / "tai_lab").rglob("*"):
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
            rel = f.relative_to(ROOT).as_posix()
            if rel not in names:
                missing.append(rel)
    for name in DATA_DIRS:
        for f in (ROOT / name).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                rel = f"tai_lab/_data/{f.relative_to(ROOT).as_posix()}"
                if rel not in names:
                    missing.append(rel)
    assert not missing, f"not in the wheel: {missing}"
    assert not [n for n in names if n.startswith(("playbooks/", "scenarios/", "images/", "tests/"))]


def test_tai_lab_comes_from_the_wheel(venv):
    out = _run([venv["python"], "-c", "import tai_lab, tai_lab.paths as p; print(tai_lab.__file__); "
                                      "print(p.data_dir('playbooks'))"], venv["cwd"], venv["env"]).stdout.split()
    assert out[0].startswith(str(venv["site"])), out
    assert out[1].startswith(str(venv["site"])) and out[1].endswith("tai_lab/_data/playbooks"), out


def test_interventions_from_an_empty_directory(venv):
    proc = _run([venv["tai_lab"], "--json", "interventions"], venv["cwd"], venv["env"])
    ids = {i["id"] for i in json.loads(proc.stdout)}
    assert {"dns-failure", "switch-port-shut"} <= ids
    cover = json.loads(_run([venv["tai_lab"], "--json", "interventions", "--coverage"], venv["cwd"],
                            venv["env"]).stdout)
    assert any(r["interventions"] for r in cover)


def test_init_then_validate_then_own_interventions(venv):
    run = lambda *a: _run([venv["tai_lab"], *a], venv["cwd"], venv["env"])   # noqa: E731
    run("init", "centre")
    assert (venv["cwd"] / "centre/plateau.yaml").is_file()
    assert "Plateau technique TAI" in (venv["cwd"] / "centre/plateau.yaml").read_text()
    assert json.loads(run("--json", "validate", "centre/plateau.yaml").stdout)["valid"] is True
    run("interventions", "--export", "dns-failure", "centre/interventions")
    listed = json.loads(run("--json", "interventions", "--scenario", "centre/plateau.yaml").stdout)
    assert "dns-failure" in {i["id"] for i in listed}
    # A copy of the standard scenario validates too (the case).
    std = Path(_run([venv["python"], "-c", "import tai_lab.paths as p; print(p.data_dir('scenarios'))"],
                    venv["cwd"], venv["env"]).stdout.strip()) / "tai-standard.yaml"
    shutil.copyfile(std, venv["cwd"] / "ma-copie.yaml")
    run("validate", "ma-copie.yaml")


def test_templates_and_static_files_are_found(venv):
    script = ("import importlib.resources as r; t = r.files('tai_lab');"
              "print(all((t / p).is_file() for p in ('jury/templates/base.html', 'jury/static/console.css',"
              " 'prep/templates/cahier.html.j2', 'backends/libvirt/templates/domain.xml.j2')))")
    assert _run([venv["python"], "-c", script], venv["cwd"], venv["env"]).stdout.strip() == "True"
    # The libvirt objects render from the installed templates.
    _run([venv["python"], "-c", "from tai_lab.backends.libvirt import xml as lx; "
                                "assert 'tai' in lx.render_network('tai', 'tai-net', 'test')"],
         venv["cwd"], venv["env"])
