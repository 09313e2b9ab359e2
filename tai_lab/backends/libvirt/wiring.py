"""The lab's cables on libvirt: every VLAN of a pod an isolated network (the pod's switch),
every pod's WAN an isolated network to the ISP VM; the ISP's addresses set by MAC; the prep
phase's cut as the link state of the router's WAN NIC, set at the hypervisor."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ...errors import CommandFailed, LabStateError, leftover_hint, NotFoundError
from ...state import Resource
from . import connection
from . import xml as lx
from .machines import Machines


class Wiring(Machines):
    def _create_network(self, name: str, pod: int | None, purpose: str, uri: str) -> None:
        libvirt = connection.load()
        conn = self.conn(uri)
        try:
            conn.networkLookupByName(name)
            raise LabStateError(f"libvirt network {name} already exists on {uri}",
                                leftover_hint(self.lab))
        except libvirt.libvirtError:
            pass
        self.state.journal.will_create(Resource("network", name, pod, {"uri": uri}))
        net = conn.networkDefineXML(lx.render_network(self.lab, name, purpose))
        net.create()

    def _configure_isp(self, node: str, pods: list[int]) -> None:
        """The ISP's public addresses (on lo) and one WAN address per pod, found by MAC."""
        up = self.plan.upstream
        lines = ["auto lo:tai", "iface lo:tai inet static", f"  address {up.resolver}/32"]
        lines += [f"  up ip addr add {s.address}/32 dev lo" for s in up.sites if s.address != up.resolver]
        script = ["set -e", "mkdir -p /etc/network/interfaces.d"]
        script.append("cat > /etc/network/interfaces.d/isp-public <<'EOF'\n" + "\n".join(lines) + "\nEOF")
        served = [p for p in self.plan.pods if p.number in pods]
        for p, nic in zip(served, lx.isp_nics(self.plan, pods)):
            script += [
                f"dev=$(ip -o link | grep -i 'link/ether {nic.mac}' | cut -d: -f2 | tr -d ' ')",
                '[ -n "$dev" ]',
                f"printf 'auto %s\\niface %s inet static\\n  address {p.wan.isp_address}\\n' \"$dev\" \"$dev\""
                f" > /etc/network/interfaces.d/wan-pod{p.number}",
            ]
        script += ["cat > /etc/network/interfaces <<'EOF'\nauto lo\niface lo inet loopback\n\n"
                   "source /etc/network/interfaces.d/*\nEOF", "ifup -a"]
        res = self.transport(None, node).run(["/bin/sh", "-c", "\n".join(script)], timeout=120)
        if not res.ok:
            raise CommandFailed(f"ISP network setup failed: {res.stderr.strip() or res.stdout.strip()}")

    # ------------------------------------------------------------------ the prep phase's cut
    def _wan_nic(self, pod: int) -> tuple[lx.Nic, str]:
        p = self.plan.pod(pod)
        router = next((n for n in p.nodes if any(i.segment.kind == "upstream" for i in n.interfaces)), None)
        if router is None:
            raise NotFoundError(f"pod {pod} has no node on the upstream")
        nic = next(n for n, i in zip(lx.node_nics(self.plan, p, router), router.interfaces)
                   if i.segment.kind == "upstream")
        return nic, router.name

    def set_upstream(self, pod: int, up: bool) -> None:
        libvirt = connection.load()
        nic, router = self._wan_nic(pod)
        dom = self.domain(pod, router)
        flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
        dom.updateDeviceFlags(lx.link_xml(nic, up), flags)

    def upstream_is_up(self, pod: int) -> bool:
        nic, router = self._wan_nic(pod)
        try:
            dom = self.domain(pod, router)
            if not dom.isActive():
                return False
            root = ET.fromstring(dom.XMLDesc(0))
        except Exception:  # noqa: BLE001 — no VM, no link
            return False
        for iface in root.iter("interface"):
            m = iface.find("mac")
            if m is not None and m.get("address", "").lower() == nic.mac:
                link = iface.find("link")
                return link is None or link.get("state", "up") == "up"
        return False
