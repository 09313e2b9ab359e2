"""Where a libvirt lab's pods live: one hypervisor, or whole pods spread over an inventory of
hosts by free memory and vCPUs. The upstream ISP has one VM per hypervisor in use (a pod's
networks are local bridges of its host)."""
from __future__ import annotations

from typing import Callable

from ...plan import LabPlan
from .connection import Connections

# What a VM of each kind gets: the domain is defined with it, the placement counts it.
MEMORY_MIB = {"router": 256, "client": 320, "server": 384, "printer": 256, "isp": 256}


class Placement(Connections):
    """Which URI each pod (and each ISP VM) lives on."""

    plan: LabPlan
    uri: str
    placement: dict[int, str]        # pod → URI of the host it lives on; the upstream is on ``uri``
    inventory: str | None
    progress: Callable[[str], None]

    def uri_of(self, pod: int | None, node: str = "isp") -> str:
        if pod is None:
            return self.upstream_uris().get(node, self.uri)
        return self.placement.get(pod, self.uri)

    def hosts_in_use(self) -> list[str]:
        """Hypervisor URIs with pods, the first (main) one first."""
        uris = [self.uri]
        for p in sorted(self.placement):
            if self.placement[p] not in uris:
                uris.append(self.placement[p])
        return uris

    def upstream_uris(self) -> dict[str, str]:
        """ISP node → URI: ``isp`` on the main host, ``isp2``… on the others (one per host,
        since a pod's networks are local bridges of its host)."""
        return {("isp" if k == 0 else f"isp{k + 1}"): uri for k, uri in enumerate(self.hosts_in_use())}

    def upstream_nodes(self) -> list[str]:
        return list(self.upstream_uris())

    def pods_on(self, uri: str) -> list[int]:
        return [p.number for p in self.plan.pods if self.uri_of(p.number) == uri]

    def _place(self) -> None:
        """Whole pods on the inventory's hosts by free memory and vCPUs, or refuse with numbers."""
        from ... import hosts as hostmod
        assert self.inventory is not None           # placed only with an inventory
        inv = hostmod.load_inventory(self.inventory)
        usage = [hostmod.measure(h, self.conn(h.uri)) for h in inv]
        self.placement = hostmod.place(self.plan, usage, lambda kind: MEMORY_MIB.get(kind, 256),
                                       MEMORY_MIB["isp"])
        # The main host (the ISP of `exec isp`, the probe of KVM) is the first one with pods.
        self.uri = next(h.uri for h in inv if h.uri in self.placement.values())
        for h in inv:
            pods = [p for p, u in self.placement.items() if u == h.uri]
            if pods:
                self.progress(f"host {h.name} ({h.uri}): pod(s) {', '.join(map(str, pods))}")
