"""Placeholders of the cahier des charges: ``{address.srv}``, ``{dhcp_first.users}``…

A requirement's text and its checks name values of the addressing plan, so every
candidate reads (and is checked against) their own pod's subnets and names. The
names are known from the scenario alone (for validation, with line numbers); the
values come from one pod's plan.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tai_lab.plan import PodPlan
    from tai_lab.scenario.model import Scenario

PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[A-Za-z0-9_-]+)?)\}")


def placeholder_names(scenario: Scenario) -> list[str]:
    """Every placeholder a prep text or check may use in this scenario."""
    pod = scenario.pod
    names = ["pod", "domain", "depot"]
    router = next((n for n in pod.nodes.values() if n.kind == "router"), None)
    routed = {i.vlan for i in (router.interfaces if router else []) if i.vlan and i.host is not None}
    for vname, vlan in pod.vlans.items():
        names.append(f"subnet.{vname}")
        if vname in routed:
            names.append(f"gateway.{vname}")
        if vlan.dhcp_range is not None:
            names += [f"dhcp_first.{vname}", f"dhcp_last.{vname}"]
    for nname, node in pod.nodes.items():
        if node.image is None:
            continue
        names.append(f"fqdn.{nname}")
        if any(i.host is not None and not i.upstream for i in node.interfaces):
            names.append(f"address.{nname}")
    if scenario.prep is not None:
        names += [f"value.{k}" for k in scenario.prep.values]
    return names


def unknown_placeholders(text: str, names: list[str]) -> list[str]:
    known = set(names)
    return [m for m in PLACEHOLDER.findall(text) if m not in known]


def pod_values(pod: PodPlan, values: dict[str, str], depot_url: str) -> dict[str, str]:
    """The value of every placeholder for one pod (``values`` already has its {pod} replaced)."""
    table = {"pod": str(pod.number), "domain": pod.domain, "depot": depot_url}
    for v in pod.vlans:
        table[f"subnet.{v.name}"] = str(v.subnet)
        if v.gateway is not None:
            table[f"gateway.{v.name}"] = str(v.gateway)
        if v.dhcp_range is not None:
            table[f"dhcp_first.{v.name}"] = str(v.dhcp_range[0])
            table[f"dhcp_last.{v.name}"] = str(v.dhcp_range[1])
    for n in pod.nodes:
        if not n.is_container:
            continue
        table[f"fqdn.{n.name}"] = n.fqdn
        addr = pod.address_of(n.name)
        if addr is not None:
            table[f"address.{n.name}"] = str(addr)
    table.update({f"value.{k}": v for k, v in values.items()})
    return table


def fill(text: str, table: dict[str, str]) -> str:
    """Replace every known placeholder; other braces stay as they are."""
    return PLACEHOLDER.sub(lambda m: table.get(m.group(1), m.group(0)), text)
