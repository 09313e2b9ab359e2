"""Expand a validated scenario into the lab plan: one :class:`PodPlan` per candidate.

Pure and deterministic: the same scenario and pod count always give the same plan.
The scenario must have been checked for that pod count (``load_plan`` does it);
expanding an unchecked scenario may raise ``KeyError``/``ValueError``.
"""
from __future__ import annotations

import os
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_network
from pathlib import Path
from typing import Any

from tai_lab.errors import TaiLabError
from tai_lab.lang import tr
from tai_lab.plan import (
    CheckPlan,
    DirectoryGroupPlan,
    DirectoryPlan,
    DirectorySharePlan,
    DirectoryUserPlan,
    InterfacePlan,
    LabPlan,
    NodePlan,
    NodeStartPlan,
    PodPlan,
    PrepPlan,
    RequirementPlan,
    Segment,
    SitePlan,
    StationsPlan,
    UpstreamPlan,
    VlanPlan,
    WanPlan,
    WirelessPlan,
)
from tai_lab.scenario.model import MAX_PODS, Directory, Interface, Node, Prep, Scenario
from tai_lab.scenario.values import fill, pod_values

POD_PLACEHOLDER = "{pod}"


def pod_count(scenario: Scenario, pods: int | None) -> int:
    """The number of pods to build: ``pods`` if given, else the scenario's; 1..16."""
    count = scenario.pods if pods is None else pods
    if isinstance(count, bool) or not isinstance(count, int):   # True is an int to Python
        raise TaiLabError(tr(f"le nombre de pods doit être un nombre entier, pas {count!r}",
                             f"pod count must be a whole number, got {count!r}"),
                          hint=tr(f"un nombre de candidats de 1 à {MAX_PODS}",
                                  f"a number of candidates from 1 to {MAX_PODS}"))
    if not 1 <= count <= MAX_PODS:
        raise TaiLabError(
            tr(f"le nombre de pods va de 1 à {MAX_PODS}, pas {count}",
               f"pod count must be between 1 and {MAX_PODS}, got {count}"),
            hint=tr(f"{MAX_PODS} candidats est le maximum du référentiel par session",
                    f"{MAX_PODS} candidates is the référentiel's maximum per session"),
        )
    return count


def substitute(text: str, pod: int) -> str:
    """Replace ``{pod}`` with the pod number (plain replace: other braces are kept)."""
    return text.replace(POD_PLACEHOLDER, str(pod))


def substitute_deep(value: Any, pod: int) -> Any:
    """``substitute`` through nested dicts and lists (the free-form ``services``)."""
    if isinstance(value, str):
        return substitute(value, pod)
    if isinstance(value, dict):
        return {k: substitute_deep(v, pod) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute_deep(v, pod) for v in value]
    return value


def network(pattern: str, pod: int) -> IPv4Network:
    """The network a pattern gives for one pod (strict: host bits must be zero)."""
    net = ip_network(substitute(pattern, pod), strict=True)
    if not isinstance(net, IPv4Network):
        raise ValueError(f"{net} is not an IPv4 network")
    return net


def host_address(subnet: IPv4Network, host: int) -> IPv4Interface:
    """Host number ``host`` of ``subnet``, with the subnet's prefix length."""
    return IPv4Interface(f"{subnet.network_address + host}/{subnet.prefixlen}")


def wan_plan(pattern: str, pod: int) -> WanPlan:
    """The pod's WAN link: ISP on the first usable host, router on the second."""
    net = network(pattern, pod)
    return WanPlan(
        network=net,
        isp_address=host_address(net, 1),
        router_address=host_address(net, 2),
    )


