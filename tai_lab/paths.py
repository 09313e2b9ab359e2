"""Where the tool keeps its state on the host, and where its own data files are.

Everything it writes lives under one home (``TAI_LAB_HOME``, default ``/var/lib/tai-lab``):
``images/<name>/`` for built root filesystems and ``labs/<lab>/`` for each lab.

What it reads (playbooks, the intervention catalogue, the référentiel, image recipes, the
starting scenario) ships inside the package as ``tai_lab/_data/<name>``, found through
:mod:`importlib.resources`: ``setup.py`` maps the repository's top-level ``playbooks/``,
``scenarios/`` and ``images/`` there when it builds the wheel. A checkout (editable install,
``PYTHONPATH``) has no ``_data``: its top-level folders are read instead.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
# The data folders the wheel carries (the build step in setup.py copies exactly these).
DATA_DIRS = ("playbooks", "scenarios", "images")


def home() -> Path:
    return Path(os.environ.get("TAI_LAB_HOME", "/var/lib/tai-lab"))


def images_dir() -> Path:
    """Built images; ``TAI_LAB_IMAGES`` lets tests share one cache across lab homes."""
    return Path(os.environ.get("TAI_LAB_IMAGES") or home() / "images")


def labs_dir() -> Path:
    return home() / "labs"


def data_dir(name: str) -> Path:
    """A data folder shipped with tai-lab (``images``, ``playbooks``, ``scenarios``).

    A real directory on disk: Ansible and debootstrap read files by path, so a zipped
    install is refused with a clear error rather than half working."""
    if name not in DATA_DIRS:
        raise ValueError(f"unknown data folder {name!r}")
    bundled = resources.files("tai_lab") / "_data" / name
    if bundled.is_dir():
        if not isinstance(bundled, Path):
            from .errors import PrerequisiteError
            raise PrerequisiteError(f"tai-lab's data ({name}) is inside an archive ({bundled})",
                                    "install tai-lab as files: pip install tai-lab (a wheel, not a zip)")
        return bundled
    checkout = PROJECT_DIR / name
    if (PROJECT_DIR / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    from .errors import PrerequisiteError
    raise PrerequisiteError(f"tai-lab's data folder {name!r} is missing from this installation "
                            f"(looked in {PACKAGE_DIR / '_data'} and {checkout})",
                            "reinstall from a wheel built by `pip wheel .` (or `pip install -e .` in a checkout)")
