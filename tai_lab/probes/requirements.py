"""The checks of the prep phase's cahier des charges, as probes of :mod:`tai_lab.probes.kinds`.

Like every probe, a check judges what the user sees, not how it was configured: any DHCP or DNS
server software, any way of configuring the client, passes.
"""
from __future__ import annotations

from ..plan import CheckPlan, PodPlan
from .kinds import build, lookup
from .model import Probe


def prep_probe(pod: PodPlan, check: CheckPlan, index: int) -> Probe:
    """The probe of one check of the cahier des charges (a :class:`~tai_lab.plan.CheckPlan`)."""
    p = check.params
    node = check.node
    pid = f"{check.check}#{index}"
    if check.check == "lease":
        vlan = pod.vlan(p["vlan"])
        assert vlan.dhcp_range is not None
        first, last = (str(a) for a in vlan.dhcp_range)
        server = pod.address_of(p["server"]) if p.get("server") else None
        by = f" par {p['server']} ({server})" if server else ""
        return build("lease", node, id=pid, title=f"{node} obtient une adresse entre {first} et {last}{by}",
                     iface=p.get("iface") or pod.node(node).interfaces[0].name, first=first, last=last,
                     server=str(server) if server else None)
    if check.check == "gateway":
        return build("gateway", node, id=pid, address=p["address"])
    if check.check == "resolve":
        return build("resolve", node, id=pid, title=f"{p['name']} se résout en {p['address']} depuis {node}",
                     name=p["name"], address=p["address"])
    if check.check == "fetch":
        return build("fetch", node, id=pid, title=f"{p['url']} s'affiche sur {node}", url=p["url"],
                     contains=p["contains"], connect_timeout=3, max_time=8, timeout=12)
    if check.check == "reach":
        return build("reach", node, id=pid, address=p["address"])
    if check.check == "ipp":
        return build("ipp", node, id=pid, title=f"l'imprimante {p['name']} répond en IPP depuis {node}",
                     printer=p["name"], timeout=12)
    if check.check == "smb-read":
        return build("smb-read", node, id=pid, title=f"{p['user']} ouvre le partage {p['share']} depuis {node}",
                     share=p["share"], user=p["user"], password=p["password"])
    if check.check == "smb-write":
        allowed = p.get("expect", "allowed") == "allowed"
        title = (f"{p['user']} peut écrire dans {p['share']}" if allowed
                 else f"{p['user']} ne peut pas écrire dans {p['share']}")
        return build("smb-write", node, id=pid, title=title, share=p["share"], user=p["user"],
                     password=p["password"], file=f"tai-verif-{p['user']}.txt", expect=p.get("expect", "allowed"))
    # A kind added to the registry: the check's values as written, those the kind takes (a
    # check's fields with a default, such as `expect`, are in every check's values).
    k = lookup(check.check)
    return build(check.check, node, id=pid, **{name: v for name, v in p.items() if name in (*k.needs, *k.takes)})