def expand(scenario: Scenario, *, source: str, pods: int | None = None,
           base_dir: str | os.PathLike[str] | None = None) -> LabPlan:
    """Expand ``scenario`` into a :class:`LabPlan`.

    ``source`` is recorded as the scenario file it came from; ``pods`` overrides the
    scenario's pod count (1..16, else :class:`TaiLabError`). ``base_dir`` is where the
    scenario's relative paths start (default: the directory of ``source``).
    """
    count = pod_count(scenario, pods)
    upstream = UpstreamPlan(
        resolver=scenario.upstream.resolver,
        sites=tuple(SitePlan(s.name, s.address) for s in scenario.upstream.sites),
        image=scenario.upstream.image,
    )
    return LabPlan(
        lab=scenario.lab,
        title=scenario.title,
        source=source,
        upstream=upstream,
        pods=tuple(_expand_pod(scenario, n) for n in range(1, count + 1)),
        timezone=scenario.timezone,
        interventions=tuple(scenario.interventions) if scenario.interventions is not None else None,
        intervention_dir=intervention_dir(scenario, base_dir if base_dir is not None else Path(source).parent),
    )


def intervention_dir(scenario: Scenario, base_dir: str | os.PathLike[str]) -> str | None:
    """The scenario's own interventions directory, absolute (None: the catalogue only)."""
    if scenario.interventions_dir is None:
        return None
    return os.fspath((Path(base_dir) / scenario.interventions_dir).resolve())


def _expand_pod(scenario: Scenario, number: int) -> PodPlan:
    pod = scenario.pod
    domain = substitute(pod.domain, number)
    wan = wan_plan(scenario.upstream.wan, number)
    subnets = {name: network(v.subnet, number) for name, v in pod.vlans.items()}
    router_name, router = next((n, node) for n, node in pod.nodes.items() if node.kind == "router")

    # The router's static address on a VLAN is that VLAN's default gateway.
    gateways: dict[str, IPv4Address] = {}
    for iface in router.interfaces:
        if iface.vlan is not None and iface.host is not None and iface.vlan not in gateways:
            gateways[iface.vlan] = host_address(subnets[iface.vlan], iface.host).ip

    vlans = tuple(
        VlanPlan(
            name=name,
            id=v.id,
            subnet=subnets[name],
            gateway=gateways.get(name),
            dhcp_range=None
            if v.dhcp_range is None
            else (
                host_address(subnets[name], v.dhcp_range[0]).ip,
                host_address(subnets[name], v.dhcp_range[1]).ip,
            ),
            label=v.label,
        )
        for name, v in pod.vlans.items()
    )
    # A wireless station lands on the VLAN its access point bridges to.
    ap_vlan = {
        name: next(i.vlan for i in node.interfaces if i.vlan is not None)
        for name, node in pod.nodes.items()
        if node.kind == "ap"
    }

    def interface(node_name: str, iface: Interface) -> InterfacePlan:
        if iface.upstream:
            return InterfacePlan(
                name=iface.name,
                segment=Segment("upstream"),
                address=wan.router_address,
                gateway=wan.isp_address.ip,
            )
        if iface.vlan is not None:
            segment, vlan = Segment("vlan", iface.vlan), iface.vlan
        else:
            assert iface.wireless is not None
            segment, vlan = Segment("wireless", iface.wireless), ap_vlan[iface.wireless]
        if iface.dhcp:
            return InterfacePlan(name=iface.name, segment=segment, address=None, dhcp=True)
        assert iface.host is not None
        return InterfacePlan(
            name=iface.name,
            segment=segment,
            address=host_address(subnets[vlan], iface.host),
            # The router is the gateway; it has none on its own LAN side.
            gateway=None if node_name == router_name else gateways.get(vlan),
        )

    def node_plan(name: str, node: Node) -> NodePlan:
        return NodePlan(
            name=name,
            kind=node.kind,
            image=node.image,
            interfaces=tuple(interface(name, i) for i in node.interfaces),
            roles=tuple(node.roles),
            fqdn=f"{name}.{domain}",
            aliases=tuple(node.aliases),
            wireless=None
            if node.wireless is None
            else WirelessPlan(
                ssid=substitute(node.wireless.ssid, number),
                psk=substitute(node.wireless.psk, number),
            ),
        )

    plan = PodPlan(
        number=number,
        domain=domain,
        vlans=vlans,
        nodes=tuple(node_plan(n, node) for n, node in pod.nodes.items()),
        wan=wan,
        services=substitute_deep(pod.services, number),
        stations=StationsPlan(
            nodes=tuple(scenario.stations.nodes if scenario.stations.nodes is not None else
                        [n for n, node in pod.nodes.items() if node.kind in ("server", "client")]),
            accounts=tuple((a.user, substitute(a.password, number)) for a in scenario.stations.accounts),
            desktops=tuple(scenario.stations.desktops), desktop_user=scenario.stations.desktop_user),
    )
    from dataclasses import replace
    if pod.directory is not None:
        plan = replace(plan, directory=expand_directory(pod.directory, plan))
    if scenario.prep is None:
        return plan
    return replace(plan, prep=_expand_prep(scenario.prep, plan))


