"""What a candidate's desktop costs (issue 13): first frame and memory (PSS) of an idle desktop.

On a lab that is up (``--lab``, default the only one), for one desktop machine: the desktop's
units are stopped if running, then opened the way the portal opens them (the node's VNC
server on its loopback, reached from inside its network namespace); the time until the
screen is drawn (a frame with most pixels lit, read with the jury's screen client) is the
*first frame*; after ``--idle`` seconds, the PSS of every process of the desktop's two units
(Xvnc and the Xfce session, read in the node through the trainer's door) is its memory.
Rounds stop and start the desktop again.

    sudo python3 bench/desktop.py --lab deskd [--pod 1] [--node pc1] [--rounds 3] [--idle 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tai_lab.lab import Lab  # noqa: E402
from tai_lab.stations import screen  # noqa: E402
from tai_lab.stations.desktop import open_desktop  # noqa: E402

# The units' processes from their cgroup (v2, or the v1 "systemd" hierarchy of a hybrid node).
PSS = ("for u in tai-desktop.service tai-desktop-session.service; do cg=$(systemctl show -P ControlGroup $u); "
       "for p in $(cat /sys/fs/cgroup$cg/cgroup.procs /sys/fs/cgroup/systemd$cg/cgroup.procs 2>/dev/null "
       "| sort -u); do awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup; done; done")


def lit(rgb: bytes) -> float:
    step = 3 * 97
    return sum(1 for i in range(0, len(rgb), step) if sum(rgb[i:i + 3]) > 30) / (len(rgb) / step)


def one_round(lab: Lab, pod: int, node: str, user: str, idle: float) -> tuple[float, float]:
    run = lab.backend.transport(pod, node).run
    run(["systemctl", "stop", "tai-desktop-session.service", "tai-desktop.service"], timeout=60)
    t0 = time.monotonic()
    sock = open_desktop(lab, pod, node, user)
    w, h = screen.handshake(sock)
    while lit(screen.frame(sock, w, h)) < 0.3:
        time.sleep(0.2)
        if time.monotonic() - t0 > 180:
            raise SystemExit("the desktop was not drawn in 3 minutes")
    first = time.monotonic() - t0
    time.sleep(idle)
    sock.close()
    res = run(["sh", "-c", PSS], timeout=60)
    kib = sum(int(x) for x in res.stdout.split())
    if not kib:
        raise SystemExit(f"no desktop process found: {res.brief()}")
    return first, kib / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab")
    ap.add_argument("--pod", type=int, default=1)
    ap.add_argument("--node", default="pc1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=float, default=20)
    a = ap.parse_args()
    lab = Lab(a.lab)
    user = lab.plan.pod(a.pod).stations.desktop_user
    firsts, mems = [], []
    for i in range(a.rounds):
        f, m = one_round(lab, a.pod, a.node, user, a.idle)
        firsts.append(f)
        mems.append(m)
        print(f"round {i + 1}: first frame {f:.2f} s, idle desktop {m:.0f} MiB PSS", flush=True)
    print(f"median: first frame {statistics.median(firsts):.2f} s, "
          f"idle desktop {statistics.median(mems):.0f} MiB PSS (target ≤ 3 s, ≤ 250 MiB)")


if __name__ == "__main__":
    main()
