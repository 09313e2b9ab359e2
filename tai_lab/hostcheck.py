"""Prerequisites of the host, checked before anything changes."""
from __future__ import annotations

import os
import shutil

from .errors import PrerequisiteError

# tool → Debian package that provides it
HOST_TOOLS: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
}


def require_root(action: str, why: str = "it creates namespaces, mounts and containers") -> None:
    """Refuse, in one line, to go on without root (checked before anything changes)."""
    if os.geteuid() != 0:
        raise PrerequisiteError(f"{action} needs root ({why}): run it as root, e.g. with sudo")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pkgs = sorted({HOST_TOOLS.get(t, t) for t in missing})
        raise PrerequisiteError(
            f"missing host tool(s): {', '.join(missing)}",
            f"install them with: apt-get install {' '.join(pkgs)}",
        )
