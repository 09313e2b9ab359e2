"""The scenario file as pydantic models: pure data, no I/O, nothing of ours imported.

These models check the *shape* of a scenario (keys, types, name limits, ranges).
Rules that relate several parts of the file (a VLAN that must exist, one router per
pod, addresses that must not collide…) live in :mod:`tai_lab.scenario.load`, which
can point at the exact line of each part.

``{pod}`` in a string value is the candidate's pod number (1, 2, …); it is replaced
by :mod:`tai_lab.scenario.expand`.
"""
from __future__ import annotations

from ipaddress import IPv4Address
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

# 16 candidates is the référentiel's maximum per session.
MAX_PODS = 16

# Linux interface names are at most 15 characters and the backends build
# "<node>-<iface>" (8 + 1 + 6), so both parts are kept short and plain.
LAB_NAME_PATTERN = r"^[a-z][a-z0-9]{0,5}$"
NODE_NAME_PATTERN = r"^[a-z][a-z0-9]{0,7}$"
IFACE_NAME_PATTERN = r"^[a-z][a-z0-9]{0,5}$"
VLAN_NAME_PATTERN = r"^[a-z][a-z0-9]{0,7}$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"

LabName = Annotated[str, StringConstraints(pattern=LAB_NAME_PATTERN)]
NodeName = Annotated[str, StringConstraints(pattern=NODE_NAME_PATTERN)]
InterfaceName = Annotated[str, StringConstraints(pattern=IFACE_NAME_PATTERN)]
VlanName = Annotated[str, StringConstraints(pattern=VLAN_NAME_PATTERN)]
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN)]

# Numbers and addresses as written, not coerced: by default pydantic reads `pods: true` as 1,
# `host: "10"` as 10 and `resolver: 1` as 0.0.0.1, none of which a trainer means.
Whole = Annotated[int, Strict()]


def _address_text(value: Any) -> Any:
    if not isinstance(value, (str, IPv4Address)):
        raise PydanticCustomError("ip_v4_address", "expected an IPv4 address, got {got}", {"got": repr(value)})
    return value


Address = Annotated[IPv4Address, BeforeValidator(_address_text)]

NodeKind = Literal["router", "switch", "ap", "server", "client", "printer"]
Role = Literal["router", "dns", "dhcp", "fileshare", "intranet", "ipp-printer", "service-desk", "ad-dc", "ad-client"]

# Kinds without an operating system image (namespace-only network devices).
NETWORK_DEVICE_KINDS: frozenset[str] = frozenset({"switch", "ap"})

# Which node kinds can carry each role.
ROLE_KINDS: dict[str, frozenset[str]] = {
    "router": frozenset({"router"}),
    "dns": frozenset({"router", "server"}),
    "dhcp": frozenset({"router", "server"}),
    "fileshare": frozenset({"server"}),
    "intranet": frozenset({"server"}),
    "ipp-printer": frozenset({"printer"}),
    "service-desk": frozenset({"server"}),
    "ad-dc": frozenset({"server"}),
    "ad-client": frozenset({"client"}),
}


class _Strict(BaseModel):
    """Base of every scenario model: unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(extra="forbid")


class Site(_Strict):
    """A public web site the simulated Internet serves."""

    name: str = Field(description="DNS name, e.g. www.example.net")
    address: Address


class Upstream(_Strict):
    """The simulated ISP shared by every pod."""

    wan: str = Field(
        description="Pattern of each pod's point-to-point WAN network, e.g. 100.64.{pod}.0/30; "
        "the ISP gets the first usable address, the pod's router the second",
    )
    resolver: Address = Field(description="Public DNS resolver served by the ISP")
    sites: list[Site] = Field(default_factory=list)
    image: str = Field("debian-12", description="Image of the ISP container")


class Vlan(_Strict):
    """One VLAN of a pod's switch."""

    id: Whole = Field(ge=1, le=4094)
    subnet: str = Field(description="Pattern of the pod's subnet, e.g. 10.{pod}.10.0/24")
    # A two-item list rather than a tuple: pydantic then says "should have 2 items".
    dhcp_range: Annotated[list[Whole], Field(min_length=2, max_length=2)] | None = Field(
        None, description="First and last host number the DHCP server hands out"
    )
    label: str | None = Field(
        None, max_length=60,
        description="The network's name as the candidate reads it, in French (default: the VLAN's key)"
    )


class Wireless(_Strict):
    """Wi-Fi settings of an access point (``{pod}`` allowed)."""

    ssid: str
    psk: str


