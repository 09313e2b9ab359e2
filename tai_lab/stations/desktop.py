"""The node's side of a candidate's desktop, and the host's only way to it.

A desktop machine (``stations.desktops``, on a desktop image such as ``debian-12-desktop``)
runs, for this boot only (runtime units in its ``/run``, written through the trainer's door
the first time the desktop is opened, like the terminal's):

* ``tai-desktop.service``: ``Xvnc`` (TigerVNC: the X server and the VNC server in one
  process) drawing display ``:0`` and serving it on the node's own loopback
  (``127.0.0.1:PORT``) only; no VNC password, since nothing but the node itself can reach
  that address, and the portal reaches it from inside the node's network namespace
  (:func:`~.node.connect_in_netns`, the same way as the terminal);
* ``tai-desktop-session.service``: the Xfce session of the desktop's account (the user the
  jury member plays), in French with the AZERTY layout (``setxkbmap fr``), restarted if the
  candidate logs out of it (``Restart=``, a drop-in so a candidate's own unit edits in
  ``/etc`` cannot take it away before the next boot).

Both are services of the node's init, with the node's restrictions; the host starts no
process in the node and follows no path of it.
"""
from __future__ import annotations

import shlex
import socket
from typing import TYPE_CHECKING

from ..errors import LabStateError, TaiLabError
from .node import UNIT_DIR, NodeUnreachable, connect_in_netns, leader_netns

if TYPE_CHECKING:
    from ..lab import Lab

PORT = 5900                   # on the node's loopback only
DISPLAY = ":0"
GEOMETRY = "1280x800"

SERVER_UNIT = f"""[Unit]
Description=tai-lab: the desktop's X and VNC server (node's loopback only, portal)

[Service]
ExecStart=/usr/bin/Xvnc {DISPLAY} -geometry {GEOMETRY} -depth 24 -rfbport {PORT} -interface 127.0.0.1 \\
  -localhost -SecurityTypes None -AlwaysShared -AcceptSetDesktopSize=0 -nolisten tcp -desktop Bureau
"""

SESSION_UNIT = """[Unit]
Description=tai-lab: the desktop session of {user}
Requires=tai-desktop.service
After=tai-desktop.service
Wants=cups.service

[Service]
User={user}
WorkingDirectory=~
PAMName=login
Environment=DISPLAY={display} LANG=fr_FR.UTF-8 LANGUAGE=fr_FR:fr XDG_SESSION_TYPE=x11
# Xvnc needs a moment before its display answers.
ExecStartPre=/bin/sh -c 'for i in $(seq 100); do [ -S /tmp/.X11-unix/X{n} ] && exit 0; sleep 0.05; done; exit 1'
ExecStartPre=/usr/bin/setxkbmap -display {display} fr
ExecStart=/usr/bin/dbus-launch --exit-with-session /usr/bin/startxfce4
"""

RESTART_DROPIN = """[Service]
Restart=always
RestartSec=1
"""


def provision_script(user: str) -> str:
    """Shell run in the node (trainer's door): the session's account, the units, started."""
    u = shlex.quote(user)
    n = DISPLAY.lstrip(":")
    units = {
        "tai-desktop.service": SERVER_UNIT,
        "tai-desktop-session.service": SESSION_UNIT.format(user=user, display=DISPLAY, n=n),
        "tai-desktop.service.d/restart.conf": RESTART_DROPIN,
        "tai-desktop-session.service.d/restart.conf": RESTART_DROPIN,
    }
    lines = ["set -e", "umask 022",
             "[ -x /usr/bin/Xvnc ] && [ -x /usr/bin/startxfce4 ] || { echo 'no desktop in this image' >&2; exit 3; }",
             f"mkdir -p {UNIT_DIR}/tai-desktop.service.d {UNIT_DIR}/tai-desktop-session.service.d",
             f"getent passwd {u} >/dev/null || useradd -m -s /bin/bash -c 'Utilisateur' {u}",
             # Xfce and the VNC server want the machine's own name to resolve.
             "hostname -f >/dev/null 2>&1 || echo \"127.0.1.1 $(hostname)\" >> /etc/hosts"]
    for name, text in units.items():
        lines.append(f"cat > {UNIT_DIR}/{name} <<'__UNIT__'\n{text}__UNIT__")
    lines += ["systemctl daemon-reload", "systemctl start tai-desktop-session.service",
              # Answering on the loopback before returning: the portal connects next.
              f"for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{PORT}) 2>/dev/null && exit 0; "
              "sleep 0.05; done; exit 4"]
    return "\n".join(lines) + "\n"


def provision(lab: "Lab", pod: int, node: str, user: str) -> None:
    """Start (again) the node's desktop for this boot, through the trainer's door."""
    res = lab.backend.transport(pod, node).run(["bash", "-c", provision_script(user)], timeout=60)
    if res.exit_status == 3:
        raise NodeUnreachable(f"pod {pod}: {node} has no desktop (its image has no VNC server)",
                              "give it `image: debian-12-desktop` in the scenario")
    if not res.ok:
        raise NodeUnreachable(f"pod {pod}: could not start the desktop on {node}: {res.brief()}",
                              "is the machine up? see `tai-lab status`")


def open_desktop(lab: "Lab", pod: int, node: str, user: str) -> socket.socket:
    """A connection to the node's VNC server, starting the desktop first if it does not answer."""
    try:
        path = leader_netns(lab, pod, node)
    except LabStateError as exc:
        raise NodeUnreachable(f"{node} is not running", exc.hint) from exc
    try:
        return connect_in_netns(path, PORT)
    except (ConnectionRefusedError, TimeoutError):
        pass                          # a new boot, or the candidate stopped it: start it again
    except OSError as exc:
        raise NodeUnreachable(f"{node} is not reachable: {exc}") from exc
    provision(lab, pod, node, user)
    try:
        return connect_in_netns(leader_netns(lab, pod, node), PORT)
    except OSError as exc:
        raise NodeUnreachable(f"{node}: the desktop does not answer ({exc})") from exc


def stop(lab: "Lab", pod: int, node: str) -> None:
    """End the desktop's session (a seal powers the node off anyway; a hand close uses this)."""
    try:
        lab.backend.transport(pod, node).run(
            ["systemctl", "stop", "tai-desktop-session.service", "tai-desktop.service"], timeout=20)
    except TaiLabError:
        pass
