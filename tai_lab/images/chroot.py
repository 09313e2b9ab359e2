"""Installing packages into a root filesystem tree with ``chroot``: the step the container
image, the VM disk and the Vagrant box share.

No service may start while packages install (``policy-rc.d``); the packages come from the
host's own apt sources (never a mirror named by the project); afterwards nothing of the build
host is left in the tree (sources, resolver, hostname, machine-id).
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .artifact import run, umount_under

POLICY = "usr/sbin/policy-rc.d"


def apt_env() -> dict:
    return dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")


@contextmanager
def no_service_starts(root: Path) -> Iterator[None]:
    """``policy-rc.d`` says no to every service start while the block runs."""
    policy = root / POLICY
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


@contextmanager
def mounts(root: Path, log: Path) -> Iterator[None]:
    """/proc, /sys and /dev inside the tree while the block runs (a kernel package's scripts need them)."""
    try:
        for where, args in ((root / "proc", ["-t", "proc", "proc"]), (root / "sys", ["-t", "sysfs", "sysfs"]),
                            (root / "dev", ["--bind", "/dev"])):
            where.mkdir(exist_ok=True)
            run(["mount", *args, str(where)], log)
        yield
    finally:
        for sub in ("dev", "sys", "proc"):
            umount_under(root / sub)


def host_sources(root: Path) -> None:
    """The host's own package sources and resolver, only for the build (``neutralise_host_leaks`` removes them)."""
    for f in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.sources"),
              *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if f.is_file():
            dest = root / str(f).lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")


def apt_install(root: Path, packages: tuple[str, ...] | list[str], log: Path) -> None:
    """``apt-get install`` of ``packages`` (no recommends) in the tree, then its cache emptied."""
    env = apt_env()
    run(["chroot", str(root), "apt-get", "update", "-q"], log, env)
    run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], log, env)
    run(["chroot", str(root), "apt-get", "clean"], log, env)


def neutralise_host_leaks(root: Path) -> None:
    """Nothing of the build host may leak into the lab's machines."""
    # The mirror used for the build is of no use inside the isolated lab.
    (root / "etc/apt/sources.list").write_text("# tai-lab: no package source inside the lab\n")
    for source in (root / "etc/apt/sources.list.d").glob("*"):
        source.unlink()
    for f in ("etc/hostname", "etc/resolv.conf", "etc/machine-id"):
        p = root / f
        if p.is_symlink() or p.exists():
            p.unlink()
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/resolv.conf").write_text("# written by DHCP or by the node's role\n")
    (root / "etc/machine-id").write_text("")  # systemd fills it at first boot
    # A root password nobody knows is still a password: the trainer uses `tai-lab exec`.
    (root / "etc/securetty").unlink(missing_ok=True)
