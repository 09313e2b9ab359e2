"""libvirt objects of a lab as data, rendered from one jinja2 template per object kind.

Pure functions (no libvirt, no I/O besides reading the templates): the unit tests
compare their output with golden files and validate it with ``virt-xml-validate``.

Naming, for lab ``mini``: domains ``tai-mini-p1-router``, ``tai-mini-isp``; networks
``tai-mini-p1-users`` (one per VLAN of each pod: the switch), ``tai-mini-p1-wan``
(the pod's link to the ISP); one storage pool per hypervisor, ``tai-mini-pool-<host>``
(``<host>``: the URI's host name and a hash of the whole URI, so two URIs of the same
libvirtd get two pools). Every domain carries ``<tai:node lab=… pod=… node=…>`` in its
metadata (libvirt 9.0 networks and pools have no metadata element: their name prefix is
the tag).
"""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ...plan import LabPlan, NodePlan, PodPlan

NS = "https://tai-lab.invalid/xmlns/node/1"
NIC_FIRST_SLOT = 0x10     # PCI slots of the NICs, in interface order: eth0, eth1… (net.ifnames=0)
MAX_NICS = 16

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=jinja2.select_autoescape(["xml", "j2"], default=True),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
)


def mac(*parts: object) -> str:
    """Stable locally administered MAC (52:54:00 is QEMU's prefix; 02 marks ours)."""
    h = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "52:54:02:" + ":".join(f"{b:02x}" for b in h[:3])


def prefix(lab: str) -> str:
    return f"tai-{lab}"


def domain_name(lab: str, pod: int | None, node: str) -> str:
    """``pod`` None: an upstream node (``isp``; ``isp2``… on further hypervisors)."""
    return f"{prefix(lab)}-{node}" if pod is None else f"{prefix(lab)}-p{pod}-{node}"


def network_name(lab: str, pod: int, segment: str) -> str:
    return f"{prefix(lab)}-p{pod}-{segment}"


def host_slug(uri: str) -> str:
    """``qemu:///system`` → ``local-1a2b3c``; ``qemu+ssh://root@salle-b/system`` → ``salle-b-…``."""
    host = urllib.parse.urlsplit(uri).hostname or "local"
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:24] or "host"
    return f"{slug}-{hashlib.sha256(uri.encode()).hexdigest()[:6]}"


def pool_name(lab: str, uri: str) -> str:
    """The lab's storage pool on the hypervisor ``uri``."""
    return f"{prefix(lab)}-pool-{host_slug(uri)}"


def render_pool(lab: str, name: str, path: str, host: str) -> str:
    """A ``dir`` pool; ``path`` is on the hypervisor (libvirt's pool build makes it)."""
    return _env.get_template("pool.xml.j2").render(lab=lab, name=name, path=path, host=host)


def render_volume(lab: str, name: str, capacity: int, fmt: str, purpose: str,
                  backing: str | None = None) -> str:
    """A volume of ``capacity`` bytes; ``backing``: the path (on the hypervisor) of the qcow2
    it is a linked clone of."""
    if fmt not in ("raw", "qcow2"):
        raise ValueError(f"volume format {fmt!r}: raw or qcow2")
    if backing and fmt != "qcow2":
        raise ValueError("only a qcow2 volume has a backing store")
    return _env.get_template("volume.xml.j2").render(lab=lab, name=name, capacity=int(capacity),
                                                     format=fmt, purpose=purpose, backing=backing)


@dataclass(frozen=True)
class Nic:
    name: str           # inside the guest: eth0…
    network: str
    mac: str
    up: bool
    slot: int
    purpose: str


def segment_network(plan: LabPlan, pod: PodPlan, node: NodePlan, iface) -> str:
    """The isolated network an interface plugs into (a VLAN of the switch, or the WAN)."""
    seg = iface.segment
    if seg.kind == "upstream":
        return network_name(plan.lab, pod.number, "wan")
    if seg.kind == "vlan":
        return network_name(plan.lab, pod.number, seg.name)
    # Wireless: the access point is a transparent bridge to the VLAN of its uplink.
    ap = pod.node(seg.name)
    uplink = next(i for i in ap.interfaces if i.segment.kind == "vlan")
    return network_name(plan.lab, pod.number, uplink.segment.name)


def pod_networks(plan: LabPlan, pod: PodPlan) -> list[str]:
    """The networks a pod owns (its VLANs); its WAN belongs to the upstream."""
    return [network_name(plan.lab, pod.number, v.name) for v in pod.vlans]


def wan_networks(plan: LabPlan) -> list[str]:
    return [network_name(plan.lab, p.number, "wan") for p in plan.pods]


def render_network(lab: str, name: str, purpose: str) -> str:
    return _env.get_template("network.xml.j2").render(lab=lab, name=name, purpose=purpose)


def node_nics(plan: LabPlan, pod: PodPlan, node: NodePlan) -> list[Nic]:
    if len(node.interfaces) > MAX_NICS:
        raise ValueError(f"{node.name}: at most {MAX_NICS} interfaces on a VM")
    return [Nic(i.name, segment_network(plan, pod, node, i), mac(plan.lab, pod.number, node.name, i.name),
                # Born cut: the lab connects the WAN when the pod's phase allows the Internet.
                up=i.segment.kind != "upstream", slot=NIC_FIRST_SLOT + k,
                purpose="WAN (lien vers le FAI)" if i.segment.kind == "upstream" else f"réseau {i.segment.name}")
            for k, i in enumerate(node.interfaces)]


def isp_nics(plan: LabPlan, pods: list[int] | None = None) -> list[Nic]:
    """One interface per pod the ISP serves (all pods, or those on its hypervisor)."""
    served = [p for p in plan.pods if pods is None or p.number in pods]
    if len(served) > MAX_NICS:
        raise ValueError(f"the ISP VM has one interface per pod: at most {MAX_NICS} pods per hypervisor")
    return [Nic(f"eth{k}", network_name(plan.lab, p.number, "wan"), mac(plan.lab, "isp", p.number),
                up=True, slot=NIC_FIRST_SLOT + k, purpose=f"WAN du pod {p.number}")
            for k, p in enumerate(served)]


def render_domain(*, lab: str, pod: int | None, node: str, kind: str, image: str, domain_type: str,
                  memory_mib: int, vcpus: int, kernel: str | Path, initrd: str | Path, cmdline: str,
                  disk: str | Path, console_log: str | Path, nics: list[Nic]) -> str:
    """Paths are on the hypervisor: the lab's pool volumes there."""
    return _env.get_template("domain.xml.j2").render(
        lab=lab, pod="" if pod is None else pod, node=node, kind=kind, image=image,
        where="FAI partagé" if pod is None else f"pod {pod}", name=domain_name(lab, pod, node),
        ns=NS, domain_type=domain_type, memory_mib=memory_mib, vcpus=vcpus, kernel=kernel,
        initrd=initrd, cmdline=cmdline, disk=disk, console_log=console_log, nics=nics)


def render_snapshot(name: str, description: str) -> str:
    return _env.get_template("snapshot.xml.j2").render(name=name, description=description)


def link_xml(nic: Nic, up: bool) -> str:
    """The interface element updateDeviceFlags needs to change only the link state."""
    state = "up" if up else "down"
    return (f'<interface type="network"><mac address="{nic.mac}"/><source network="{nic.network}"/>'
            f'<model type="virtio"/><link state="{state}"/></interface>')
