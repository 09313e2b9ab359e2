"""Prerequisites of the host, checked before anything changes."""
from __future__ import annotations

import os
import shutil

from .errors import PrerequisiteError
from .lang import tr

# tool → Debian package that provides it
HOST_TOOLS: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
}


def require_root(action: str, why: str | None = None) -> None:
    """Refuse, in one line, to go on without root (checked before anything changes).

    ``why``: what needs root, in both languages (``tr``) or as it is."""
    if os.geteuid() != 0:
        why = why or tr("elle crée des espaces de noms, des montages et des conteneurs",
                        "it creates namespaces, mounts and containers")
        raise PrerequisiteError(tr(f"{action} demande les droits root ({getattr(why, 'fr', why)}) : lancer en root, "
                                   "par exemple avec sudo",
                                   f"{action} needs root ({getattr(why, 'en', why)}): run it as root, e.g. with sudo"))


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pkgs = sorted({HOST_TOOLS.get(t, t) for t in missing})
        raise PrerequisiteError(
            tr(f"outil(s) manquant(s) sur l'hôte : {', '.join(missing)}", f"missing host tool(s): {', '.join(missing)}"),
            tr(f"les installer : apt-get install {' '.join(pkgs)}", f"install them with: apt-get install {' '.join(pkgs)}"),
        )
