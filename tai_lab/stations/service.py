"""What the portal needs from a lab, in one narrow object (unit tests give a fake one)."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from .access import Access
from .desktop import open_desktop
from .node import Account, open_terminal

# What a candidate reads next to a machine's name.
KIND_TEXT = {
    "fr": {"server": "serveur", "client": "poste client", "router": "routeur", "printer": "imprimante"},
    "en": {"server": "server", "client": "client computer", "router": "router", "printer": "printer"},
}


@dataclass(frozen=True)
class Machine:
    name: str
    kind: str
    fqdn: str
    running: bool
    desktop: bool = False         # its desktop is shown too (stations.desktops)


class StationsService(Protocol):
    name: str
    title: str
    lab_dir: Path
    access: Access

    def pods(self) -> list[int]: ...
    def machines(self, pod: int) -> list[Machine]: ...
    def accounts(self, pod: int) -> list[Account]: ...
    def open_terminal(self, pod: int, node: str) -> socket.socket:
        """A connection to the node's login (blocking: the portal calls it in a thread)."""
    def open_desktop(self, pod: int, node: str) -> socket.socket:
        """A connection to the node's VNC server (blocking: the portal calls it in a thread)."""


class LabStations:
    """The portal's view of a lab that is up, on a backend that lets this host into a machine's
    network namespace (``netns``: refused here, before the portal listens, on one without)."""

    def __init__(self, lab_factory: Callable) -> None:
        self._factory = lab_factory
        self.lab = lab_factory()
        self.lab.backend.require("netns", "the candidates' portal (tai-lab stations serve: terminals and "
                                          "desktops in the browser)")
        self.name = self.lab.name
        self.title = getattr(self.lab.plan, "title", self.name)
        self.lab_dir = self.lab.state.dir
        self.access = Access(self.lab_dir, self.pods())

    def pods(self) -> list[int]:
        return [p.number for p in self.lab.plan.pods]

    def _plan(self, pod: int):
        p = self.lab.plan.pod(pod)
        return p, (p.stations.nodes if p.stations else ())

    def machines(self, pod: int) -> list[Machine]:
        p, names = self._plan(pod)
        out = []
        for name in names:
            n = p.node(name)
            try:
                running = self.lab.backend.node_running(pod, name)
            except Exception:  # noqa: BLE001 — a node being rebuilt: shown as off
                running = False
            out.append(Machine(name, n.kind, n.fqdn, running, name in p.stations.desktops))
        return out

    def accounts(self, pod: int) -> list[Account]:
        p = self.lab.plan.pod(pod)
        return [Account(u, pw) for u, pw in (p.stations.accounts if p.stations else ())]

    def open_terminal(self, pod: int, node: str) -> socket.socket:
        _p, names = self._plan(pod)
        if node not in names:               # checked by the portal already; never trust one place
            raise PermissionError(node)
        return open_terminal(self.lab, pod, node, self.accounts(pod))

    def open_desktop(self, pod: int, node: str) -> socket.socket:
        p, _names = self._plan(pod)
        if p.stations is None or node not in p.stations.desktops:
            raise PermissionError(node)
        return open_desktop(self.lab, pod, node, p.stations.desktop_user)
