"""The lab plan: the scenario expanded per candidate pod.

Pure data, no I/O. Every backend builds exactly this: names, addresses, links.
``scenario.expand`` produces it from a validated scenario.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Literal

NodeKind = Literal["router", "switch", "ap", "server", "client", "printer"]
# Kinds that are network devices without an operating system image: on the nspawn
# backend they are plain network namespaces holding bridges.
NETWORK_DEVICE_KINDS: frozenset[str] = frozenset({"switch", "ap"})


@dataclass(frozen=True)
class Segment:
    """Where an interface plugs in.

    kind ``vlan``: an access port of the pod's switch on VLAN ``name``;
    kind ``wireless``: the wireless side of access point ``name``;
    kind ``upstream``: the pod's WAN link to the ISP.
    """

    kind: Literal["vlan", "wireless", "upstream"]
    name: str = ""


@dataclass(frozen=True)
class InterfacePlan:
    name: str                          # name inside the node: eth0, wlan0
    segment: Segment
    address: IPv4Interface | None      # static address, None when DHCP or unnumbered
    gateway: IPv4Address | None = None
    dhcp: bool = False


@dataclass(frozen=True)
class NodePlan:
    name: str                          # short name in the pod: pc1, srv
    kind: NodeKind
    image: str | None                  # None for network devices (switch, ap)
    interfaces: tuple[InterfacePlan, ...]
    roles: tuple[str, ...] = ()
    fqdn: str = ""
    aliases: tuple[str, ...] = ()      # extra DNS names in the pod's domain
    wireless: "WirelessPlan | None" = None

    @property
    def is_container(self) -> bool:
        return self.image is not None

    def interface(self, name: str) -> InterfacePlan:
        for i in self.interfaces:
            if i.name == name:
                return i
        raise KeyError(name)


@dataclass(frozen=True)
class WirelessPlan:
    ssid: str
    psk: str


@dataclass(frozen=True)
class VlanPlan:
    name: str
    id: int
    subnet: IPv4Network
    gateway: IPv4Address | None        # the router's address on it, if any
    dhcp_range: tuple[IPv4Address, IPv4Address] | None = None
    label: str | None = None           # what the candidate reads (French); None: the name

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class WanPlan:
    network: IPv4Network
    isp_address: IPv4Interface         # ISP side of the pod's WAN link
    router_address: IPv4Interface      # the pod router's WAN address


@dataclass(frozen=True)
class CheckPlan:
    """One behavioural check of a requirement, with the pod's values filled in."""

    check: str                          # lease, gateway, resolve, fetch, smb-read, smb-write, ipp, reach
    node: str                           # the machine it runs on
    params: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RequirementPlan:
    id: str
    title: str
    text: str                           # French, with this pod's values
    competencies: tuple[str, ...]
    checks: tuple[CheckPlan, ...]


@dataclass(frozen=True)
class NodeStartPlan:
    node: str
    state: str                          # baseline | bare
    remove_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrepPlan:
    """The prep phase of one pod: its start state and its cahier des charges."""

    title: str
    minutes: int
    context: str
    depot: str
    depot_address: IPv4Address
    start: tuple[NodeStartPlan, ...]
    requirements: tuple[RequirementPlan, ...]
    values: dict = field(default_factory=dict, hash=False, compare=False)   # every placeholder's value

    @property
    def depot_url(self) -> str:
        return f"http://{self.depot_address}/"

    def start_of(self, node: str) -> NodeStartPlan:
        for s in self.start:
            if s.node == node:
                return s
        return NodeStartPlan(node, "baseline")


@dataclass(frozen=True)
class StationsPlan:
    """The candidates' portal for one pod: machines with a terminal, accounts (passwords filled)."""

    nodes: tuple[str, ...]
    accounts: tuple[tuple[str, str], ...]   # (user, password)
    desktops: tuple[str, ...] = ()          # machines whose desktop the portal shows too
    desktop_user: str = "utilisateur"       # the account the desktop session runs as


@dataclass(frozen=True)
class DirectoryUserPlan:
    name: str                           # the login (sAMAccountName), this pod's
    first_name: str
    last_name: str
    password: str
    ou: str
    groups: tuple[str, ...]
    uid: int
    gid: int                            # primary group (rfc2307): Domain Users


@dataclass(frozen=True)
class DirectoryGroupPlan:
    name: str
    ou: str | None                      # None: the Users container
    description: str
    gid: int


@dataclass(frozen=True)
class DirectorySharePlan:
    name: str
    path: str
    group: str                          # members read and write; nobody else


@dataclass(frozen=True)
class DirectoryPlan:
    """One pod's Active Directory domain: every name and password is this pod's."""

    realm: str                          # POD1.TAI.LAN: the pod's domain, uppercase
    netbios: str
    base_dn: str                        # DC=pod1,DC=tai,DC=lan
    admin_password: str
    dc: str                             # the node with the role ad-dc
    members: tuple[str, ...]            # the nodes with the role ad-client
    policy: dict = field(hash=False, compare=False)
    ous: tuple[str, ...] = ()
    login_ou: str = ""
    groups: tuple[DirectoryGroupPlan, ...] = ()
    users: tuple[DirectoryUserPlan, ...] = ()
    shares: tuple[DirectorySharePlan, ...] = ()
    incident_user: str = ""
    control_user: str = ""
    new_password: str = ""
    domain_users_gid: int = 15000

    def user(self, name: str) -> DirectoryUserPlan:
        for u in self.users:
            if u.name == name:
                return u
        raise KeyError(name)

    def ou_dn(self, ou: str | None) -> str:
        return f"OU={ou},{self.base_dn}" if ou else f"CN=Users,{self.base_dn}"


@dataclass(frozen=True)
class PodPlan:
    number: int
    domain: str
    vlans: tuple[VlanPlan, ...]
    nodes: tuple[NodePlan, ...]
    wan: WanPlan
    services: dict = field(default_factory=dict, hash=False, compare=False)
    prep: PrepPlan | None = field(default=None, compare=False)
    stations: StationsPlan | None = field(default=None, compare=False)
    directory: DirectoryPlan | None = field(default=None, compare=False)

    def node(self, name: str) -> NodePlan:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def vlan(self, name: str) -> VlanPlan:
        for v in self.vlans:
            if v.name == name:
                return v
        raise KeyError(name)

    def nodes_with_role(self, role: str) -> list[NodePlan]:
        return [n for n in self.nodes if role in n.roles]

    def address_of(self, node: str) -> IPv4Address | None:
        """The first static address of a node (None for DHCP-only nodes)."""
        for i in self.node(node).interfaces:
            if i.address is not None and i.segment.kind != "upstream":
                return i.address.ip
        return None


@dataclass(frozen=True)
class SitePlan:
    name: str
    address: IPv4Address


@dataclass(frozen=True)
class UpstreamPlan:
    resolver: IPv4Address
    sites: tuple[SitePlan, ...]
    image: str = "debian-12"


@dataclass(frozen=True)
class LabPlan:
    lab: str                           # short lab name, part of every created name
    title: str
    source: str                        # scenario file it came from
    upstream: UpstreamPlan
    pods: tuple[PodPlan, ...]
    timezone: str = "Europe/Paris"
    interventions: tuple[str, ...] | None = None   # what the jury may pick (None: all)
    intervention_dir: str | None = None            # the scenario's own interventions (absolute path)

    def pod(self, number: int) -> PodPlan:
        for p in self.pods:
            if p.number == number:
                return p
        raise KeyError(number)
