"""What the service desk costs (issue 16): the desk node's memory, and inject → ticket opened.

On a lab of scenarios/tai-servicedesk.yaml that is up (``--lab``, default the only one):

* **memory**: the PSS of every process of the desk node (RT's web server, systemd, journald…),
  read in the node through the trainer's door after ``--idle`` seconds without requests, then
  again after the rounds below (RT's Perl grows as its pages are compiled);
* **ticket**: each round injects ``--intervention`` (default intranet-down) with the API, as the
  console does; the time from the end of the inject's playbook to the ticket's existence is
  read from the lab's journal (the "applied" and "ticket" events), and the whole inject
  (playbook, ticket, fault proven from the user's machine) is timed too; then restore.
  A REST 2 read of the ticket (what the console's check adds) is timed last.

    sudo python3 bench/servicedesk.py --lab desk [--pod 1] [--rounds 5] [--idle 20] [--write]

``--write`` replaces the "Service desk" section of docs/benchmarks.md with the result.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._sections import write_section  # noqa: E402
from tai_lab.lab import Lab  # noqa: E402
from tai_lab.servicedesk import DeskClient, desk_of  # noqa: E402

PSS = "for p in /proc/[0-9]*; do awk '/^Pss:/{print $2}' $p/smaps_rollup 2>/dev/null; done"
TOP = ("for p in /proc/[0-9]*; do n=$(cat $p/comm 2>/dev/null); "
       "k=$(awk '/^Pss:/{print $2}' $p/smaps_rollup 2>/dev/null); [ -n \"$k\" ] && echo \"$k $n\"; done "
       "| sort -rn | head -n 4")


def pss_mib(lab: Lab, pod: int, node: str) -> tuple[float, str]:
    run = lab.backend.transport(pod, node).run
    kib = sum(int(x) for x in run(["sh", "-c", PSS], timeout=60).stdout.split())
    top = ", ".join(f"{line.split()[1]} {int(line.split()[0]) / 1024:.0f}"
                    for line in run(["sh", "-c", TOP], timeout=60).stdout.splitlines() if line.strip())
    return kib / 1024, top


def journal_gap(lab: Lab, pod: int, iid: str) -> float:
    """Seconds between the last inject's "applied" and "ticket" events in the lab's journal."""
    applied = ticket = None
    for r in lab.state.journal.records():
        d = r.get("data") or {}
        if r.get("kind") == "intervention" and d.get("pod") == pod and d.get("id") == iid:
            if d.get("step") == "applied":
                applied, ticket = r["t"], None
            elif d.get("step") == "ticket":
                ticket = r["t"]
    if applied is None or ticket is None:
        raise SystemExit(f"no ticket recorded for {iid}: is there a service desk on pod {pod}?")
    return ticket - applied


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab")
    ap.add_argument("--pod", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--idle", type=float, default=20)
    ap.add_argument("--intervention", default="intranet-down")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    lab = Lab(a.lab)
    desk = desk_of(lab.plan.pod(a.pod))
    if desk is None:
        raise SystemExit(f"pod {a.pod} of lab {lab.name} has no service desk (scenarios/tai-servicedesk.yaml)")
    load_before = os.getloadavg()[0]
    time.sleep(a.idle)
    idle, idle_top = pss_mib(lab, a.pod, desk.node)
    print(f"desk node {desk.node}: {idle:.0f} MiB PSS idle ({idle_top})", flush=True)
    gaps, injects, reads = [], [], []
    client = DeskClient(desk, lab.backend.transport)
    for i in range(a.rounds):
        t0 = time.monotonic()
        res = lab.inject(a.intervention, pod=a.pod, actor="bench")
        injects.append(time.monotonic() - t0)
        gaps.append(journal_gap(lab, a.pod, a.intervention))
        t0 = time.monotonic()
        client.ticket(int(res.ticket["id"]))
        reads.append(time.monotonic() - t0)
        lab.restore(a.pod, a.intervention, actor="bench")
        print(f"round {i + 1}: ticket {gaps[-1]:.2f} s after the playbook, inject {injects[-1]:.2f} s, "
              f"read {reads[-1]:.2f} s", flush=True)
    busy, busy_top = pss_mib(lab, a.pod, desk.node)
    load_after = os.getloadavg()[0]
    med = statistics.median
    print(f"median: ticket {med(gaps):.2f} s after the inject's change (target ≤ 2 s), whole inject "
          f"{med(injects):.2f} s, ticket read {med(reads):.2f} s; desk {idle:.0f} → {busy:.0f} MiB PSS")
    if not a.write:
        return
    runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    lines = [
        "## Service desk (issue 16)", "",
        f"Command: `sudo python3 bench/servicedesk.py --lab {lab.name} --rounds {a.rounds} --idle {a.idle:g} --write` "
        "(a 1-pod tai-servicedesk lab up)  ",
        f"Machine: 2 cores shared with other engineers' test runs; run {time.strftime('%Y-%m-%d %H:%M')}; "
        f"**load average {min(load_before, load_after):.0f}–{max(load_before, load_after):.0f}** during the run.", "",
        "| | measured, median (runs) | target |", "|---|---:|---:|",
        f"| ticket opened after the fault is applied (journal: applied → ticket) | {med(gaps):.2f} s ({runs(gaps)}) "
        "| ≤ 2 s |",
        f"| whole inject of {a.intervention} (playbook, ticket, fault proven) | {med(injects):.2f} s "
        f"({runs(injects)}) | |",
        f"| ticket read for the console (REST 2: ticket, history, links) | {med(reads):.2f} s ({runs(reads)}) | |",
        f"| desk node memory, PSS of all its processes, idle | {idle:.0f} MiB | with the directory: ≤ 400 MiB per pod |",
        f"| desk node memory after the rounds | {busy:.0f} MiB | |", "",
        f"Largest processes, idle: {idle_top}; after the rounds: {busy_top} (MiB).",
    ]
    print(write_section(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", lines[0], lines))


if __name__ == "__main__":
    main()
