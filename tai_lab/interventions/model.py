"""An intervention, as the trainer writes it (``scenarios/interventions/<id>.yaml``).

Pure data. The jury reads the French texts; the engine reads the rest: which node to
break (found on the pod as it is now), which files and services to save first, which
playbook breaks and repairs it, and the behavioural checks seen from the user's machine.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from ..lang import tr

_STRICT = ConfigDict(extra="forbid", frozen=True)

ProbeKind = Literal["resolve", "fetch", "lease", "ipp", "smb-list", "smb-write", "ping", "clock", "unique-address",
                    "dns", "dhcp-offer", "state", "desk-asset", "desk-ticket", "domain-login", "kinit",
                    "smb-ticket"]
TicketStatus = Literal["new", "open", "stalled", "resolved", "rejected"]

# Checks that need the pod's domain (tai_lab.probes.domain: domain_login_script…).
DOMAIN_PROBES = frozenset({"domain-login", "kinit", "smb-ticket"})


class Text(BaseModel):
    model_config = _STRICT
    fr: str
    en: str


class ProbeSpec(BaseModel):
    """A check from a node's point of view; passes when things work for the user."""

    model_config = _STRICT
    probe: ProbeKind
    # "user" (the user's machine), "users" (every machine the symptom concerns: the
    # intervention's ``affects``), "target" (the node the fault was put on) or a node name.
    on: str = "user"
    name: str | None = None          # resolve: the name; expect its address with `address`
    address: str | None = None
    url: str | None = None           # fetch
    contains: str | None = None
    login: bool = False              # fetch from the user's login shell (their environment, proxy…)
    iface: str | None = None         # lease, unique-address (default: the user's first interface)
    target: str | None = None        # ping: an address or a name
    max_rtt_ms: StrictFloat = 100.0  # strict: `true` or "100" are not numbers here (an int is)
    max_loss_pct: StrictFloat = 0.0
    max_skew_s: StrictFloat = 300.0        # clock: tolerated gap with the trainer's clock
    server: str | None = None        # dns: the server asked at its source (default: the pod's DNS server)
    # state: a shell command on the node; it passes when it exits 0 (and shows ``contains``
    # if given). For what a proper repair must not leave behind: a state the user cannot see.
    run: str | None = None
    title: str | None = None         # French, shown as the check's title (state probes need one)
    # desk-asset: an asset named `name` in the service desk's inventory, with these values
    # (placeholders: {user_node}, {asset_mac}, {asset_serial}, {desk_user}…); run on the desk node.
    mac: str | None = None
    serial: str | None = None
    held_by: str | None = None
    # desk-ticket: the intervention's ticket linked to the asset `asset` (only to it with
    # `only_asset`), given an owner, answered to the user, in one of `status`.
    asset: str | None = None
    only_asset: bool = False
    owner: bool = False
    reply: bool = False
    status: tuple[TicketStatus, ...] = ()
    # domain-login, kinit, smb-ticket (a pod with a directory): the domain account (default the
    # incident user, {ad_user}) and the passwords tried in turn, the next one only after "wrong
    # password" (default {ad_password}); smb-ticket: ``denied`` = the share must refuse this account.
    account: str | None = None
    passwords: tuple[str, ...] = ()
    denied: bool = False

    @model_validator(mode="after")
    def _state_has_a_command(self) -> "ProbeSpec":
        if self.probe == "state" and not (self.run and self.title):
            raise ValueError(tr("une vérification state demande `run` (une commande shell) et `title` (en français)",
                                "a state check needs `run` (a shell command) and `title` (French)"))
        if self.probe == "desk-asset" and not self.name:
            raise ValueError(tr("une vérification desk-asset demande `name` (le nom du matériel, par exemple "
                                "\"{user_node}\")",
                                "a desk-asset check needs `name` (the asset's name, e.g. \"{user_node}\")"))
        if self.probe == "desk-ticket" and not (self.asset or self.owner or self.reply or self.status):
            raise ValueError(tr("une vérification desk-ticket demande au moins un de asset, owner, reply, status",
                                "a desk-ticket check needs at least one of asset, owner, reply, status"))
        return self


class Bypass(BaseModel):
    """What a proper repair must not leave behind: the check passes when it is not there.

    When every check of the intervention passes but one of these fails, the verdict is
    "CONTOURNÉ — <reason>": the user works again, but the fault is masked, not repaired."""

    model_config = _STRICT
    check: "ProbeSpec"
    reason: "Text"


