"""Write one bench's section of docs/benchmarks.md, replacing the previous one of the same title."""
from __future__ import annotations

import re
from pathlib import Path

HEADER = "# Benchmarks\n\nEach section says the command that produced it.\n"


def write_section(out: Path, title: str, lines: list[str]) -> str:
    """``title`` is the section's heading line (``## …``); everything up to the next ``## `` is replaced."""
    text = out.read_text() if out.exists() else HEADER
    section = "\n".join(lines)
    pattern = re.compile(re.escape(title) + r".*?(?=\n## |\Z)", re.S)
    # A function as replacement: the section is inserted as is (backslashes included).
    text = pattern.sub(lambda _m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    out.write_text(text)
    return section
