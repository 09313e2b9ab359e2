"""What the directory costs (issue 16): memory per pod of the domain controller and of sssd on
the members, the time `up` takes with a domain, and each directory intervention's inject (from
the command to the fault proven from the user's machine) and restore.

Memory is the PSS of every process of a unit (samba-ad-dc on the controller, sssd on each
member), read inside the node through the trainer's door, and the PSS of the whole controller
node (all its processes) for comparison. Medians go to docs/benchmarks.md (the section of the
same name is replaced).

    sudo python3 bench/directory.py [--rounds 3] [--only ad-account-disabled,ad-share-group]
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

from tai_lab.interventions import load_catalogue  # noqa: E402
from tai_lab.lab import Lab  # noqa: E402

LAB = "bdir"
TITLE = "## Directory on the nspawn backend (issue 16)"


def unit_pss(unit: str) -> str:
    """Shell: the PSS (KiB) of every process of ``unit``, one number a line (cgroup v2, or the v1
    "systemd" hierarchy of a hybrid node)."""
    return (f"cg=$(systemctl show -P ControlGroup {unit}); "
            "for p in $(cat /sys/fs/cgroup$cg/cgroup.procs /sys/fs/cgroup/systemd$cg/cgroup.procs 2>/dev/null "
            "| sort -u); do awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null; done")


# Every process of the node (its own /proc: the container's PID namespace).
NODE_PSS = "for p in /proc/[0-9]*; do awk '/^Pss:/{print $2}' $p/smaps_rollup 2>/dev/null; done"


def mib(lab: Lab, node: str, script: str) -> float:
    out = lab.exec(1, node, ["sh", "-c", script], timeout=60).stdout
    return sum(int(x) for x in out.split() if x.isdigit()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--settle", type=float, default=30.0, help="seconds after `up` before memory is read")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tai-bench-dir-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = home / "bdir.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", (ROOT / "scenarios/tai-domaine.yaml").read_text(),
                               count=1, flags=re.M))
    cat = load_catalogue()
    ids = [x for x in args.only.split(",") if x] or [i.id for i in cat.interventions.values() if i.needs_directory]
    rows = []
    try:
        t = time.monotonic()
        lab = Lab.up(scenario, pods=1)
        up_s = time.monotonic() - t
        time.sleep(args.settle)
        memory = {"samba-ad-dc (srv)": mib(lab, "srv", unit_pss("samba-ad-dc.service")),
                  "whole srv node": mib(lab, "srv", NODE_PSS),
                  "sssd (pc1)": mib(lab, "pc1", unit_pss("sssd.service")),
                  "sssd (pc2)": mib(lab, "pc2", unit_pss("sssd.service"))}
        print(memory, flush=True)
        for iid in ids:
            variant = cat.get(iid).variants[0].id
            inj, rst = [], []
            for _ in range(args.rounds):
                t = time.monotonic()
                lab.inject(iid, 1, variant=variant)
                inj.append(time.monotonic() - t)
                t = time.monotonic()
                lab.restore(1, iid)
                rst.append(time.monotonic() - t)
            rows.append((iid, variant, statistics.median(inj), statistics.median(rst)))
            print(f"{iid}/{variant}: inject → proven {rows[-1][2]:.2f}s, restore {rows[-1][3]:.2f}s", flush=True)
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)
    write(args, up_s, memory, rows)


def write(args, up_s: float, memory: dict[str, float], rows) -> None:
    load = os.getloadavg()[0]
    added = memory["whole srv node"] + memory["sssd (pc1)"] + memory["sssd (pc2)"]
    lines = [
        TITLE, "",
        f"Command: `sudo python3 bench/directory.py --rounds {args.rounds}`  ",
        f"Machine: {os.cpu_count()} cores, load average {load:.1f} at the end; run {time.strftime('%Y-%m-%d %H:%M')}; "
        f"scenario tai-domaine, one pod; first variant of each directory intervention, median of {args.rounds} "
        "rounds.", "",
        f"`up` of one pod with its domain (provision of the controller, the LDIF batch, two members joined): "
        f"{up_s:.0f} s.", "",
        "| memory (PSS, MiB) | |", "|---|---:|",
        *[f"| {k} | {v:.0f} |" for k, v in memory.items()],
        "",
        f"What the domain adds to a pod: at most {added:.0f} MiB (the whole controller node, which also serves DHCP "
        "and the intranet, plus sssd on both members); the samba processes dominate.", "",
        "| intervention (variant) | inject → proven broken from the user's machine (s) | restore (s) |",
        "|---|---:|---:|",
        *[f"| {i} ({v}) | {a:.2f} | {b:.2f} |" for i, v, a, b in rows],
        "",
        "Inject includes Ansible's start-up (about 1.5 s, the same for every intervention: docs/architecture.md) "
        "and the checks from the user's machine (a PAM login through sssd, kinit, SMB with a ticket: about "
        "2 s when refused). Target: ≤ 3 s: "
        + (f"met (median {statistics.median(r[2] for r in rows):.2f} s)." if rows and
           statistics.median(r[2] for r in rows) <= 3 else
           f"not met on this run (median {statistics.median(r[2] for r in rows) if rows else 0:.2f} s, "
           f"load average {load:.1f} on {os.cpu_count()} cores)."), "",
    ]
    section = write_section(Path(args.out), TITLE, lines)
    print(section)


if __name__ == "__main__":
    main()
