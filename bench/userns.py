"""What the nodes' user namespaces cost (issue 11): one container booted both ways, side by side.

* **shared** — how pods' nodes booted before issue 11: the overlay straight on the image,
  systemd-nspawn joining the node's named network namespace, the host's user namespace;
* **userns** — how they boot now (backends/nspawn/): an ID-mapped mount of the image under
  the overlay, a user namespace of its own, its own network namespace with its cable moved in,
  a cgroup of its own.

Rounds alternate the two ways on the same image, so the machine's noise falls on both. Measures
the time from the start of systemd-nspawn until the container's systemd says it is running,
the time to set up the root (mounts), and the container's memory (PSS of its processes).
Everything is created under a temporary directory with names ``tai-ubench-…`` and removed.

    sudo python3 bench/userns.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _sections import write_section  # noqa: E402
from plateau import _tree_pss  # noqa: E402

from tai_lab import images  # noqa: E402
from tai_lab.backends.nspawn import machines as nspawn  # noqa: E402
from tai_lab.backends.nspawn import cgroups, userns  # noqa: E402

TITLE = "## Cost of the nodes' user namespaces (issue 11)"
NAME = "tai-ubench-node"


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def boot(way: str, work: Path, base: int) -> dict[str, float]:
    for sub in ("upper", "work", "root", "lower"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    image = images.rootfs("debian-12")
    _sh("ip", "netns", "add", NAME)
    groups = cgroups.plan_dirs(NAME)
    t0 = time.monotonic()
    lower = image
    if way == "userns":
        os.chown(work / "upper", base, base)
        userns.idmapped_bind(image, work / "lower", base)
        lower = work / "lower"
    _sh("ip", "-n", NAME, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
    _sh("mount", "-t", "overlay", NAME, "-o",
        f"lowerdir={lower},upperdir={work / 'upper'},workdir={work / 'work'}", str(work / "root"))
    cgroups.create(groups)
    mounted = time.monotonic() - t0
    argv = ["systemd-nspawn", "--boot", f"--directory={work / 'root'}", f"--machine={NAME}",
            "--register=no", "--keep-unit", "--resolv-conf=off", "--timezone=off", "--link-journal=no",
            "--console=passive"]
    if way == "userns":
        argv += [f"--private-users={base}:{userns.RANGE}", "--private-users-ownership=off",
                 "--private-network", "--network-interface=eth0"]
        launch = ["unshare", "--mount", "--propagation", "slave", "--", "nsenter", f"--net=/run/netns/{NAME}",
                  "--", "sh", "-c", nspawn._SUPERVISOR_USERNS, f"tai-node:{NAME}"]
    else:
        argv += [f"--network-namespace-path=/run/netns/{NAME}", "--capability=CAP_NET_ADMIN"]
        launch = ["sh", "-c", nspawn._SUPERVISOR, f"tai-node:{NAME}"]
    env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network", TAI_CGROUPS=" ".join(groups))
    t1 = time.monotonic()
    proc = subprocess.Popen([*launch, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        leader = None
        while leader is None:
            leader = nspawn._container_init(proc.pid)
            if time.monotonic() - t1 > 60:
                raise RuntimeError(f"{way}: the container did not start")
            time.sleep(0.01)
        from tai_lab.transports.nsenter import NsenterTransport
        t = NsenterTransport("bench", leader, userns=way == "userns")
        while (res := t.run(["systemctl", "is-system-running", "--wait"], timeout=60)).text \
                not in ("running", "degraded"):       # "offline": its manager does not answer yet
            if time.monotonic() - t1 > 60:
                raise RuntimeError(f"{way}: the container did not finish booting: {res.text}")
            time.sleep(0.02)
        booted = time.monotonic() - t1
        time.sleep(2)            # settled
        pss = _tree_pss(proc.pid) / 1024
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        cgroups.remove(groups)          # whatever still runs in the container's cgroup
        proc.wait(10)
        for m in (work / "root", work / "lower"):
            subprocess.run(["umount", str(m)], capture_output=True)
        _sh("ip", "netns", "del", NAME)
        shutil.rmtree(work)
    return {"mounts": mounted, "boot": booted, "pss": pss}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    tmp = Path(tempfile.mkdtemp(prefix="tai-ubench-"))
    base = userns.FIRST_BASE + (userns.SLOTS - 1) * userns.RANGE      # the last slot, for the bench
    results: dict[str, list[dict[str, float]]] = {"shared": [], "userns": []}
    try:
        for r in range(args.rounds):
            for way in (("shared", "userns") if r % 2 == 0 else ("userns", "shared")):
                res = boot(way, tmp / f"{way}-{r}", base)
                results[way].append(res)
                print(f"round {r + 1} {way}: {res}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(way: str, key: str) -> float:
        return statistics.median(x[key] for x in results[way])
    lines = [TITLE, "",
             f"Command: `sudo python3 bench/userns.py --rounds {args.rounds}`  ",
             f"Machine: {os.cpu_count()} cores; run {time.strftime('%Y-%m-%d %H:%M')}; load average "
             f"{os.getloadavg()[0]:.2f} at the end. One debian-12 container, both ways alternated.", "",
             "| | before issue 11 (host's user namespace) | own user namespace | ratio |",
             "|---|---:|---:|---:|"]
    for key, label, unit in (("mounts", "root set up (mounts)", "s"), ("boot", "boot to `running`", "s"),
                             ("pss", "memory of the container (PSS)", "MiB")):
        a, b = med("shared", key), med("userns", key)
        lines.append(f"| {label}, median | {a:.3f} {unit} | {b:.3f} {unit} | {b / a:.2f}× |")
    lines += ["", "Runs (boot, s): before " + ", ".join(f"{x['boot']:.2f}" for x in results["shared"])
              + "; own user namespace " + ", ".join(f"{x['boot']:.2f}" for x in results["userns"]), "",
              "The image is never copied or chowned (an ID-mapped mount), so the memory and the disk of a "
              "node do not change; what a node's own user namespace, its cable moved in and its cgroup cost "
              "is a few hundredths of a second of its boot, once per node and reset. A pod's reset and "
              "rebuild with every node this way: the plateau section.", ""]
    print(write_section(Path(args.out), TITLE, lines))


if __name__ == "__main__":
    main()
