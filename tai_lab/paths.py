"""Where the tool keeps its state on the host.

Everything lives under one home (``TAI_LAB_HOME``, default ``/var/lib/tai-lab``):
``images/<name>/`` for built root filesystems and ``labs/<lab>/`` for each lab.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def home() -> Path:
    return Path(os.environ.get("TAI_LAB_HOME", "/var/lib/tai-lab"))


def images_dir() -> Path:
    """Built images; ``TAI_LAB_IMAGES`` lets tests share one cache across lab homes."""
    return Path(os.environ.get("TAI_LAB_IMAGES") or home() / "images")


def labs_dir() -> Path:
    return home() / "labs"


def data_dir(name: str) -> Path:
    """A data directory shipped with the project (images/, playbooks/, scenarios/)."""
    bundled = PACKAGE_DIR / "_data" / name
    return bundled if bundled.is_dir() else PROJECT_DIR / name
