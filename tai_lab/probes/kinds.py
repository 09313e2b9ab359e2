"""The kinds of probe, in one registry: what a check of each kind runs on the user's machine and
how its output is judged. The plateau's health (:mod:`tai_lab.probes.health`), the prep phase's
requirements (:mod:`tai_lab.probes.requirements`) and the interventions' checks
(:func:`tai_lab.interventions.engine.build_probe`) all build their probes here: one place says
what an IPP, an SMB or a DNS check is.

A caller names the kind, the node, the probe's id and the kind's values with the pod's values
already filled in (``printer="printer.pod1.tai.lan"``), plus what depends on the caller:

* ``title`` — the French line a trainer reads (each kind has its own, the interventions');
* ``silence`` — the seconds without an answer that count as the fault (the interventions prove a
  fault in that window); ``None``: the client's own timeouts (health, prep);
* ``timeout`` — the transport's limit for the whole command (each kind has its own);
* ``expect_ok`` — False when the user must *not* get through (the Internet cut, another pod).

**Adding a kind:** write its builder below (or in a module of this package that ``__init__``
imports) under ``@kind("name", needs=(…), takes=(…))``; it receives an :class:`Ask` and returns a
:class:`~tai_lab.probes.model.Probe` whose ``about`` starts with ``("kind", name)``. Then the data
that may name it: ``interventions/model.py::ProbeKind`` (with its sentences in
``jury/sentences.py``) and/or ``scenario/model.py::CheckKind`` (with ``CHECK_FIELDS``);
``tests/unit/test_probe_kinds.py`` checks that every kind the data accepts has a builder.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from typing import Any, Callable, Mapping

from .. import paths
from ..errors import NotFoundError
from . import domain
from .model import FAST_DNS, Probe

# How long the user's machine waits for an answer on the pod's network before the user would
# call it broken, when the caller gives no window (the backend gives its own: a VM under
# emulation answers slower).
SILENCE_S = 0.5


@dataclass(frozen=True)
class Ask:
    """One check asked of a kind: where it runs, its id, and its values (placeholders filled)."""

    kind: str                       # the kind's name (an alias is resolved to it)
    id: str
    node: str
    values: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    silence: float | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value

    @property
    def window(self) -> str:
        """The silence window as a command-line number (``0.5``, ``1.5``)."""
        return f"{SILENCE_S if self.silence is None else self.silence:g}"

    def about(self, **values: Any) -> tuple[tuple[str, str], ...]:
        """For the jury's sentence (``jury/sentences.py``): the kind and the values it names."""
        return (("kind", self.kind), *((k, str(v)) for k, v in values.items()))


Builder = Callable[[Ask], Probe]


@dataclass(frozen=True)
class Kind:
    name: str
    build: Builder
    needs: tuple[str, ...] = ()       # values a check of this kind must give
    takes: tuple[str, ...] = ()       # values it may give
    aliases: tuple[str, ...] = ()     # other names the data uses for it (prep's "smb-read")
    # Where a check of this kind runs when its data names no machine: on the user's machine
    # ("user", the caller's node), or on the machine that keeps the record it reads ("desk":
    # the service desk's node, found in the pod's context as ``desk_node``).
    runs_on: str = "user"


KINDS: dict[str, Kind] = {}           # name and aliases → kind


