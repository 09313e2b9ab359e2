"""Compare a rendering with its golden file under tests/unit/golden/, with a readable diff.

Regenerate after an intended change with ``TAI_LAB_UPDATE_GOLDEN=1`` (or ``--update-golden``)
and review the change with ``git diff tests/unit/golden/``.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")
MAX_DIFF_LINES = 80


def check_golden(name: str, text: str, *, update: bool, test_file: str) -> None:
    """Fail with a unified diff (golden → now) and the command that regenerates the file."""
    path = GOLDEN / name
    regenerate = f"TAI_LAB_UPDATE_GOLDEN=1 python3 -m pytest {Path(test_file).resolve().relative_to(ROOT)} -q"
    if update:
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {name} is missing; write it with:\n  {regenerate}", pytrace=False)
    want = path.read_text(encoding="utf-8")
    if want == text:
        return
    diff = list(difflib.unified_diff(want.splitlines(), text.splitlines(), f"golden/{name}", f"{name} (now)",
                                     lineterm=""))
    shown = diff[:MAX_DIFF_LINES]
    if len(diff) > MAX_DIFF_LINES:
        shown.append(f"... {len(diff) - MAX_DIFF_LINES} more diff lines")
    pytest.fail(f"{name} differs from its golden file:\n" + "\n".join(shown)
                + f"\n\nIf the change is intended, regenerate it and review `git diff tests/unit/golden/`:\n  {regenerate}",
                pytrace=False)
