"""What the scenario files' structure check costs (issue 11): the walk that refuses alias bombs,
deep nesting and oversized files before anything is built, against the safe YAML load it
guards, on the standard scenario. Side by side in one run, best of several rounds each.

    python3 bench/input_check.py [--rounds 7] [--n 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import write_section  # noqa: E402
sys.path.insert(0, str(ROOT))

from tai_lab import yaml_input  # noqa: E402

TITLE = "## Scenario input check (issue 11)"


def best(f, n: int, rounds: int) -> float:
    f()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - start) / n)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    text = (ROOT / "scenarios/tai-standard.yaml").read_text(encoding="utf-8")
    rows = []
    for _ in range(3):       # alternated, so the machine's noise falls on both
        check = best(lambda: yaml_input.check_structure(text), args.n, args.rounds)
        load = best(lambda: yaml_input.loader("safe").load(text), args.n, args.rounds)
        rows.append((check, load))
    check = min(r[0] for r in rows)
    load = min(r[1] for r in rows)
    lines = [
        TITLE,
        "",
        f"Command: `python3 bench/input_check.py --rounds {args.rounds} --n {args.n}`  ",
        f"Run {time.strftime('%Y-%m-%d %H:%M')}; scenarios/tai-standard.yaml ({len(text.encode())} bytes).",
        "",
        "| | best time per file (ms) |",
        "|---|---:|",
        f"| structure check (aliases, depth, size) | {check * 1000:.2f} |",
        f"| safe YAML load it guards | {load * 1000:.2f} |",
        "",
        f"**The check costs {check / load:.0%} of the load** (target: under 50 %).",
        "",
    ]
    print(write_section(Path(args.out), TITLE, lines))


if __name__ == "__main__":
    main()
