"""The node's side of a candidate's terminal, and the host's only way to it.

Inside the node (written to its ``/run``, a tmpfs that lives for one boot, so nothing
lands on the candidate's disk but the accounts' passwords, see :func:`provision`):

* ``tai-station.socket`` listens on the node's own loopback (``127.0.0.1:PORT``),
  ``Accept=yes``: one ``tai-station@.service`` per connection;
* that service runs ``relay.py`` (standard library Python), which puts ``/bin/login``
  on a new pseudo-terminal and relays it to the socket. The login is the node's own:
  its PAM, its accounts, its restrictions.

The host reaches it by opening a TCP connection *inside the node's network namespace*
(:func:`open_terminal`): a helper thread enters ``/proc/<leader>/ns/net`` alone, connects
to the node's loopback and hands the socket back. No process is started on the host for
the candidate, no path of the node is followed by the host.
"""
from __future__ import annotations

import ctypes
import os
import shlex
import socket
import threading
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from ..errors import LabStateError, TaiLabError

if TYPE_CHECKING:
    from ..context import LabContext as Lab   # what a feature receives of the lab, not the API

PORT = 41022                  # on the node's loopback only
RUN_DIR = "/run/tai-station"
UNIT_DIR = "/run/systemd/system"  # runtime units: gone at the next boot
CLONE_NEWNET = 0x40000000
_LOCKED = ("", "*", "!", "!*", "!!")   # never given a password (a password the candidate set is kept)

SOCKET_UNIT = f"""[Unit]
Description=tai-lab: the candidate's terminal in the browser (portal)

[Socket]
ListenStream=127.0.0.1:{PORT}
Accept=yes
MaxConnections=32
"""

SERVICE_UNIT = f"""[Unit]
Description=tai-lab: a terminal session from the portal

[Service]
ExecStart=/usr/bin/python3 -I {RUN_DIR}/relay.py
StandardInput=socket
StandardOutput=socket
StandardError=journal
"""


class NodeUnreachable(TaiLabError):
    """The node is off, or its terminal service does not answer."""


@dataclass(frozen=True)
class Account:
    user: str
    password: str


def relay_source() -> str:
    return resources.files(__package__).joinpath("relay.py").read_text(encoding="utf-8")


def provision_script(accounts: list[Account]) -> str:
    """A shell script run in the node (by the trainer's door): the runtime units and relay,
    and each scenario account that has never had a password gets the scenario's (one the
    candidate set is kept). Reads the passwords from stdin, one a line."""
    lines = ["set -e", "umask 022", f"mkdir -p {RUN_DIR} {UNIT_DIR}",
             f"cat > {RUN_DIR}/relay.py <<'__RELAY_END__'\n{relay_source()}__RELAY_END__",
             f"cat > {UNIT_DIR}/tai-station.socket <<'__UNIT__'\n{SOCKET_UNIT}__UNIT__",
             f"cat > {UNIT_DIR}/tai-station@.service <<'__UNIT__'\n{SERVICE_UNIT}__UNIT__"]
    for a in accounts:
        u = shlex.quote(a.user)
        lines += [f"getent passwd {u} >/dev/null || useradd -m -s /bin/bash {u}",
                  f"pw=$(getent shadow {u} | cut -d: -f2)",
                  "case \"$pw\" in " + "|".join(repr(x) if x else "''" for x in _LOCKED)
                  + f") read -r line; echo {u}:\"$line\" | chpasswd ;; *) read -r line ;; esac"]
    lines += ["systemctl daemon-reload", "systemctl restart tai-station.socket"]
    return "\n".join(lines) + "\n"


def provision_input(accounts: list[Account]) -> str:
    return "".join(a.password + "\n" for a in accounts)


def provision(lab: "Lab", pod: int, node: str, accounts: list[Account]) -> None:
    """Install (again) the node's terminal service for this boot, through the trainer's door."""
    for a in accounts:
        if "\n" in a.password or ":" in a.user:
            raise TaiLabError(f"invalid station account {a.user!r}")
    res = lab.backend.transport(pod, node).run(["sh", "-c", provision_script(accounts)],
                                               input=provision_input(accounts), timeout=30)
    if not res.ok:
        raise NodeUnreachable(f"pod {pod}: could not start the terminal service on {node}: {res.brief()}",
                              "is the machine up? see `tai-lab status`")


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, nstype: int) -> None:
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def connect_in_netns(netns_path: str, port: int = PORT, timeout: float = 3.0) -> socket.socket:
    """A TCP connection to ``127.0.0.1:port`` of the network namespace ``netns_path``.

    Runs in a fresh thread that enters that namespace alone (setns acts on the calling
    thread only) and dies afterwards: the portal's own threads never leave the host's
    namespace. The socket belongs to the namespace it was made in, wherever it is used."""
    result: dict = {}
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)

    def run() -> None:
        try:
            _setns(target, CLONE_NEWNET)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                s.settimeout(timeout)
                s.connect(("127.0.0.1", port))
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                s.close()
                raise
            result["sock"] = s
        except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread
            result["error"] = exc

    try:
        t = threading.Thread(target=run, name="tai-station-netns", daemon=True)
        t.start()
        t.join(timeout + 2)
    finally:
        os.close(target)
    if "sock" not in result:
        raise result.get("error") or TimeoutError("connection timed out")
    sock = result["sock"]
    sock.settimeout(None)
    return sock


def leader_netns(lab: "Lab", pod: int, node: str) -> str:
    """The node's own network namespace (the backend's ``netns`` capability: a backend without
    it refused the portal when it started, see :class:`~tai_lab.stations.service.LabStations`)."""
    return lab.backend.node_netns(pod, node)


def open_terminal(lab: "Lab", pod: int, node: str, accounts: list[Account]) -> socket.socket:
    """A connection to the node's login, provisioning its service first if it does not answer."""
    try:
        path = leader_netns(lab, pod, node)
    except LabStateError as exc:
        raise NodeUnreachable(f"{node} is not running", exc.hint) from exc
    try:
        return connect_in_netns(path)
    except (ConnectionRefusedError, TimeoutError):
        pass                          # a new boot (or the candidate stopped it): install it again
    except OSError as exc:
        raise NodeUnreachable(f"{node} is not reachable: {exc}") from exc
    provision(lab, pod, node, accounts)
    try:
        return connect_in_netns(leader_netns(lab, pod, node))
    except OSError as exc:
        raise NodeUnreachable(f"{node}: the terminal service does not answer ({exc})") from exc
