"""Fixtures shared by every kind of test: the installed tool (see tests/installed.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .installed import build_wheel, make_venv


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """tai-lab's wheel, built once per session from a copy of the checkout."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> dict:
    """The wheel installed in a fresh environment: python, tai-lab, env, an empty cwd, site."""
    return make_venv(wheel, tmp_path_factory.mktemp("venv"))
