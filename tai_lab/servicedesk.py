"""The pod's service desk: Request Tracker 5 on the node with the ``service-desk`` role.

What tai-lab does with it, always through the desk node's out-of-band transport (never the
lab network, which faults break): feed the client machines' inventory into its assets, open
the ticket of an injected fault *as the user* (RT's mail gateway, inside the node: the
ticket's creator is the user, found by their address), and read a ticket's state, links and
history for the jury. The REST 2 calls are made inside the node by ``playbooks/files/rt-desk.py``
(fed on stdin at each call, so what judges is tai-lab's copy) with tai-lab's service account,
whose secret is made by the role and never leaves the node.

Inventory: a small push made here, not fusioninventory-agent. The agent is in Debian but only
speaks to GLPI/OCS servers (nothing in Debian feeds RT), it would have to be in every client's
image (the shared images are not rebuilt for one role), and in a container it reports the
host's hardware and no DMI serial. What identifies a machine — its name, system, MAC and IPv4
address — is read from the machine itself; what a container cannot show (serial number,
model) is the scenario's (``services.servicedesk.assets``).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Callable

from . import paths
from .errors import LabStateError, TaiLabError
from .plan import PodPlan
from .transports.base import CommandResult, Transport

TransportFor = Callable[[int, str], Transport]
Progress = Callable[[str], None]
SCRIPT = "rt-desk.py"


class DeskError(LabStateError):
    """The service desk did not answer as expected (RT down, the call refused)."""


@dataclass(frozen=True)
class Desk:
    """A pod's service desk: the node that runs it and the scenario's settings (pod values)."""

    pod: int
    node: str
    domain: str
    settings: dict

    @property
    def name(self) -> str:
        return str(self.settings.get("name", "support"))

    @property
    def url(self) -> str:
        """Where the candidate's browser finds it."""
        return f"http://{self.name}.{self.domain}/"

    @property
    def address(self) -> str:
        """Where the users write to (the desk's mail address)."""
        return f"{self.name}@{self.domain}"

    def email(self, login: str) -> str:
        return f"{login}@{self.domain}"

    def users(self) -> list[dict]:
        return list(self.settings.get("users") or [])

    def user_of(self, machine: str) -> dict | None:
        """The user who works on ``machine`` (None: nobody listed there)."""
        return next((u for u in self.users() if u.get("machine") == machine), None)

    def asset_data(self, machine: str) -> dict:
        return dict((self.settings.get("assets") or {}).get(machine) or {})


def desk_of(pod: PodPlan) -> Desk | None:
    """The pod's service desk, or None when the scenario has none."""
    nodes = pod.nodes_with_role("service-desk")
    if not nodes:
        return None
    return Desk(pod.number, nodes[0].name, pod.domain, dict(pod.services.get("servicedesk") or {}))


class DeskClient:
    """Calls to one pod's service desk, run inside its node."""

    def __init__(self, desk: Desk, transport_for: TransportFor) -> None:
        self.desk = desk
        self.transport = transport_for(desk.pod, desk.node)

    def command(self, op: str, payload: dict) -> tuple[tuple[str, ...], str]:
        """The command line and the script it reads on stdin (for probes too)."""
        script = (paths.data_dir("playbooks") / "files" / SCRIPT).read_text()
        return ("python3", "-", op, json.dumps(payload, ensure_ascii=False)), script

    def run(self, op: str, payload: dict, *, timeout: float = 60.0) -> CommandResult:
        argv, script = self.command(op, payload)
        return self.transport.run(argv, timeout=timeout, input=script)

    def call(self, op: str, payload: dict, *, timeout: float = 60.0) -> dict:
        res = self.run(op, payload, timeout=timeout)
        if not res.ok:
            why = (res.stderr.strip() or res.stdout.strip())[-400:]
            raise DeskError(f"pod {self.desk.pod}: the service desk on {self.desk.node} refused {op}: {why}",
                            f"is it up? tai-lab exec {self.desk.pod} {self.desk.node} -- systemctl status rt-server")
        try:
            return json.loads(res.stdout)
        except ValueError:
            raise DeskError(f"pod {self.desk.pod}: the service desk gave no answer to {op}: "
                            f"{res.stdout.strip()[:200]}") from None

    def wait_ready(self, limit: float = 90.0) -> None:
        """Until RT answers on the node's loopback (a node that just booted compiles its pages)."""
        deadline = time.monotonic() + limit
        while True:
            res = self.transport.run(["curl", "-fsS", "-o", "/dev/null", "--max-time", "5", "http://127.0.0.1/"],
                                     timeout=10)
            if res.ok:
                return
            if time.monotonic() > deadline:
                raise DeskError(f"pod {self.desk.pod}: the service desk on {self.desk.node} does not answer",
                                f"tai-lab exec {self.desk.pod} {self.desk.node} -- systemctl status rt-server")
            time.sleep(0.5)

    # ------------------------------------------------------------------ tickets
    def open_ticket(self, login: str, subject: str, body: str, *, link: str | None = None,
                    status: str | None = None, owner: str | None = None) -> dict:
        """A ticket opened by ``login`` (their mail to the desk); ``link``: the asset of that
        name is linked to it (RefersTo); ``status``/``owner``: set afterwards."""
        user = next((u for u in self.desk.users() if u.get("login") == login), {"login": login, "name": login})
        payload = {"email": self.desk.email(login), "name": user.get("name") or login, "to": self.desk.address,
                   "subject": subject, "body": body, "link": link, "status": status, "owner": owner}
        return self.call("open-ticket", payload)

    def ticket(self, number: int) -> dict:
        """The ticket's state, people, links and history, read now."""
        return self.call("ticket", {"id": number})


