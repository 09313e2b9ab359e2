"""Unit-test options: ``--update-golden`` (or TAI_LAB_UPDATE_GOLDEN=1) rewrites golden files."""
from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/unit/golden/* from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be regenerated rather than compared."""
    return bool(request.config.getoption("--update-golden", default=False)) or os.environ.get(
        "TAI_LAB_UPDATE_GOLDEN", ""
    ) not in ("", "0")