class Target(BaseModel):
    """What to break, found on the pod as it is now.

    ``role``: the node that serves it for the user now (dns, dhcp, intranet, fileshare,
    ipp-printer, router); ``node``: a node by name or ``user``; ``port``: the switch (or
    access point) port the named node (or ``user``) is plugged into.
    """

    model_config = _STRICT
    role: str | None = None
    node: str | None = None
    port: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if sum(x is not None for x in (self.role, self.node, self.port)) != 1:
            raise ValueError(tr("donner exactement un de role, node, port", "give exactly one of role, node, port"))
        return self


class Saves(BaseModel):
    """Saved before the change (on the target) and put back by restore, whatever the candidate did."""

    model_config = _STRICT
    files: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class TicketSpec(BaseModel):
    """The ticket the user opens when the fault is injected on a pod with a service desk.

    ``link``: the asset linked to it — the user's machine (``user``), none (the candidate links
    it), or another machine's (a wrong link to correct); ``status`` and ``owner`` (the first
    technician) as the desk's reception left it."""

    model_config = _STRICT
    link: Literal["user", "none", "other"] = "user"
    status: Literal["new", "open", "stalled"] = "new"
    owner: bool = False
    subject: str | None = None       # French, as the user writes it (default: the symptom's first sentence)


class Variant(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: Text
    target: Target
    saves: Saves = Saves()
    check: tuple[ProbeSpec, ...] | None = None   # overrides the intervention's check
    # Shell commands run on the target once the saved files and services are back
    # (e.g. bring an interface up again with its restored configuration).
    after_restore: tuple[str, ...] = ()
    note: str | None = None                      # French, for the jury: what exactly is broken
    bypass: tuple[Bypass, ...] = ()              # added to the intervention's own
    # The machines a reboot check restarts (the ones the repair touches): node names,
    # "target" or "users"; default: the target when it is a machine.
    reboot: tuple[str, ...] | None = None
    ticket: TicketSpec | None = None             # overrides the intervention's ticket


class JuryNotes(BaseModel):
    model_config = _STRICT
    diagnostic: tuple[str, ...]
    fixes: tuple[str, ...]
    pitfalls: tuple[str, ...] = ()
    watch: tuple[str, ...] = ()                  # which criteria to watch


class Intervention(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: Text
    symptom: str                                 # what the jury member says, in French
    # The référentiel's competencies the intervention evaluates; the first is its primary one
    # (what the fault is about: `interventions --coverage` counts it there), the others secondary.
    competencies: tuple[str, ...] = Field(min_length=1)
    difficulty: StrictInt = Field(ge=1, le=3)
    category: Literal["réseau", "serveur", "poste", "sécurité", "impression", "centre de services"]
    user: str = "client"                         # the user's machine: a node name or "client" (the first)
    # The machines the symptom concerns: "user" (one machine: a client-side fault) or
    # "clients" (every client of the pod: a server- or network-side fault). Checks ``on: users``
    # run from each of them, so a repair on one client only is no repair.
    affects: Literal["user", "clients"] = "user"
    bypass: tuple[Bypass, ...] = ()
    check: tuple[ProbeSpec, ...] = Field(min_length=1)
    variants: tuple[Variant, ...] = Field(min_length=1)
    jury: JuryNotes
    playbook: str | None = None                  # default: interventions/<id>.yml
    ticket: TicketSpec = TicketSpec()            # with a service desk: the ticket the user opens
    desk: bool = False                           # needs the pod's service desk (an intervention on it)

    def variant(self, vid: str) -> Variant:
        for v in self.variants:
            if v.id == vid:
                return v
        raise KeyError(vid)

    def checks_for(self, variant: Variant) -> tuple[ProbeSpec, ...]:
        return variant.check if variant.check is not None else self.check

    def ticket_for(self, variant: Variant) -> TicketSpec:
        return variant.ticket if variant.ticket is not None else self.ticket

    def bypasses_for(self, variant: Variant) -> tuple[Bypass, ...]:
        return self.bypass + variant.bypass

    @property
    def needs_directory(self) -> bool:
        """It acts on the pod's Active Directory domain (a pod with the roles ad-dc/ad-client)."""
        specs = list(self.check) + [b.check for b in self.bypass] + [
            s for v in self.variants for s in (v.check or ()) + tuple(b.check for b in v.bypass)]
        return any(v.target.role == "ad-dc" for v in self.variants) or any(
            s.probe in DOMAIN_PROBES for s in specs)

    @property
    def playbook_path(self) -> str:
        return self.playbook or f"interventions/{self.id}.yml"
