"""Benchmark of the reboot check ("Survit au redémarrage ?", issue 15) on the nspawn backend.

One pod; for each case, over several rounds: inject, the candidate's repair, then
`Lab.check_reboot`: the check before, the restart of the machines the repair touched (until
their manager runs), and the checks after. Medians go to docs/benchmarks.md (the section of the
same name is replaced). Target: a reboot check of one node ≤ 15 s on containers.

    sudo python3 bench/reboot.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import write_section  # noqa: E402
sys.path.insert(0, str(ROOT))

from tai_lab.lab import Lab  # noqa: E402

LAB = "breb"
TITLE = "## Reboot check on the nspawn backend (issue 15)"
# (name, intervention, variant, node, the repair, expected verdict)
CASES = [
    ("DNS service enabled and started (srv)", "dns-failure", "service-stopped", "srv",
     "systemctl enable --now named", "fixed"),
    ("DNS service started, not enabled (srv)", "dns-failure", "service-stopped", "srv",
     "systemctl start named", "lost-at-reboot"),
    ("route fixed live only (pc1)", "client-gateway", "static-wrong-gateway", "pc1",
     "ip route replace default via 10.1.10.1", "lost-at-reboot"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tai-bench-reboot-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = home / f"{LAB}.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", (ROOT / "scenarios/tai-standard.yaml").read_text(),
                               count=1, flags=re.M))
    rows = []
    try:
        lab = Lab.up(scenario, pods=1)
        for name, iid, variant, node, repair, want in CASES:
            total, boot = [], []
            for _ in range(args.rounds):
                lab.inject(iid, 1, variant=variant)
                lab.exec(1, node, ["sh", "-c", repair], timeout=60)
                deadline = time.monotonic() + 20
                while not lab.check(1, iid)[0].fixed:
                    assert time.monotonic() < deadline, f"{name}: the repair is not seen"
                    time.sleep(0.3)
                t = time.monotonic()
                res = lab.check_reboot(1, iid)
                total.append(time.monotonic() - t)
                assert res.state == want, (name, res.state)
                t = time.monotonic()
                lab.engine().reboot(1, [node])
                boot.append(time.monotonic() - t)
                lab.restore(1, iid)
            rows.append((name, want, statistics.median(boot), statistics.median(total)))
            print(f"{name}: reboot {rows[-1][2]:.2f}s, reboot check {rows[-1][3]:.2f}s ({want})", flush=True)
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)
    lines = [
        TITLE, "",
        f"Command: `sudo python3 bench/reboot.py --rounds {args.rounds}`  ",
        f"Machine: {os.cpu_count()} cores; run {time.strftime('%Y-%m-%d %H:%M')}; median of {args.rounds} "
        "rounds, one pod.", "",
        "| case | verdict | reboot of the node until its manager runs (s) | whole reboot check (s) |",
        "|---|---|---:|---:|",
        *[f"| {n} | {w} | {b:.2f} | {t:.2f} |" for n, w, b, t in rows], "",
        "The whole reboot check is the check before, the reboot, then the checks polled until they pass "
        "or for 20 s: a repair lost at reboot costs those 20 s of waiting (services and leases take a "
        "moment at boot, a verdict must not be given too early). Target: ≤ 15 s for a repair that holds.", "",
    ]
    print(write_section(Path(args.out), TITLE, lines))


if __name__ == "__main__":
    main()
