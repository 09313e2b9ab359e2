"""Benchmarks of the plateau on the nspawn backend (issue 2).

Measures, in one run so the ratios compare like with like on a noisy machine:
  * `up` time for each pod count asked (default 1, 4, 16), and memory per pod
    (the lab's processes' proportional set size, read from /proc/*/smaps_rollup);
  * `reset` of one pod against destroy + rebuild of the same pod (ratio), several rounds.

Writes a section of docs/benchmarks.md (replacing the previous one of the same name).

    sudo python3 bench/plateau.py [--pods 1,4,16] [--rounds 3]
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

LAB = "bench"
LOAD_AT_START = os.getloadavg()[0]


def scenario_copy(tmp: Path) -> Path:
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    path = tmp / "bench.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M))
    return path


def lab_pss_kib(lab: Lab) -> dict[str, int]:
    """PSS of every process inside the lab's containers, grouped by pod ('isp' for the ISP)."""
    out: dict[str, int] = {}
    for res in lab.state.journal.live():
        if res.kind != "process":
            continue
        pid = lab.backend._verified_pid(res)
        if not pid:
            continue
        group = "isp" if res.pod is None else str(res.pod)
        out[group] = out.get(group, 0) + _tree_pss(pid)
    return out


def _tree_pss(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, AttributeError):
            continue
    return total


