"""Benchmarks of the interventions on the nspawn backend (issue 3).

For every intervention (first variant), over several rounds on one pod: inject latency
(command to proven broken, through the API and as a `tai-lab inject` command), check latency
while broken and once restored, restore time, and how long until the checks pass again.
Medians go to docs/benchmarks.md (the section of the same name is replaced).

    sudo python3 bench/interventions.py [--rounds 3] [--only dns-failure,slowness]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import write_section  # noqa: E402
sys.path.insert(0, str(ROOT))

from tai_lab.interventions import load_catalogue  # noqa: E402
from tai_lab.lab import Lab  # noqa: E402

LAB = "bint"
TITLE = "## Interventions on the nspawn backend (issue 3)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tai-bench-int-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = home / "bint.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", (ROOT / "scenarios/tai-standard.yaml").read_text(),
                               count=1, flags=re.M))
    ids = [x for x in args.only.split(",") if x] or load_catalogue().ids
    rows = []
    try:
        lab = Lab.up(scenario, pods=1)
        for iid in ids:
            inj, chk_broken, chk_ok, rst, working, cli = [], [], [], [], [], []
            for _ in range(args.rounds):
                t = time.monotonic()
                lab.inject(iid, 1)
                inj.append(time.monotonic() - t)
                t = time.monotonic()
                (c,) = lab.check(1, iid)
                chk_broken.append(time.monotonic() - t)
                assert not c.fixed
                t = time.monotonic()
                lab.restore(1, iid)
                rst.append(time.monotonic() - t)
                # The same checks, polled as the jury's watch does until they pass (a link that
                # comes back still has to learn its neighbour again) ...
                item = lab.engine().catalogue.get(iid)
                from tai_lab.interventions.discover import Discovery
                from tai_lab.probes import run_probes
                ctx = Discovery(lab, 1).context(item, item.variants[0])
                probes = lab.engine().probes_for(item, item.variants[0], ctx)
                working.append(until_working(lab, probes, t))
                # ... then one check of a working pod (what the watch costs once the fault is fixed)
                t = time.monotonic()
                res = run_probes(1, probes, lab.backend.transport)
                chk_ok.append(time.monotonic() - t)
                assert all(r.passed for r in res), [r.evidence for r in res if not r.passed]
                # The same inject from the command line, as the jury types it: a new process
                # (interpreter, imports, the lab's scenario) up to the proof and the symptom shown.
                t = time.monotonic()
                proc = subprocess.run([sys.executable, "-m", "tai_lab.cli", "inject", iid, "--pod", "1"],
                                      capture_output=True, text=True)
                cli.append(time.monotonic() - t)
                assert proc.returncode == 0, proc.stdout + proc.stderr
                lab.restore(1, iid)
                until_working(lab, probes, time.monotonic())
            rows.append((iid, statistics.median(inj), statistics.median(chk_broken),
                         statistics.median(chk_ok), statistics.median(rst), statistics.median(working),
                         statistics.median(cli)))
            print(f"{iid}: inject {rows[-1][1]:.2f}s check(broken) {rows[-1][2]:.2f}s "
                  f"check(ok) {rows[-1][3]:.2f}s restore {rows[-1][4]:.2f}s "
                  f"checks pass after {rows[-1][5]:.2f}s; tai-lab inject {rows[-1][6]:.2f}s", flush=True)
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)
    write(args, rows)


def until_working(lab, probes, since: float) -> float:
    """Poll the checks as the jury's watch does until they pass; seconds since ``since``."""
    from tai_lab.probes import run_probes
    while True:
        res = run_probes(1, probes, lab.backend.transport)
        if all(r.passed for r in res):
            return time.monotonic() - since
        assert time.monotonic() - since < 30, [r.evidence for r in res if not r.passed]
        time.sleep(0.2)


def silence_note(rows) -> list[str]:
    slow = [f"{r[0]} ({'working' if r[3] > r[2] else 'broken'})" for r in rows if max(r[2], r[3]) > 0.5]
    if not slow:
        return []
    return ["Checks above 0.5 s: " + ", ".join(slow) + ". Each concludes from silence, so it takes the "
            "backend's silence window (0.5 s on containers, see docs/architecture.md): a dead link, a "
            "router that no longer forwards, or (duplicate-ip) no other machine answering for the address.", ""]


def write(args, rows) -> None:
    lines = [
        TITLE, "",
        f"Command: `sudo python3 bench/interventions.py --rounds {args.rounds}`  ",
        f"Machine: {os.cpu_count()} cores; run {time.strftime('%Y-%m-%d %H:%M')}; first variant of each "
        f"intervention, median of {args.rounds} rounds, one pod.", "",
        "| intervention | inject → proven broken (s) | `tai-lab inject` command (s) | check while broken (s) "
        "| check when working (s) | restore (s) | restore → checks pass (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {i} | {a:.2f} | {f:.2f} | {b:.2f} | {c:.2f} | {d:.2f} | {e:.2f} |" for i, a, b, c, d, e, f in rows],
        "",
        "The first column is `Lab.inject` (what the jury console calls); the second, the same inject typed "
        "as a command, in a new process each time: the difference is the interpreter, the imports and "
        "reading the lab's scenario.", "",
        f"Median over interventions: inject {statistics.median(r[1] for r in rows):.2f} s "
        f"(command: {statistics.median(r[6] for r in rows):.2f} s, slowest {max(r[6] for r in rows):.2f} s), "
        f"check when working {statistics.median(r[3] for r in rows):.2f} s, "
        f"check while broken {statistics.median(r[2] for r in rows):.2f} s "
        "(targets: inject < 3 s, check < 0.5 s).", "",
        *silence_note(rows),
    ]
    out = Path(args.out)
    section = write_section(out, TITLE, lines)
    print(section)


if __name__ == "__main__":
    main()