def kind(name: str, *, needs: tuple[str, ...] = (), takes: tuple[str, ...] = (),
         aliases: tuple[str, ...] = (), runs_on: str = "user") -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of probes of kind ``name``."""
    if runs_on not in ("user", "desk"):
        raise ValueError(f"probe kind {name!r}: runs_on must be 'user' or 'desk', not {runs_on!r}")

    def register(build: Builder) -> Builder:
        entry = Kind(name, build, needs, takes, aliases, runs_on)
        for key in (name, *aliases):
            if key in KINDS:
                raise ValueError(f"probe kind {key!r} is registered twice")
            KINDS[key] = entry
        return build
    return register


def kind_names() -> list[str]:
    """Every name a check may use (aliases included), sorted."""
    return sorted(KINDS)


def lookup(name: str) -> Kind:
    """The kind named ``name``; an unknown name lists the valid ones."""
    try:
        return KINDS[name]
    except KeyError:
        close = get_close_matches(name, KINDS, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + "valid kinds: " + ", ".join(kind_names())
        raise NotFoundError(f"unknown probe kind {name!r}", hint) from None


def build(of: str, node: str, /, *, id: str, title: str | None = None, silence: float | None = None,
          timeout: float | None = None, expect_ok: bool = True, **values: Any) -> Probe:
    """The probe of kind ``of`` on ``node``; values of ``None`` count as not given."""
    k = lookup(of)
    given = {key: v for key, v in values.items() if v is not None}
    missing = [v for v in k.needs if v not in given]
    if missing:
        raise ValueError(f"a {k.name} probe needs {', '.join(missing)}")
    unknown = sorted(set(given) - set(k.needs) - set(k.takes))
    if unknown:
        raise ValueError(f"a {k.name} probe takes no {', '.join(unknown)} "
                         f"(it takes: {', '.join(k.needs + k.takes) or 'nothing'})")
    probe = k.build(Ask(k.name, id, node, given, title, silence))
    if timeout is not None:
        probe = replace(probe, timeout=timeout)
    return probe if expect_ok else replace(probe, expect_ok=False)


# --- names and addresses ------------------------------------------------------------------

@kind("resolve", needs=("name",), takes=("address",))
def _resolve(a: Ask) -> Probe:
    """The name through the user's resolver (any source: DNS, hosts file…). getent prints
    "<address>  STREAM <name>": the space after the address keeps .10 from matching .100."""
    argv: tuple[str, ...] = (*FAST_DNS, "getent", "ahostsv4", a["name"])
    if a.silence is not None:
        argv = ("timeout", a.window, *argv)    # glibc's resolver waits whole seconds: timeout(1) keeps the window
    address = a.get("address")
    return Probe(a.id, a.title or f"{a['name']} se résout", a.node, argv,
                 must_contain=f"{address} " if address else None, timeout=8, about=a.about(name=a["name"]))


@kind("dns", needs=("name", "server"), takes=("address",))
def _dns(a: Ask) -> Probe:
    """The DNS server itself, asked from the user's machine: /etc/hosts cannot answer this."""
    server, name = a["server"], a["name"]
    script = (f"out=$(dig +short +time=1 +tries=2 @{shlex.quote(server)} {shlex.quote(name)} A); "
              "echo \"$out\"; echo \"$out\" | grep -qE '^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$'")
    return Probe(a.id, a.title or f"le serveur DNS ({server}) répond pour {name}", a.node, ("sh", "-c", script),
                 must_contain=a.get("address"), timeout=8, about=a.about(server=server, name=name))


# --- addresses and routes -----------------------------------------------------------------

@kind("lease", needs=("iface",), takes=("subnet", "first", "last", "server"))
def _lease(a: Ask) -> Probe:
    """The address the user's machine holds: in a subnet, or in a DHCP pool (``first``–``last``),
    then also handed out by ``server`` (an address) when given."""
    iface = a["iface"]
    if a.get("first") is None:
        subnet = a["subnet"]
        return Probe(a.id, a.title or f"{a.node} a une adresse dans {subnet}", a.node,
                     ("ip", "-4", "-o", "addr", "show", "dev", iface), in_subnet=subnet,
                     about=a.about(subnet=subnet))
    first, last, server = a["first"], a["last"], a.get("server")
    # The address the user's machine holds, and the server that handed out its last lease.
    script = (f"ip -4 -o addr show dev {iface}; "
              "cat /var/lib/dhcp/*.leases 2>/dev/null | grep -h dhcp-server-identifier | tail -n1")
    return Probe(a.id, a.title or f"{a.node} obtient une adresse entre {first} et {last}", a.node,
                 ("sh", "-c", script), in_range=(first, last),
                 must_contain=f"dhcp-server-identifier {server};" if server else None,
                 about=a.about(subnet=f"{first}–{last}"))


@kind("dhcp-offer", needs=("iface",), takes=("contains",))
def _dhcp_offer(a: Ask) -> Probe:
    """A DHCP exchange on the wire from the user's machine (DISCOVER → OFFER), no lease taken:
    the server (or its relay) must answer now, whatever address the machine already holds."""
    script = (paths.data_dir("playbooks") / "files" / "dhcp-offer.py").read_text()
    iface = a["iface"]
    return Probe(a.id, a.title or f"un serveur DHCP répond à {a.node} ({iface})", a.node,
                 ("python3", "-", iface, "4"), stdin=script, must_contain=a.get("contains", "OFFER "),
                 timeout=10, about=a.about(iface=iface))


@kind("unique-address", needs=("iface",), takes=("url", "contains"))
def _unique_address(a: Ask) -> Probe:
    """RFC 5227 probe from the user's machine: does another machine answer for its address?
    Then, if a page is named, load it (the user's traffic comes back to the user)."""
    script = (paths.data_dir("playbooks") / "files" / "arp-tool.py").read_text()
    w = a.window
    shell = f"python3 - check {shlex.quote(a['iface'])} {w}"
    if a.get("url"):
        shell += f" && curl -fsS --connect-timeout {w} --max-time 4 {shlex.quote(a['url'])}"
    return Probe(a.id, a.title or f"l'adresse de {a.node} n'est utilisée par aucune autre machine", a.node,
                 (*FAST_DNS, "sh", "-c", shell), stdin=script, must_contain=a.get("contains", "UNIQUE"),
                 timeout=10, about=a.about())


