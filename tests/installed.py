"""tai-lab as a trainer installs it: a wheel built from a copy of the project's files (the
checkout stays clean) the way pip builds it for anyone, installed in a fresh virtual environment
used from an empty directory, far from any checkout. The environment sees the system's packages
(the heavy dependencies are not downloaded again) but tai_lab itself comes from the wheel, which
tests/package/test_wheel.py checks before anything else.

The fixtures ``wheel`` and ``venv`` (tests/conftest.py) build both once per test session, for
tests/package/ and for tests/integration/test_installed.py.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info",
                               ".ruff_cache", ".pytest_cache", ".mypy_cache", ".venv", ".vagrant")


def run(argv: list[str], cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command; a failure shows its command line and both outputs."""
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def build_wheel(work: Path) -> Path:
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP, symlinks=True)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(src)], work)
    [whl] = (work / "dist").glob("tai_lab-*.whl")
    return whl


def make_venv(wheel: Path, where: Path) -> dict:
    """The wheel in a new environment; what to run it with, and an empty directory to run it in."""
    env_dir = where / "env"
    run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], where)
    python = env_dir / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         str(wheel)], where)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    empty = where / "salle"
    empty.mkdir()
    return {"python": str(python), "tai_lab": str(env_dir / "bin" / "tai-lab"), "env": env, "cwd": empty,
            "site": env_dir}