def cpu_busy() -> tuple[float, float]:
    """(busy, total) seconds of every CPU of the host so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]          # idle + iowait
    return (sum(fields) - idle) / hz, sum(fields) / hz


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", default="1,4,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    counts = [int(x) for x in args.pods.split(",")]

    home = Path(tempfile.mkdtemp(prefix="tai-bench-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = scenario_copy(home)
    rows_up: list[tuple[int, float, float, int, str]] = []
    reset_times: list[float] = []
    steps: list[dict] = []
    rebuild_times: list[float] = []
    cpu_shares: list[float] = []          # the host's CPUs busy during each reset (0–1)
    cpu_seconds: list[float] = []         # CPU time the host spent during each reset
    tiers_times: list[float] = []         # resets booting the clients after the servers (TAI_LAB_BOOT=tiers)
    try:
        for n in counts:
            t = time.monotonic()
            lab = Lab.up(scenario, pods=n, progress=lambda m: print(f"  {m}", flush=True))
            up_s = time.monotonic() - t
            time.sleep(2)
            pss = lab_pss_kib(lab)
            pods = [v for k, v in pss.items() if k != "isp"]
            results = lab.verify()
            ok, total = sum(r.passed for r in results), len(results)
            failed = sorted({f"{r.probe.id}" for r in results if not r.passed})
            rows_up.append((n, up_s, statistics.mean(pods) / 1024, len(pods),
                            f"{ok}/{total}" + (f" (failed: {', '.join(failed)})" if failed else "")))
            print(f"up {n} pods: {up_s:.1f} s, {statistics.mean(pods)/1024:.0f} MiB/pod, verify {ok}/{total}",
                  flush=True)
            if n == counts[0]:
                for _ in range(args.rounds):
                    # The earlier boot (clients started once the DHCP path serves), side by side.
                    lab.exec(1, "pc1", ["sh", "-c", "echo x > /root/x"])
                    os.environ["TAI_LAB_BOOT"] = "tiers"
                    t = time.monotonic()
                    res = lab.reset(pod=1)
                    tiers_times.append(time.monotonic() - t)
                    del os.environ["TAI_LAB_BOOT"]
                    assert all(r.passed for r in res), [r.evidence for r in res if not r.passed]
                    lab.exec(1, "pc1", ["sh", "-c", "echo x > /root/x"])
                    t, (busy0, total0) = time.monotonic(), cpu_busy()
                    res = lab.reset(pod=1)
                    reset_times.append(time.monotonic() - t)
                    busy1, total1 = cpu_busy()
                    cpu_shares.append((busy1 - busy0) / max(total1 - total0, 1e-9))
                    cpu_seconds.append(busy1 - busy0)
                    steps.append(dict(lab.backend.last_timings, verify=round(
                        reset_times[-1] - sum(lab.backend.last_timings.values()), 3)))
                    assert all(r.passed for r in res), [r.evidence for r in res if not r.passed]
                    t = time.monotonic()
                    res = lab.rebuild(1)
                    rebuild_times.append(time.monotonic() - t)
                    assert all(r.passed for r in res), [r.evidence for r in res if not r.passed]
                    print(f"reset {reset_times[-1]:.1f} s, rebuild {rebuild_times[-1]:.1f} s", flush=True)
            t = time.monotonic()
            Lab.down(LAB)
            print(f"down {n} pods: {time.monotonic() - t:.1f} s", flush=True)
    finally:
        from tai_lab.state import existing_labs
        if LAB in existing_labs():
            Lab.down(LAB)

    write(args, rows_up, reset_times, rebuild_times, steps, cpu_shares, tiers_times, cpu_seconds)


def write(args, rows_up, reset_times, rebuild_times, steps, cpu_shares, tiers_times, cpu_seconds) -> None:
    med_reset, med_rebuild = statistics.median(reset_times), statistics.median(rebuild_times)
    lines = [
        "## Plateau on the nspawn backend (issue 2)",
        "",
        f"Command: `sudo python3 bench/plateau.py --pods {args.pods} --rounds {args.rounds}`  ",
        f"Machine: {os.cpu_count()} cores, {round(os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30)} GiB; "
        f"run {time.strftime('%Y-%m-%d %H:%M')}; load average {LOAD_AT_START:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end" + (" (other work on the host: the CPU figures below count it too)."
                                                  if max(LOAD_AT_START, os.getloadavg()[0]) > 1.5 else "."),
        "",
        "| pods | `up` (s) | memory per pod (MiB, PSS) | verify after up |",
        "|---:|---:|---:|---|",
        *[f"| {n} | {s:.1f} | {m:.0f} | {v} |" for n, s, m, _c, v in rows_up],
        "",
        "`up` includes the ISP, every pod's namespaces and containers, Ansible provisioning, and the baseline",
        "snapshot. Memory is the proportional set size of all processes in a pod's containers.",
        "",
        f"| one pod | median of {len(reset_times)} (s) | runs (s) |",
        "|---|---:|---|",
        f"| `reset --pod 1` (revert + verify) | {med_reset:.2f} | {', '.join(f'{x:.2f}' for x in reset_times)} |",
        f"| destroy + rebuild pod 1 (`rebuild --pod 1`, incl. verify) | {med_rebuild:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in rebuild_times)} |",
        f"| `reset` booting the clients after the servers (`TAI_LAB_BOOT=tiers`, before) | "
        f"{statistics.median(tiers_times):.2f} | {', '.join(f'{x:.2f}' for x in tiers_times)} |" if tiers_times else "",
        "",
        f"**Reset is {med_rebuild / med_reset:.1f}× faster than rebuilding the pod** (target: ≥ 20×).",
        "",
        "Where a reset's time goes (median of the rounds, s): " + ", ".join(
            f"{k} {statistics.median(s[k] for s in steps):.2f}" for k in steps[0]) if steps else "",
        "",
        f"The host's {os.cpu_count()} CPUs were busy {statistics.median(cpu_shares):.0%} of a reset's time "
        f"(median; runs: {', '.join(f'{x:.0%}' for x in cpu_shares)}), {statistics.median(cpu_seconds):.2f} "
        f"CPU-seconds per reset: on {os.cpu_count()} cores no reset can take less than "
        f"{statistics.median(cpu_seconds) / (os.cpu_count() or 1):.2f} s without doing less work "
        "(/proc/stat, the whole host: the reset's own on an idle host)." if cpu_shares else "",
        "",
    ]
    out = Path(args.out)
    section = write_section(out, "## Plateau on the nspawn backend (issue 2)", lines)
    print(section)


if __name__ == "__main__":
    main()
