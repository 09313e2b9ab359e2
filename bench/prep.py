"""Benchmarks of the prep phase on the nspawn backend (issue 6).

Brings up N pods, then measures: `prep start` of all pods (the first time, which builds
each pod's prep start state, and again, which only reverts to it), the seal of one pod
(machines off, snapshot, manifest) and the seal's verification before the jury phase.
Each pod gets a small candidate's work first (a server address, dnsmasq from the depot)
so the seal has something to hash. Results go to docs/benchmarks.md (its section is replaced).

    sudo python3 bench/prep.py [--pods 2] [--rounds 2]
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
from tai_lab.prep import depot, phase, seal  # noqa: E402

LAB = "tpr2"
TITLE = "## Prep phase on the nspawn backend (issue 6)"
WORK = ("printf 'auto lo\\niface lo inet loopback\\nauto eth0\\niface eth0 inet static\\n  address {srv}/24\\n"
        "  gateway {gw}\\n' > /etc/network/interfaces && ifup eth0 && apt-get update -q && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsmasq")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tai-bench-prep-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = home / f"{LAB}.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", (ROOT / "scenarios/tai-standard.yaml").read_text(),
                               count=1, flags=re.M))
    depot.build(progress=print)
    res: dict[str, list[float]] = {"start-first": [], "start-again": [], "seal": [], "verify": [],
                                   "jury": [], "files": []}
    try:
        lab = Lab.up(scenario, pods=args.pods, progress=print)
        t = time.monotonic()
        phase.start(lab)
        res["start-first"].append(time.monotonic() - t)
        for _ in range(args.rounds):
            t = time.monotonic()
            phase.start(lab)
            res["start-again"].append(time.monotonic() - t)
            v = lab.plan.pod(1).prep.values
            out = lab.exec(1, "srv", ["sh", "-c", WORK.format(srv=v["address.srv"], gw=v["gateway.servers"])],
                           timeout=300)
            assert out.ok, out.brief()
            t = time.monotonic()
            done = seal.seal(lab, 1)
            res["seal"].append(time.monotonic() - t)
            res["files"].append(done[1]["files"])
            t = time.monotonic()
            assert seal.verify(lab, 1) == []
            res["verify"].append(time.monotonic() - t)
            t = time.monotonic()
            lab.set_phase("jury", 1)          # verifies again, then boots the pod
            res["jury"].append(time.monotonic() - t)
            print({k: [round(x, 2) for x in v] for k, v in res.items()}, flush=True)
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)
    write(args, res)


def write(args, res: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in res.items() if v}
    lines = [
        TITLE, "",
        f"Command: `sudo python3 bench/prep.py --pods {args.pods} --rounds {args.rounds}`  ",
        f"Machine: {os.cpu_count()} cores (shared with other work); run {time.strftime('%Y-%m-%d %H:%M')}.", "",
        "| step | median (s) | runs (s) |", "|---|---:|---|",
        f"| `prep start`, {args.pods} pods, first time (builds each pod's start state: bare layers, "
        f"purge, snapshot) | {med['start-first']:.1f} | {', '.join(f'{x:.1f}' for x in res['start-first'])} |",
        f"| `prep start`, {args.pods} pods, again (revert to the start state) | {med['start-again']:.1f} | "
        f"{', '.join(f'{x:.1f}' for x in res['start-again'])} |",
        f"| `prep seal --pod 1` (off, snapshot, manifest of {int(med['files'])} entries) | {med['seal']:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in res['seal'])} |",
        f"| seal verification (manifest recomputed) | {med['verify']:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in res['verify'])} |",
        f"| `phase jury --pod 1` on a sealed pod (verify + boot + Internet) | {med['jury']:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in res['jury'])} |", "",
        "The seal's cost grows with what the candidate wrote (here: a server address and dnsmasq installed "
        "from the depot); its verification hashes the same files. `prep start` is per pod and serial: "
        "the first time scales with the pods (purge + snapshot), afterwards each pod is a revert.",
        *([f"Run with {args.pods} pods on a machine shared with other agents; the 16-pod run "
           "(`--pods 16`) is still to do."] if args.pods < 16 else []), "",
    ]
    out = Path(args.out)
    section = write_section(out, TITLE, lines)
    print(section)


if __name__ == "__main__":
    main()
