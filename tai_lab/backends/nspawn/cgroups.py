"""A control group of its own for each container, in every hierarchy of the host.

systemd is not PID 1 on every host tai-lab runs on, so nothing gives a container a cgroup
(no machine.slice): systemd-nspawn ``--keep-unit`` uses the cgroup it was started in and,
for a container with a user namespace, hands that cgroup to the container's root. Started
from the command's own cgroup, all the containers would share one — and one handed to each
of them in turn. So each node's supervisor first moves itself into ``tai-<lab>-…`` below
the cgroup of the command that starts it, in each hierarchy (cgroup v1 controllers, the
named systemd hierarchy, the unified one): the container gets that subtree and nothing
above it (the hierarchy's root, where cgroup v1's ``release_agent`` lives, stays the host's).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

# A fork bomb in a node stops there: far above what a node with a desktop runs (a few hundred).
PIDS_MAX = 8192


def _own_paths() -> dict[str, str]:
    """hierarchy key ("memory", "name=systemd", "" for cgroup2) → this process's cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for c in (controllers.split(",") if controllers else [""]):
            own[c] = path
    return own


def _mounts() -> list[tuple[str, str]]:
    """(mount point, hierarchy key) of every cgroup hierarchy mounted on the host."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fstype, _src, opts = right.split()[:3]
        mnt = left.split()[4]
        if fstype == "cgroup2":
            out.append((mnt, ""))
        elif fstype == "cgroup":
            keys = [o for o in opts.split(",") if o not in ("rw", "ro") and not o.startswith(
                ("relatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "release_agent"))]
            if keys:
                out.append((mnt, ",".join(keys)))
    return out


def plan_dirs(name: str) -> list[str]:
    """Where ``name``'s cgroup goes in each hierarchy (below this process's own cgroup)."""
    own = _own_paths()
    dirs, seen = [], set()
    for mnt, key in _mounts():
        first = key.split(",")[0]
        rel = own.get(first, own.get(key, "/"))
        d = os.path.normpath(f"{mnt}/{rel}/{name}")
        if d not in seen:
            seen.add(d)
            dirs.append(d)
    return dirs


def create(dirs: list[str]) -> None:
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        # cgroup v1's cpuset starts a new group with no CPU and no memory node (nothing can
        # join it): give it its parent's.
        for key in ("cpuset.cpus", "cpuset.mems"):
            own, parent = Path(d, key), Path(os.path.dirname(d), key)
            if own.exists() and not own.read_text().strip():
                own.write_text(parent.read_text())
        pids = Path(d, "pids.max")
        if pids.exists():
            pids.write_text(f"{PIDS_MAX}\n")


def _members(dirs: list[str]) -> set[int]:
    pids: set[int] = set()
    for d in dirs:
        for top, _names, files in os.walk(d):
            if "cgroup.procs" in files:
                try:
                    pids.update(int(x) for x in Path(top, "cgroup.procs").read_text().split())
                except (OSError, ValueError):
                    pass
    return pids


def kill(dirs: list[str], timeout: float = 5.0) -> bool:
    """SIGKILL every process in the node's cgroups until none is left (a process forked
    meanwhile is caught on the next pass). False if some remain after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := _members(dirs)):
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def remove(dirs: list[str], timeout: float = 5.0) -> bool:
    """Stop whatever still runs in the node's cgroups (a container whose systemd-nspawn was
    killed keeps running, orphaned: its cgroup is what still names it), then remove them,
    the sub-cgroups its systemd made first. False if one is still busy after ``timeout``
    (it stays recorded for the next try)."""
    deadline = time.monotonic() + timeout
    if not kill(dirs, timeout):
        return False
    for d in dirs:
        if not os.path.isdir(d):
            continue
        subdirs = sorted((os.path.join(top, x) for top, names, _f in os.walk(d) for x in names),
                         key=lambda p: p.count("/"), reverse=True)
        for path in [*subdirs, d]:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.05)
    return True