class Interface(_Strict):
    """A network interface of a node and where it plugs in."""

    name: InterfaceName
    vlan: str | None = Field(None, description="Access port on this VLAN of the pod's switch")
    wireless: str | None = Field(None, description="Associated with this access point node")
    upstream: bool = Field(False, description="The router's WAN link to the ISP")
    host: Whole | None = Field(None, description="Static address: host number in the subnet")
    dhcp: bool = False

    @model_validator(mode="after")
    def _one_segment_one_address(self) -> Interface:
        segments = [self.vlan is not None, self.wireless is not None, self.upstream]
        if sum(segments) != 1:
            raise PydanticCustomError(
                "interface_segment", "needs exactly one of vlan, wireless or upstream: true"
            )
        if self.upstream:
            if self.host is not None or self.dhcp:
                raise PydanticCustomError(
                    "interface_upstream_address", "an upstream interface takes no host or dhcp"
                )
        elif (self.host is not None) == self.dhcp:
            raise PydanticCustomError(
                "interface_address", "needs exactly one of host: <number> or dhcp: true"
            )
        return self


class Node(_Strict):
    """A machine or network device of a pod."""

    kind: NodeKind
    image: str | None = Field(None, description="Required for router/server/client/printer")
    interfaces: list[Interface] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    aliases: list[DnsLabel] = Field(default_factory=list, description="Extra DNS names")
    wireless: Wireless | None = Field(None, description="Only on kind ap")


DESK_LOGIN_PATTERN = r"^[a-z][a-z0-9._-]{0,31}$"
DeskLogin = Annotated[str, StringConstraints(pattern=DESK_LOGIN_PATTERN)]
DeskPassword = Annotated[str, StringConstraints(min_length=8, max_length=64, pattern=r"^[^\n\r'\\]*$")]


class DeskPerson(_Strict):
    """An account of the service desk (Request Tracker): a user of the pod or a technician."""

    login: DeskLogin = Field(description="The login, e.g. alice (the directory's account name where there is one)")
    name: str = Field(min_length=1, max_length=80, description="Full name, e.g. Alice Martin")
    password: DeskPassword = Field(description="Password of the desk's web interface ({pod} allowed)")
    machine: NodeName | None = Field(None, description="users: the client machine this user works on")


class DeskAsset(_Strict):
    """What the inventory cannot read on a container (no DMI): given by the trainer."""

    serial: str = Field(min_length=1, max_length=60, description="Serial number, e.g. TAI{pod}-PC1")
    model: str = Field("", max_length=80, description="Model, e.g. Poste fixe")


class ServiceDesk(_Strict):
    """``pod.services.servicedesk``: the service desk of the node with the ``service-desk`` role."""

    name: DnsLabel = Field("support", description="Its DNS name in the pod's domain: one of the node's aliases")
    organisation: str = Field("Atelier {pod}", max_length=80, description="The organisation's name in RT")
    technicians: list[DeskPerson] = Field(min_length=1, description="The candidate's accounts (technicians)")
    users: list[DeskPerson] = Field(min_length=1, description="The pod's users, each on their machine")
    assets: dict[NodeName, DeskAsset] = Field(default_factory=dict,
                                              description="Per client machine: serial number and model")


# --- the directory (Active Directory, roles ad-dc and ad-client) ---------------------

# sAMAccountName-like names, lowercase so that a Linux login and the AD account are the same
# word; ``{pod}`` allowed (per-pod names).
ACCOUNT_NAME_PATTERN = r"^([a-z0-9._-]|\{pod\}){1,20}$"
OU_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$"
# A node's user namespace maps 65536 ids; Samba's own range is 20000-59999 (images/debian-12-ad).
RFC2307_IDS = (10000, 19999)

