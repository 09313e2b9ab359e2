"""Whether the portal that relays a terminal session is still running.

The portal writes who it is into every ``session-start`` record (``portal``: its process id,
the process's start time in clock ticks since boot, and the boot's id). A session with no end
whose portal is gone — killed, crashed, the host rebooted — can never end by itself: nobody
relays its bytes any more. Whoever reads it then knows it was interrupted, and when the next
portal starts it records that end (:func:`tai_lab.stations.web.Portal` at startup), with the
time of the last byte its recording holds. A pid reused by another process does not pass for
the portal: the start time differs; after a reboot the boot id differs.
"""
from __future__ import annotations

import os
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after the last ")".
    rest = stat[stat.rfind(")") + 2:].split()
    try:
        return int(rest[19])            # field 22: starttime
    except (IndexError, ValueError):
        return None


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def identity(pid: int | None = None) -> dict:
    """This process (or ``pid``) as a session-start record names its portal."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "start": _start_ticks(pid), "boot": _boot_id()}


def alive(ident: object) -> bool | None:
    """Whether the portal named by ``ident`` still runs; None when the record names none
    (written before portals named themselves: nothing can be decided)."""
    if not isinstance(ident, dict):
        return None
    pid, start, boot = ident.get("pid"), ident.get("start"), ident.get("boot")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if boot and boot != _boot_id():
        return False
    ticks = _start_ticks(pid)
    if ticks is None:
        return False
    return start is None or ticks == start
