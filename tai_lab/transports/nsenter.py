"""Out-of-band commands into a container (its namespaces) or a bare network namespace."""
from __future__ import annotations

import subprocess
import time
from typing import Sequence

from .base import CommandResult

_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}


def _run(argv: list[str], shown: Sequence[str], timeout: float, input: str | None) -> CommandResult:
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=timeout, env=_ENV, errors="replace")
        status, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {timeout:g} s"
        status = 124
    return CommandResult(tuple(shown), status, out, err, round(time.monotonic() - started, 3))


def enter_argv(leader_pid: int, *, userns: bool) -> list[str]:
    """How the host enters a container: every namespace of its init process, its user
    namespace included for a candidate's node, so that what runs there has the rights of
    the node's root and none on the host (``date -s`` sets no host clock, no host device
    opens, no module loads). One place builds it: the transports and Ansible's connection."""
    return ["nsenter", "--target", str(leader_pid), *(["--user"] if userns else []),
            "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--root", "--wd", "--"]


class NsenterTransport:
    """Enter every namespace of a container's init process (user, mount, UTS, IPC, net, PID,
    cgroup)."""

    def __init__(self, node: str, leader_pid: int, *, userns: bool = True) -> None:
        self.node = node
        self.leader_pid = leader_pid
        self.userns = userns

    def argv(self, command: Sequence[str]) -> list[str]:
        return [*enter_argv(self.leader_pid, userns=self.userns), *command]

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult:
        return _run(self.argv(command), command, timeout, input)


class NetnsTransport:
    """A network device without an OS (switch, access point): its network namespace only."""

    def __init__(self, node: str, netns: str) -> None:
        self.node = node
        self.netns = netns

    def argv(self, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *command]

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult:
        return _run(self.argv(command), command, timeout, input)