@kind("gateway", needs=("address",))
def _gateway(a: Ask) -> Probe:
    return Probe(a.id, a.title or f"{a.node} a pour passerelle {a['address']}", a.node,
                 ("ip", "-4", "route", "show", "default"), must_contain=f"default via {a['address']} ",
                 about=a.about(address=a["address"]))


@kind("reach", needs=("address",), takes=("count",))
def _reach(a: Ask) -> Probe:
    """An answer to ping, one second per echo (``count`` echoes, 2 unless told)."""
    return Probe(a.id, a.title or f"{a.node} joint {a['address']}", a.node,
                 ("ping", "-c", str(a.get("count", 2)), "-W", "1", a["address"]), about=a.about(address=a["address"]))


@kind("ping", needs=("target", "max_rtt_ms", "max_loss_pct"))
def _ping(a: Ask) -> Probe:
    """Quality of the link: 10 echoes in 0.1 s when all is well. ping's own deadline is whole
    seconds: SIGINT at the window's end, and ping prints what came back until then."""
    w = a.window
    return Probe(a.id, a.title or f"{a['target']} répond vite et sans perte", a.node,
                 ("timeout", "-s", "INT", w, "ping", "-q", "-c", "10", "-i", "0.01", "-W", w, a["target"]),
                 max_rtt_ms=a["max_rtt_ms"], max_loss_pct=a["max_loss_pct"], timeout=15,
                 about=a.about(target=a["target"]))


# --- services -----------------------------------------------------------------------------

@kind("fetch", needs=("url",), takes=("contains", "login", "max_time", "connect_timeout"))
def _fetch(a: Ask) -> Probe:
    """A page as the user's browser would load it. curl's connect timeout (the silence window
    unless told) covers the name lookup and the TCP handshake; ``login``: from the user's login
    shell (their environment, proxy…)."""
    connect = a.get("connect_timeout", a.silence)
    curl = ("curl", "-fsS", *(("--connect-timeout", f"{connect:g}") if connect is not None else ()),
            "--max-time", f"{a.get('max_time', 4):g}", a["url"])
    argv = ("bash", "-lc", shlex.join(curl)) if a.get("login") else curl
    return Probe(a.id, a.title or f"{a['url']} s'affiche", a.node, (*FAST_DNS, *argv),
                 must_contain=a.get("contains"), timeout=8, about=a.about(url=a["url"]))


@kind("ipp", needs=("printer",), takes=("answer_s",))
def _ipp(a: Ask) -> Probe:
    """As a user adding the printer: find it by name, then talk IPP to its address
    (ippeveprinter refuses Host: headers other than its own address); ipptool waits
    ``answer_s`` seconds (5 unless told)."""
    script = (f"a=$(getent ahostsv4 {a['printer']} | head -n1 | cut -d' ' -f1) && [ -n \"$a\" ] && "
              f"ipptool -T {a.get('answer_s', 5):g} -t ipp://$a:631/ipp/print get-printer-attributes.test")
    return Probe(a.id, a.title or "l'imprimante répond en IPP", a.node, (*FAST_DNS, "sh", "-c", script),
                 must_contain="[PASS]", timeout=10, about=a.about(printer=a["printer"]))


def _smbclient(a: Ask, command: str) -> tuple[str, ...]:
    return (*FAST_DNS, "smbclient", a["share"], "-U", f"{a['user']}%{a['password']}", "-t", "5", "-c", command)


@kind("smb-list", needs=("share", "user", "password"), takes=("label", "contains"), aliases=("smb-read",))
def _smb_list(a: Ask) -> Probe:
    """The share (``//server/name``) opens and lists for the user; ``label``: how the title
    names it (the share itself unless told)."""
    label = a.get("label", a["share"])
    return Probe(a.id, a.title or f"le partage {label} s’ouvre", a.node, _smbclient(a, "ls"),
                 must_contain=a.get("contains"), must_not_contain="NT_STATUS", timeout=12,
                 about=a.about(share=label))


@kind("smb-write", needs=("share", "user", "password"), takes=("label", "file", "expect"))
def _smb_write(a: Ask) -> Probe:
    """A file saved on the share and removed; ``expect: denied``: the server refuses it."""
    label, name = a.get("label", a["share"]), a.get("file", "tai-test-ecriture.txt")
    command = _smbclient(a, f"put /etc/hostname {name}; rm {name}")
    if a.get("expect", "allowed") == "allowed":
        return Probe(a.id, a.title or f"le partage {label} accepte un fichier", a.node, command,
                     must_not_contain="NT_STATUS", timeout=12, about=a.about(share=label))
    # Denied means the server said so: a share that does not exist or a server that
    # does not answer proves nothing about permissions.
    return Probe(a.id, a.title or f"le partage {label} refuse un fichier", a.node,
                 (*FAST_DNS, "sh", "-c", 'smbclient "$@" 2>&1; true', "sh", *command[len(FAST_DNS) + 1:]),
                 must_contain="NT_STATUS_ACCESS_DENIED", timeout=12, about=a.about(share=label))