AccountName = Annotated[str, StringConstraints(pattern=ACCOUNT_NAME_PATTERN)]
OuName = Annotated[str, StringConstraints(pattern=OU_NAME_PATTERN)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\n\r'\"\\]*$")]


class DirectoryPolicy(_Strict):
    """The domain's password and lockout policy, as a training centre sets it."""

    lockout_threshold: Whole = Field(3, ge=0, le=100, description="Bad passwords before a lockout (0: never)")
    lockout_minutes: Whole = Field(0, ge=0, le=99999,
                                   description="How long a lockout lasts; 0: until an administrator unlocks")
    min_length: Whole = Field(8, ge=0, le=64, description="Minimum password length")
    complexity: bool = Field(True, description="Three of: lowercase, uppercase, digit, symbol")
    max_age_days: Whole = Field(42, ge=0, le=999, description="Maximum password age (0: never expires)")
    history: Whole = Field(24, ge=0, le=24, description="Passwords remembered")


class DirectoryGroup(_Strict):
    """A domain group (security, global)."""

    name: AccountName
    ou: OuName | None = Field(None, description="Its OU (default: the Users container)")
    description: str = ""
    gid: Whole | None = Field(None, ge=RFC2307_IDS[0], le=RFC2307_IDS[1],
                              description="Unix gid (rfc2307); default: 15000 + its position")


class DirectoryUser(_Strict):
    """A domain account; ``{pod}`` allowed in its name and password."""

    name: AccountName
    first_name: str = Field(max_length=64)
    last_name: str = Field(max_length=64)
    password: Secret
    ou: OuName = Field(description="Its OU (one of the directory's ous)")
    groups: list[AccountName] = Field(default_factory=list)
    uid: Whole | None = Field(None, ge=RFC2307_IDS[0], le=RFC2307_IDS[1],
                              description="Unix uid (rfc2307); default: 10000 + its position")


class DirectoryShare(_Strict):
    """A share of the domain controller whose rights come from one AD group."""

    name: DnsLabel
    path: Annotated[str, StringConstraints(pattern=r"^/srv/[a-z0-9][a-z0-9_-]{0,31}$")]
    group: AccountName = Field(description="Members read and write; nobody else")


class Directory(_Strict):
    """An Active Directory domain on the pod: its controller is the node with the role ad-dc
    (Samba), its members the nodes with the role ad-client (sssd). The realm is the pod's
    domain, so the controller's DNS serves the pod's names."""

    netbios: Annotated[str, StringConstraints(pattern=r"^([A-Z][A-Z0-9]{0,11}|[A-Z][A-Z0-9]{0,9}\{pod\})$")] = \
        Field("POD{pod}", description="The domain's short (NetBIOS) name, uppercase; {pod} allowed")
    admin_password: Secret = Field(description="The domain Administrator's password ({pod} allowed)")
    policy: DirectoryPolicy = Field(default_factory=DirectoryPolicy)
    ous: list[OuName] = Field(min_length=1, description="Organisational units under the domain")
    login_ou: OuName = Field(description="The OU whose users may log in on the members (sssd's search base)")
    groups: list[DirectoryGroup] = Field(default_factory=list)
    users: list[DirectoryUser] = Field(min_length=1)
    shares: list[DirectoryShare] = Field(default_factory=list)
    incident_user: AccountName | None = Field(
        None, description="The account the jury member plays in directory interventions "
        "(default: the first user who is in a share's group)")
    control_user: AccountName | None = Field(
        None, description="An account outside the shares' groups, that must stay refused "
        "(default: the first user in no share's group)")
    new_password: Secret = Field(
        "Nouveau-{pod}-Tai", description="The password the incident user picks when told to change theirs")


class Pod(_Strict):
    """What every candidate gets; ``{pod}`` makes names and addresses unique."""

    domain: str = Field(description="Pattern of the pod's DNS domain, e.g. pod{pod}.tai.lan")
    vlans: dict[VlanName, Vlan] = Field(default_factory=dict)
    nodes: dict[NodeName, Node]
    services: dict[str, Any] = Field(
        default_factory=dict, description="What the roles serve; free form, {pod} allowed"
    )
    directory: Directory | None = Field(None, description="An Active Directory domain (roles ad-dc, ad-client)")


# --- the prep phase -----------------------------------------------------------------

CheckKind = Literal["lease", "gateway", "resolve", "fetch", "smb-read", "smb-write", "ipp", "reach"]
StartState = Literal["baseline", "bare"]
REQUIREMENT_ID_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"

# What each kind of check needs (besides ``node``), for the shape rule below.
CHECK_FIELDS: dict[str, tuple[str, ...]] = {
    "lease": ("vlan",),
    "gateway": ("address",),
    "resolve": ("name", "address"),
    "fetch": ("url", "contains"),
    "smb-read": ("share", "user", "password"),
    "smb-write": ("share", "user", "password"),
    "ipp": ("name",),
    "reach": ("address",),
}


class PrepCheck(_Strict):
    """A behavioural check of a requirement, run on one node (the user's machine where
    it makes sense). Values take placeholders of the addressing plan, e.g. {address.srv}."""

    check: CheckKind
    node: NodeName = Field(description="The machine the check runs on, e.g. pc1 (the user's machine)")
    vlan: str | None = Field(None, description="lease: the address is in this vlan's DHCP range")
    server: NodeName | None = Field(None, description="lease: … and was handed out by this node")
    iface: InterfaceName | None = Field(None, description="lease: interface (default: the node's first)")
    address: str | None = Field(None, description="gateway/resolve/reach: the expected address")
    name: str | None = Field(None, description="resolve/ipp: the DNS name")
    url: str | None = None
    contains: str | None = None
    share: str | None = Field(None, description="smb-*: //server/share")
    user: str | None = None
    password: str | None = None
    expect: Literal["allowed", "denied"] = Field("allowed", description="smb-write: allowed or denied")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> PrepCheck:
        missing = [f for f in CHECK_FIELDS[self.check] if getattr(self, f) is None]
        if missing:
            raise PydanticCustomError("check_fields", "a {kind} check needs {missing}",
                                      {"kind": self.check, "missing": ", ".join(missing)})
        return self


class Requirement(_Strict):
    """One line of the cahier des charges: French text for the candidate, competencies, checks."""

    id: Annotated[str, StringConstraints(pattern=REQUIREMENT_ID_PATTERN)]
    title: str = Field(description="French title, e.g. Distribution des adresses (DHCP)")
    text: str = Field(description="French text for the candidate; placeholders of the addressing plan")
    competencies: list[str] = Field(min_length=1, description="Référentiel ids, e.g. c10")
    checks: list[PrepCheck] = Field(min_length=1)


class NodeStart(_Strict):
    """A node's state when the prep phase starts."""

    state: StartState = Field(description="baseline: as provisioned; bare: nothing of the roles configured")
    remove_packages: list[str] = Field(default_factory=list,
                                       description="bare: packages purged so the candidate installs them")


class Prep(_Strict):
    """The prep phase: start state of the nodes and the cahier des charges."""

    title: str = Field("Cahier des charges", description="Title of the candidate's document")
    minutes: Whole = Field(240, ge=10, le=600, description="Length of the prep phase")
    context: str = Field("", description="French introduction of the document (placeholders allowed)")
    depot: str = Field("depot-bookworm", description="Offline package depot (images/<name>/depot.yaml)")
    depot_address: Address = Field(
        IPv4Address("198.51.100.10"),
        description="Where the ISP serves the depot; the only address a pod reaches during the prep phase")
    start: dict[NodeName, NodeStart] = Field(
        default_factory=dict, description="Nodes not listed keep their baseline")
    values: dict[str, str] = Field(default_factory=dict,
                                   description="Per-pod values for the texts and checks ({value.NAME}; {pod} allowed)")
    requirements: list[Requirement] = Field(min_length=1)


# --- the candidates' stations (tai_lab.stations) ------------------------------------------

ACCOUNT_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"


class StationAccount(_Strict):
    """An account the candidate logs in with on the stations' machines."""

    user: Annotated[str, StringConstraints(pattern=ACCOUNT_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\n\r]*$")] = Field(
        description="Given to an account that never had one ({pod} allowed); printed on the pod's card")


class Stations(_Strict):
    """What the candidates' portal opens: terminals on these machines, these accounts."""

    nodes: list[NodeName] | None = Field(
        None, description="Machines with a terminal in the portal (default: the servers and clients; "
        "a router only if listed; never a switch, an access point or the ISP)")
    accounts: list[StationAccount] = Field(
        default_factory=lambda: [StationAccount(user="root", password="tai-{pod}")], min_length=1,
        description="Accounts made usable on those machines (default: root, password tai-{pod})")
    desktops: list[NodeName] = Field(
        default_factory=list, description="Client machines that also show their desktop in the portal "
        "(their image must be a desktop image, like debian-12-desktop)")
    desktop_user: Annotated[str, StringConstraints(pattern=ACCOUNT_PATTERN)] = Field(
        "utilisateur", description="The account the desktop's session runs as (created if missing, no password)")


class Scenario(_Strict):
    """A whole scenario file."""

    lab: LabName = Field(description="Short lab name, part of every Linux name created")
    title: str
    pods: Whole = Field(1, ge=1, le=MAX_PODS, description="Number of candidate pods")
    upstream: Upstream
    pod: Pod
    timezone: str = Field("Europe/Paris", description="Time zone of the plateau's machines")
    interventions: list[str] | None = Field(
        None, description="Interventions the jury may pick (ids of the catalogue or of interventions_dir); "
                          "default: all")
    interventions_dir: str | None = Field(
        None, description="A directory of your own interventions, relative to this file: <id>.yaml and its "
                          "playbook <id>.yml; they extend the catalogue, and replace an entry of the same id")
    prep: Prep | None = Field(None, description="The prep phase: start state and cahier des charges")
    stations: Stations = Field(default_factory=Stations,
                               description="The candidates' portal: machines and accounts (tai-lab stations)")
