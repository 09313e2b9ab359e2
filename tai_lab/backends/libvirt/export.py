"""The VM plan of a scenario as plain data (``tai-lab export``): what the Vagrantfile reads.

Same names, networks, MACs, NIC order (PCI slots) and addresses as the libvirt backend
builds, so a trainer using Vagrant (vagrant-libvirt) gets the same machines, from the
scenario itself.
"""
from __future__ import annotations

from ...plan import LabPlan
from . import xml as lx
from .placement import MEMORY_MIB

FORMAT = 1


def export(plan: LabPlan) -> dict:
    networks: list[dict] = [{"name": n, "pod": None, "purpose": "wan", "isolated": True} for n in lx.wan_networks(plan)]
    machines = [{
        "name": lx.domain_name(plan.lab, None, "isp"), "pod": None, "node": "isp", "kind": "isp",
        "image": plan.upstream.image, "memory_mib": MEMORY_MIB["isp"], "vcpus": 1,
        "interfaces": [{"name": nic.name, "network": nic.network, "mac": nic.mac,
                        "address": str(p.wan.isp_address), "link_up": True, "pci_slot": nic.slot}
                       for nic, p in zip(lx.isp_nics(plan), plan.pods)],
    }]
    for pod in plan.pods:
        networks += [{"name": n, "pod": pod.number, "purpose": "vlan", "isolated": True}
                     for n in lx.pod_networks(plan, pod)]
        for node in pod.nodes:
            if not node.is_container:
                continue
            machines.append({
                "name": lx.domain_name(plan.lab, pod.number, node.name), "pod": pod.number,
                "node": node.name, "kind": node.kind, "image": node.image,
                "memory_mib": MEMORY_MIB.get(node.kind, 256), "vcpus": 1,
                "interfaces": [{"name": i.name, "network": nic.network, "mac": nic.mac,
                                "address": str(i.address) if i.address else None,
                                "dhcp": i.dhcp, "link_up": nic.up, "pci_slot": nic.slot}
                               for i, nic in zip(node.interfaces, lx.node_nics(plan, pod, node))],
            })
    return {"format": FORMAT, "lab": plan.lab, "title": plan.title, "pods": len(plan.pods),
            "networks": networks, "machines": machines}