DOMAIN_USERS_GID = 15000     # every user's primary group (rfc2307 gidNumber of Domain Users)


def expand_directory(d: Directory, pod: PodPlan) -> DirectoryPlan:
    """The pod's domain: realm from its DNS domain, names and passwords with {pod} filled,
    unix ids (rfc2307, inside the node's user namespace) given where the scenario gave none,
    the incident and control accounts chosen when not named."""
    n = pod.number
    groups = tuple(DirectoryGroupPlan(substitute(g.name, n), g.ou, g.description,
                                      g.gid if g.gid is not None else DOMAIN_USERS_GID + 1 + i)
                   for i, g in enumerate(d.groups))
    users = tuple(DirectoryUserPlan(
        substitute(u.name, n), u.first_name, u.last_name, substitute(u.password, n), u.ou,
        tuple(substitute(g, n) for g in u.groups), u.uid if u.uid is not None else 10000 + 1 + i,
        DOMAIN_USERS_GID) for i, u in enumerate(d.users))
    shares = tuple(DirectorySharePlan(s.name, s.path, substitute(s.group, n)) for s in d.shares)
    share_groups = {s.group for s in shares}
    in_share = [u.name for u in users if share_groups & set(u.groups)]
    outside = [u.name for u in users if not share_groups & set(u.groups)]
    dc = next(node.name for node in pod.nodes if "ad-dc" in node.roles)
    return DirectoryPlan(
        realm=pod.domain.upper(), netbios=substitute(d.netbios, n),
        base_dn=",".join(f"DC={label}" for label in pod.domain.split(".")),
        admin_password=substitute(d.admin_password, n), dc=dc,
        members=tuple(node.name for node in pod.nodes if "ad-client" in node.roles),
        policy=d.policy.model_dump(), ous=tuple(d.ous), login_ou=d.login_ou,
        groups=groups, users=users, shares=shares,
        incident_user=substitute(d.incident_user, n) if d.incident_user else (in_share or [users[0].name])[0],
        control_user=substitute(d.control_user, n) if d.control_user else (outside or [users[-1].name])[0],
        new_password=substitute(d.new_password, n), domain_users_gid=DOMAIN_USERS_GID)


def _expand_prep(prep: Prep, pod: PodPlan) -> PrepPlan:
    """The cahier des charges of one pod: every placeholder replaced by the pod's value."""
    values = {k: substitute(v, pod.number) for k, v in prep.values.items()}
    table = pod_values(pod, values, f"http://{prep.depot_address}/")
    requirements = []
    for req in prep.requirements:
        checks = []
        for c in req.checks:
            params = {k: fill(substitute(v, pod.number), table) if isinstance(v, str) else v
                      for k, v in c.model_dump(exclude={"check", "node"}).items() if v is not None}
            checks.append(CheckPlan(c.check, c.node, params))
        requirements.append(RequirementPlan(
            id=req.id, title=fill(substitute(req.title, pod.number), table),
            text=fill(substitute(req.text, pod.number), table).strip(),
            competencies=tuple(req.competencies), checks=tuple(checks)))
    return PrepPlan(
        title=fill(substitute(prep.title, pod.number), table), minutes=prep.minutes,
        context=fill(substitute(prep.context, pod.number), table).strip(),
        depot=prep.depot, depot_address=prep.depot_address,
        start=tuple(NodeStartPlan(n, s.state, tuple(s.remove_packages)) for n, s in prep.start.items()),
        requirements=tuple(requirements), values=table)