# ------------------------------------------------------------------ inventory
_FACTS = ("hostname; . /etc/os-release 2>/dev/null; echo \"${PRETTY_NAME:-Linux}\"; "
          "cat /sys/class/net/IFACE/address 2>/dev/null || echo; "
          "ip -4 -o addr show dev IFACE 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1")


def machine_facts(transport: Transport, iface: str) -> dict:
    """What the inventory reads on a machine: host name, system, MAC and IPv4 of ``iface``."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,14}", iface):
        raise TaiLabError(f"invalid interface name {iface!r}")
    res = transport.run(["sh", "-c", _FACTS.replace("IFACE", iface)], timeout=20)
    lines = (res.stdout.splitlines() + ["", "", "", ""])[:4]
    return {"hostname": lines[0].strip(), "os": lines[1].strip(), "mac": lines[2].strip().lower(),
            "ip": lines[3].strip()}


def inventory_of(desk: Desk, pod: PodPlan, transport_for: TransportFor,
                 machines: list[str] | None = None) -> list[dict]:
    """The assets of the pod's client machines as the inventory sees them now."""
    out = []
    for node in pod.nodes:
        if node.kind != "client" or not node.interfaces or (machines is not None and node.name not in machines):
            continue
        facts = machine_facts(transport_for(pod.number, node.name), node.interfaces[0].name)
        data = desk.asset_data(node.name)
        user = desk.user_of(node.name)
        out.append({"name": node.name,
                    "description": f"{data.get('model') or 'Poste'} de {user['name']}" if user else
                                   (data.get("model") or "Poste"),
                    "fields": {"Adresse MAC": facts["mac"], "Adresse IP": facts["ip"], "Système": facts["os"],
                               "Numéro de série": str(data.get("serial", "")), "Modèle": str(data.get("model", ""))},
                    "held_by": [user["login"]] if user else []})
    return out


def register_inventory(pod: PodPlan, transport_for: TransportFor, progress: Progress = lambda _m: None,
                       machines: list[str] | None = None) -> list[int]:
    """Push the client machines' inventory into the pod's service desk (create or update each
    asset by its name); nothing when the pod has no desk. Returns the assets' numbers."""
    desk = desk_of(pod)
    if desk is None:
        return []
    client = DeskClient(desk, transport_for)
    client.wait_ready()
    assets = inventory_of(desk, pod, transport_for, machines)
    progress(f"pod {pod.number}: inventory of {len(assets)} machine(s) into the service desk")
    return list(client.call("inventory", {"assets": assets}).get("assets", []))


def ticket_summary(t: dict) -> dict:
    """What the jury's console and the report keep of a ticket read: no internal field names."""
    return {"id": t.get("id"), "subject": t.get("subject", ""), "status": t.get("status", ""),
            "owner": t.get("owner", ""), "requestors": t.get("requestors", []), "creator": t.get("creator", ""),
            "assets": [x.get("name", "") for x in t.get("links", []) if x.get("type") == "asset"],
            "history": [{k: h.get(k, "") for k in ("type", "creator", "created", "field", "old", "new")}
                        for h in t.get("history", []) if h.get("type") != "EmailRecord"]}