# --- the machine itself -------------------------------------------------------------------

@kind("clock", needs=("max_skew_s",), takes=("timezone",))
def _clock(a: Ask) -> Probe:
    """The wall clock as the user reads it, against the plateau's time zone."""
    return Probe(a.id, a.title or f"l'horloge de {a.node} est à l'heure", a.node, ("date", "+%Y-%m-%d %H:%M:%S"),
                 max_skew_s=a["max_skew_s"], timezone=a.get("timezone", "Europe/Paris"), about=a.about())


@kind("state", needs=("run",), takes=("contains",))
def _state(a: Ask) -> Probe:
    """A shell command on the node that exits 0 (and shows ``contains`` if given): for what a
    proper repair must not leave behind, a state the user cannot see. Its title is its sentence."""
    if not a.title:
        raise ValueError("a state probe needs a title (the French sentence of what it checks)")
    return Probe(a.id, a.title, a.node, ("sh", "-c", a["run"]), must_contain=a.get("contains"),
                 timeout=10, about=a.about(title=a.title))


# --- the service desk's own record -----------------------------------------------------------

def _desk(a: Ask, action: str, payload: dict[str, Any], title: str, **about: Any) -> Probe:
    """Read through Request Tracker's REST 2 API inside the desk's node (``rt-desk.py``)."""
    import json
    script = (paths.data_dir("playbooks") / "files" / "rt-desk.py").read_text()
    payload = {k: v for k, v in payload.items() if v not in (None, "", [], (), False)}
    return Probe(a.id, a.title or title, a.node, ("python3", "-", action, json.dumps(payload, ensure_ascii=False)),
                 stdin=script, must_contain="DESK-OK", timeout=30, about=a.about(**about))


@kind("desk-asset", needs=("name",), takes=("mac", "serial", "held_by"), runs_on="desk")
def _desk_asset(a: Ask) -> Probe:
    """The machine's record in the desk's inventory is right (name, MAC, serial, holder)."""
    return _desk(a, "check-asset", {k: a.get(k) for k in ("name", "mac", "serial", "held_by")},
                 f"la fiche du poste {a['name']} est juste dans le parc", asset=a["name"])


@kind("desk-ticket", takes=("ticket", "asset", "only_asset", "owner", "reply", "status"), runs_on="desk")
def _desk_ticket(a: Ask) -> Probe:
    """The fault's ticket is handled as it should be (linked asset, owner, reply, status)."""
    payload = {"id": a.get("ticket"), "asset": a.get("asset"), "only_asset": a.get("only_asset"),
               "owner": a.get("owner"), "reply": a.get("reply"), "status": list(a.get("status") or [])}
    return _desk(a, "check-ticket", payload, f"le ticket n°{a.get('ticket')} est traité comme il faut",
                 ticket=a.get("ticket"), **({"asset": a["asset"]} if a.get("asset") else {}))


# --- the domain (Active Directory), from a member's point of view ------------------------------

@kind("domain-login", needs=("account", "passwords"))
def _domain_login(a: Ask) -> Probe:
    """A PAM login as the domain user on the member (sssd only: a local account cannot pass)."""
    return Probe(a.id, a.title or f"{a['account']} ouvre sa session du domaine sur {a.node}", a.node,
                 ("sh", "-c", domain.domain_login_script(a["account"], tuple(a["passwords"]))), timeout=20,
                 about=a.about(account=a["account"]))


@kind("kinit", needs=("account", "realm", "passwords"))
def _kinit(a: Ask) -> Probe:
    """A Kerberos ticket for the user, in a fresh cache."""
    return Probe(a.id, a.title or f"{a['account']} obtient son ticket Kerberos depuis {a.node}", a.node,
                 ("sh", "-c", domain.kinit_script(a["account"], a["realm"], tuple(a["passwords"]))), timeout=15,
                 about=a.about(account=a["account"]))


@kind("smb-ticket", needs=("account", "realm", "passwords", "share", "label"), takes=("denied",))
def _smb_ticket(a: Ask) -> Probe:
    """The share written with the user's own fresh ticket (``denied``: the share must refuse them)."""
    denied = bool(a.get("denied"))
    title = a.title or (f"le partage {a['label']} refuse {a['account']}" if denied
                        else f"{a['account']} enregistre un fichier dans le partage {a['label']}")
    script = domain.smb_ticket_script(a["account"], a["realm"], tuple(a["passwords"]), a["share"], denied)
    return Probe(a.id, title, a.node, (*FAST_DNS, "sh", "-c", script), timeout=20,
                 about=a.about(account=a["account"], share=a["label"], title=title))
