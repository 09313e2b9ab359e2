"""tai-lab as a trainer installs it: a wheel in a fresh virtual environment, used from an
empty directory, far from any checkout.

The wheel is built from a copy of the project's files (the checkout stays clean) the way
pip builds it for anyone; the environment sees the system's packages (the heavy
dependencies are not downloaded again) but tai_lab itself comes from the wheel, which the
test checks before anything else.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_DIRS = ("playbooks", "scenarios", "images")
_SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info",
                               ".ruff_cache", ".pytest_cache", ".mypy_cache", ".venv", ".vagrant")

pytestmark = pytest.mark.timeout(600)


def _run(argv: list[str], cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP, symlinks=True)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(src)], work)
    [whl] = (work / "dist").glob("tai_lab-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict:
    where = tmp_path_factory.mktemp("venv")
    env_dir = where / "env"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], where)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], where)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    empty = where / "salle"
    empty.mkdir()
    return {"python": str(python), "tai_lab": str(env_dir / "bin" / "tai-lab"), "env": env, "cwd": empty,
            "site": env_dir}


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
