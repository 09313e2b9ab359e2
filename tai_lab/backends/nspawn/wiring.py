"""The pods' cables: named network namespaces, the switch's and access point's bridges, the
veth pairs between them, and each pod's WAN link at the simulated ISP."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from ...errors import CommandFailed, LabStateError, leftover_hint
from ...plan import PodPlan
from ...state import Resource
from .layout import Layout


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandFailed(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc


def _ip_batch(netns: str, lines: list[str]) -> None:
    if not lines:
        return
    proc = subprocess.run(["ip", "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandFailed(f"network setup in {netns} failed: {proc.stderr.strip()}")


def _mac(*parts: object) -> str:
    """A stable, locally administered MAC: the same node gets the same lease after a reset."""
    h = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "02:7a:" + ":".join(f"{b:02x}" for b in h[:4])


class Wiring(Layout):
    """Namespaces, bridges and veth pairs, as the plan says."""

    def _add_netns(self, name: str, pod: int | None) -> None:
        self.state.journal.will_create(Resource("netns", name, pod))
        if Path(f"/run/netns/{name}").exists():
            raise LabStateError(f"network namespace {name} already exists",
                                leftover_hint(self.state.lab))
        _ip("netns", "add", name)
        _ip("link", "set", "lo", "up", netns=name)

    def _wire_pod(self, pod: PodPlan) -> None:
        """Namespaces, bridges and veth pairs of one pod, exactly as the plan says."""
        n = pod.number
        for node in pod.nodes:
            self._add_netns(self.netns(n, node.name), n)
        switch = next((x for x in pod.nodes if x.kind == "switch"), None)
        if switch:
            sw = self.netns(n, switch.name)
            _ip_batch(sw, [f"link add vlan{v.id} type bridge" for v in pod.vlans]
                      + [f"link set vlan{v.id} up" for v in pod.vlans])
        for ap in (x for x in pod.nodes if x.kind == "ap"):
            _ip_batch(self.netns(n, ap.name), ["link add br0 type bridge", "link set br0 up"])
        isp = self.netns(None, "isp")
        for node in pod.nodes:
            if node.kind == "switch":
                continue
            ns = self.netns(n, node.name)
            for iface in node.interfaces:
                seg = iface.segment
                mac = _mac(self.plan.lab, n, node.name, iface.name)
                if seg.kind == "upstream":
                    peer_ns, peer, master = isp, f"pod{n}", None
                elif seg.kind == "vlan":
                    if switch is None:
                        raise LabStateError(f"pod {n}: {node.name}.{iface.name} is on a VLAN but the pod has no switch")
                    peer_ns, peer, master = self.netns(n, switch.name), f"{node.name}-{iface.name}", \
                        f"vlan{pod.vlan(seg.name).id}"
                else:  # wireless: a port of the access point's bridge
                    peer_ns, peer, master = self.netns(n, seg.name), f"{node.name}-{iface.name}", "br0"
                _ip("link", "add", iface.name, "address", mac, "type", "veth",
                    "peer", "name", peer, "netns", peer_ns, netns=ns)
                if seg.kind == "upstream":
                    # Born cut: the lab connects it when the pod's phase allows the Internet,
                    # so a pod rebuilt during the prep phase never sees the Internet, not even briefly.
                    _ip_batch(isp, [f"addr add {pod.wan.isp_address} dev {peer}"])
                else:
                    _ip_batch(peer_ns, [f"link set {peer} master {master} up"])
            if node.kind == "ap":
                lines = [f"link set {i.name} master br0 up" for i in node.interfaces]
                lines += [f"addr add {i.address} dev br0" for i in node.interfaces if i.address]
                gw = next((i.gateway for i in node.interfaces if i.gateway), None)
                _ip_batch(ns, lines)
                if gw:
                    _ip_batch(ns, [f"route add default via {gw}"])

    def set_upstream(self, pod: int, up: bool) -> None:
        _ip("link", "set", f"pod{pod}", "up" if up else "down", netns=self.netns(None, "isp"))

    def upstream_is_up(self, pod: int) -> bool:
        """The real state of the pod's WAN link at the ISP side (administratively up)."""
        proc = _ip("-o", "link", "show", f"pod{pod}", netns=self.netns(None, "isp"), check=False)
        flags = proc.stdout.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in proc.stdout else []
        return proc.returncode == 0 and "UP" in flags

    def port_namespace(self, pod: int, device: str) -> str:
        return self.netns(pod, device)
