"""Build step of the wheel; the project's metadata is in pyproject.toml.

The run-time data stays where the project keeps it, in the repository's top-level
``playbooks/``, ``scenarios/`` and ``images/`` (the source of truth); building the wheel
copies them into the package as ``tai_lab/_data/<name>``, where ``tai_lab.paths.data_dir``
finds them through importlib.resources. An editable install copies nothing: it reads the
checkout's folders.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("playbooks", "scenarios", "images")       # = tai_lab.paths.DATA_DIRS
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


class BuildWithData(build_py):
    """build_py, plus the top-level data folders copied to ``tai_lab/_data/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for name in DATA_DIRS:
            target = Path(self.build_lib) / "tai_lab" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(here / name, target, ignore=_SKIP)


setup(cmdclass={"build_py": BuildWithData})
