"""Behavioural checks, seen from the user's machine.

A probe runs one command on one node through the node's transport and judges what
the user would see: a lease obtained, a name resolved, a page loaded, a printer
answering IPP, the Internet reachable or not. Any correct configuration passes.
"""
from __future__ import annotations

import ipaddress
import shlex
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .plan import LabPlan, PodPlan
from .transports.base import CommandResult, Transport

TransportFor = Callable[[int, str], Transport]
# Ask the user's resolver with a one-second timeout, once: a probe of a broken DNS fails
# in a second instead of glibc's default 5 s × 2 tries (the answer is the same).
FAST_DNS = ("env", "RES_OPTIONS=timeout:1 attempts:1")


@dataclass(frozen=True)
class Probe:
    """One behavioural check. ``expect_ok`` False means the user must NOT get through."""

    id: str
    title: str                  # French, for the jury and the trainer
    node: str
    command: tuple[str, ...]
    expect_ok: bool = True
    must_contain: str | None = None
    in_subnet: str | None = None   # output must show an ``inet`` address inside this subnet
    in_range: tuple[str, str] | None = None   # … or between these two addresses (a DHCP pool)
    must_not_contain: str | None = None
    max_rtt_ms: float | None = None     # ping statistics: average round trip …
    max_loss_pct: float | None = None   # … and packet loss
    max_skew_s: float | None = None     # clock: output "<local wall time> " vs the plateau's zone
    timezone: str = "Europe/Paris"
    timeout: float = 10.0
    stdin: str | None = None            # fed to the command (a script too long to show as evidence)
    # What the check is about, for the sentence a jury member reads (tai_lab/jury/sentences.py):
    # ("kind", …) and the values the sentence names (name, url, share…), as pairs (hashable).
    about: tuple[tuple[str, str], ...] = ()

    def judge(self, res: CommandResult) -> bool:
        got = res.ok and (self.must_contain is None or self.must_contain in res.stdout)
        if got and self.must_not_contain and self.must_not_contain in res.stdout + res.stderr:
            got = False
        if got and self.in_subnet:
            net = ipaddress.ip_network(self.in_subnet)
            found = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", res.stdout)
            got = any(ipaddress.ip_address(a) in net for a in found)
        if got and self.in_range:
            first, last = (ipaddress.IPv4Address(a) for a in self.in_range)
            found = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", res.stdout)
            got = any(first <= ipaddress.IPv4Address(a) <= last for a in found)
        if self.max_loss_pct is not None or self.max_rtt_ms is not None:
            got = _ping_ok(res.stdout, self.max_loss_pct, self.max_rtt_ms)
        if got and self.max_skew_s is not None:
            got = _clock_ok(res.stdout, self.timezone, self.max_skew_s)
        return got if self.expect_ok else not got


def _ping_ok(out: str, max_loss: float | None, max_rtt: float | None) -> bool:
    loss = re.search(r"([\d.]+)% packet loss", out)
    if not loss:
        return False
    if max_loss is not None and float(loss.group(1)) > max_loss:
        return False
    rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
    if max_rtt is not None and (not rtt or float(rtt.group(1)) > max_rtt):
        return False
    return True


def _clock_ok(out: str, zone: str, max_skew: float) -> bool:
    """The node's wall clock (as its user reads it) against the plateau's time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    try:
        shown = datetime.strptime(out.strip()[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    now = datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    return abs((shown - now).total_seconds()) <= max_skew


@dataclass(frozen=True)
class ProbeResult:
    pod: int
    probe: Probe
    passed: bool
    evidence: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"pod": self.pod, "probe": self.probe.id, "title": self.probe.title,
                "node": self.probe.node, "expect": "reachable" if self.probe.expect_ok else "unreachable",
                "passed": self.passed, "evidence": self.evidence, "seconds": self.seconds}


def _user_node(pod: PodPlan) -> str | None:
    clients = [n for n in pod.nodes if n.kind == "client"]
    return clients[0].name if clients else None


def health_probes(plan: LabPlan, pod: PodPlan, *, internet: bool) -> list[Probe]:
    """The plateau's health from the users' point of view, for one pod in its phase."""
    probes: list[Probe] = []
    user = _user_node(pod)
    for node in pod.nodes:
        for iface in node.interfaces:
            if iface.dhcp:
                seg = iface.segment
                vlan = pod.vlan(seg.name) if seg.kind == "vlan" else _vlan_of_ap(pod, seg.name)
                probes.append(Probe(
                    f"lease:{node.name}", f"{node.name} obtient une adresse DHCP dans {vlan.subnet}",
                    node.name, ("ip", "-4", "-o", "addr", "show", "dev", iface.name),
                    in_subnet=str(vlan.subnet)))
    if user is None:
        return probes
    for name in _names_to_resolve(pod):
        fqdn = f"{name}.{pod.domain}"
        addr = pod.address_of(name) if name in {n.name for n in pod.nodes} else _alias_address(pod, name)
        probes.append(Probe(f"dns:{name}", f"{fqdn} se résout depuis {user}", user,
                            (*FAST_DNS, "getent", "ahostsv4", fqdn), must_contain=str(addr) if addr else None))
    if pod.nodes_with_role("intranet"):
        srv = pod.nodes_with_role("intranet")[0]
        host = f"intranet.{pod.domain}" if "intranet" in srv.aliases else srv.fqdn
        probes.append(Probe("intranet", f"la page intranet s'affiche sur {user}", user,
                            (*FAST_DNS, "curl", "-fsS", "--max-time", "5", f"http://{host}/"),
                            must_contain=f"TAI-INTRANET-POD{pod.number}"))
    share = pod.services.get("fileshare")
    if pod.nodes_with_role("fileshare") and share:
        srv = pod.nodes_with_role("fileshare")[0]
        probes.append(Probe("fileshare", f"le partage {share['share']} s'ouvre depuis {user}", user,
                            (*FAST_DNS, "smbclient", f"//{srv.fqdn}/{share['share']}",
                             "-U", f"{share['user']}%{share['password']}", "-c", "ls"),
                            must_contain="LISEZMOI.txt"))
    d = pod.directory
    if d is not None and user in d.members:
        # A member that booted before its controller answers comes back online within seconds
        # (sssd's offline_timeout): wait for the account, then log in as the user would.
        account = d.user(d.incident_user)
        login = domain_login_script(account.name, (account.password,))
        # offline (the controller not answering yet): "cannot retrieve authentication info"
        wait = (f"for i in $(seq 1 30); do out=$(sh -c {shlex.quote(login)} 2>&1); rc=$?; "
                "[ $rc -eq 0 ] && break; printf '%s' \"$out\" | grep -qE 'retrieve authentication info|inconnu' || break; "
                "sleep 1; done; printf '%s\\n' \"$out\"; exit $rc")
        probes.append(Probe("domain", f"{account.name} ouvre sa session du domaine sur {user}", user,
                            ("sh", "-c", wait), timeout=60))
    for printer in pod.nodes_with_role("ipp-printer"):
        # As a user adding the printer: find it by name, then talk IPP to its address
        # (ippeveprinter refuses Host: headers other than its own address).
        script = (f"a=$(getent ahostsv4 {printer.fqdn} | head -n1 | cut -d' ' -f1) && [ -n \"$a\" ] && "
                  f"ipptool -T 5 -t ipp://$a:631/ipp/print get-printer-attributes.test")
        probes.append(Probe("printer", f"l'imprimante {printer.fqdn} répond en IPP", user,
                            (*FAST_DNS, "sh", "-c", script), must_contain="[PASS]"))
    for site in plan.upstream.sites[:1]:
        probes.append(Probe(
            "internet", f"{site.name} (Internet) {'s’affiche' if internet else 'est injoignable'} depuis {user}",
            user, (*FAST_DNS, "curl", "-fsS", "--max-time", "4", f"http://{site.name}/"),
            expect_ok=internet, must_contain="TAI-INTERNET-OK"))
        probes.append(Probe(
            "internet-ip", f"{site.address} (Internet, par adresse) {'joignable' if internet else 'injoignable'}",
            user, ("curl", "-fsS", "--max-time", "4", f"http://{site.address}/"),
            expect_ok=internet, must_contain="TAI-INTERNET-OK"))
    for other in plan.pods:
        if other.number == pod.number:
            continue
        target = next((other.address_of(n.name) for n in other.nodes if n.roles and other.address_of(n.name)), None)
        if target is None:
            continue
        probes.append(Probe(f"isolation:pod{other.number}",
                            f"le pod {other.number} ({target}) est injoignable depuis {user}", user,
                            ("ping", "-c", "1", "-W", "1", str(target)), expect_ok=False))
        probes.append(Probe(f"isolation-wan:pod{other.number}",
                            f"le routeur du pod {other.number} ({other.wan.router_address.ip}) est injoignable",
                            user, ("ping", "-c", "1", "-W", "1", str(other.wan.router_address.ip)),
                            expect_ok=False))
        break  # one neighbour is enough to prove isolation; all pods run the same probes
    return probes


def _vlan_of_ap(pod: PodPlan, ap: str):
    node = pod.node(ap)
    for i in node.interfaces:
        if i.segment.kind == "vlan":
            return pod.vlan(i.segment.name)
    raise KeyError(ap)


def _names_to_resolve(pod: PodPlan) -> list[str]:
    names = [n.name for n in pod.nodes if "dns" in n.roles or "intranet" in n.roles]
    names += [n.name for n in pod.nodes if n.kind == "printer"]
    return list(dict.fromkeys(names))


def _alias_address(pod: PodPlan, alias: str):
    for n in pod.nodes:
        if alias in n.aliases:
            return pod.address_of(n.name)
    return None


def _run_one(pod: int, p: Probe, transport_for: TransportFor) -> ProbeResult:
    try:
        t = transport_for(pod, p.node)
    except Exception as exc:  # node not running: the user would see nothing work
        res = CommandResult(p.command, 255, "", str(exc))
    else:
        res = t.run(p.command, timeout=p.timeout, input=p.stdin)
    return ProbeResult(pod, p, p.judge(res), res.brief(), res.seconds)


def run_probes(pod: int, probes: list[Probe], transport_for: TransportFor) -> list[ProbeResult]:
    """Run probes in parallel; a node that is down fails its probes with that as evidence."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda p: _run_one(pod, p, transport_for), probes))


def first_failure(pod: int, probes: list[Probe], transport_for: TransportFor) -> list[ProbeResult]:
    """Run probes in parallel until one fails: the results finished by then (the failure among
    them), or all of them when every probe passes.

    Proof that a fault shows needs one failing check, and the fastest failure is often a refusal
    while another check waits for a timeout. The probes still running are left to end by their
    own timeouts (a few seconds at most), in daemon threads: nobody waits for them.
    """
    results: dict[int, ProbeResult | BaseException] = {}
    changed = threading.Condition()

    def worker(i: int, p: Probe) -> None:
        try:
            r: ProbeResult | BaseException = _run_one(pod, p, transport_for)
        except BaseException as exc:       # raised to the caller, as run_probes would
            r = exc
        with changed:
            results[i] = r
            changed.notify()

    def settled() -> bool:
        return len(results) == len(probes) or any(
            isinstance(r, BaseException) or not r.passed for r in results.values())

    for i, p in enumerate(probes):
        threading.Thread(target=worker, args=(i, p), daemon=True, name=f"probe-{p.id}").start()
    with changed:
        while not settled():
            changed.wait()
        done = [results[i] for i in sorted(results)]
    for r in done:
        if isinstance(r, BaseException):
            raise r
    return done  # type: ignore[return-value]



# --- the prep phase's requirements ---------------------------------------------------

def prep_probe(pod: PodPlan, check, index: int) -> Probe:
    """The probe of one check of the cahier des charges (a :class:`~tai_lab.plan.CheckPlan`).

    Like every probe, it judges what the user sees, not how it was configured: any
    DHCP or DNS server software, any way of configuring the client, passes.
    """
    p = check.params
    node = check.node
    pid = f"{check.check}#{index}"
    if check.check == "lease":
        iface = p.get("iface") or pod.node(node).interfaces[0].name
        vlan = pod.vlan(p["vlan"])
        assert vlan.dhcp_range is not None
        first, last = (str(a) for a in vlan.dhcp_range)
        server = pod.address_of(p["server"]) if p.get("server") else None
        # The address the user's machine holds, and the server that handed out its last lease.
        script = (f"ip -4 -o addr show dev {iface}; "
                  "cat /var/lib/dhcp/*.leases 2>/dev/null | grep -h dhcp-server-identifier | tail -n1")
        by = f" par {p['server']} ({server})" if server else ""
        return Probe(pid, f"{node} obtient une adresse entre {first} et {last}{by}", node, ("sh", "-c", script),
                     in_range=(first, last), must_contain=f"dhcp-server-identifier {server};" if server else None)
    if check.check == "gateway":
        return Probe(pid, f"{node} a pour passerelle {p['address']}", node, ("ip", "-4", "route", "show", "default"),
                     must_contain=f"default via {p['address']} ")
    if check.check == "resolve":
        # getent prints "<address>  STREAM <name>": the space keeps .10 from matching .100.
        return Probe(pid, f"{p['name']} se résout en {p['address']} depuis {node}", node,
                     (*FAST_DNS, "getent", "ahostsv4", p["name"]), must_contain=f"{p['address']} ", timeout=8)
    if check.check == "fetch":
        return Probe(pid, f"{p['url']} s'affiche sur {node}", node,
                     (*FAST_DNS, "curl", "-fsS", "--connect-timeout", "3", "--max-time", "8", p["url"]),
                     must_contain=p["contains"], timeout=12)
    if check.check == "reach":
        return Probe(pid, f"{node} joint {p['address']}", node, ("ping", "-c", "2", "-W", "1", p["address"]))
    if check.check == "ipp":
        script = (f"a=$(getent ahostsv4 {p['name']} | head -n1 | cut -d' ' -f1) && [ -n \"$a\" ] && "
                  "ipptool -T 5 -t ipp://$a:631/ipp/print get-printer-attributes.test")
        return Probe(pid, f"l'imprimante {p['name']} répond en IPP depuis {node}", node,
                     (*FAST_DNS, "sh", "-c", script), must_contain="[PASS]", timeout=12)
    if check.check in ("smb-read", "smb-write"):
        base = (*FAST_DNS, "smbclient", p["share"], "-U", f"{p['user']}%{p['password']}", "-t", "5", "-c")
        if check.check == "smb-read":
            return Probe(pid, f"{p['user']} ouvre le partage {p['share']} depuis {node}", node, (*base, "ls"),
                         must_not_contain="NT_STATUS", timeout=12)
        name = f"tai-verif-{p['user']}.txt"
        command = (*base, f"put /etc/hostname {name}; rm {name}")
        if p.get("expect", "allowed") == "allowed":
            return Probe(pid, f"{p['user']} peut écrire dans {p['share']}", node, command,
                         must_not_contain="NT_STATUS", timeout=12)
        # Denied means the server said so: a share that does not exist or a server that
        # does not answer proves nothing about permissions.
        return Probe(pid, f"{p['user']} ne peut pas écrire dans {p['share']}", node,
                     (*FAST_DNS, "sh", "-c", 'smbclient "$@" 2>&1; true', "sh", *command[len(FAST_DNS) + 1:]),
                     must_contain="NT_STATUS_ACCESS_DENIED", timeout=12)
    raise ValueError(f"unknown check {check.check!r}")


# --- the domain (Active Directory), from a member's point of view ----------------------------

def _try_passwords(account: str, passwords: tuple[str, ...], attempt: str, wrong: str) -> str:
    """Shell: ``attempt`` (reading the password on stdin) with each password in turn; the next
    one only when the domain said the password is wrong (a disabled, locked or expired account
    must not cost another bad password: the lockout policy counts them)."""
    lines = [f"u={shlex.quote(account)}", "for p in " + " ".join(shlex.quote(p) for p in passwords) + "; do",
             f"  out=$(printf '%s\\n' \"$p\" | {attempt} 2>&1); rc=$?; printf '%s\\n' \"$out\"",
             "  [ $rc -eq 0 ] && break",
             f"  printf '%s' \"$out\" | grep -qE {shlex.quote(wrong)} || break",
             "done"]
    return "\n".join(lines)


def domain_login_script(account: str, passwords: tuple[str, ...]) -> str:
    """A login as the domain user on this member: the account known to the domain (sssd, not a
    local one), then a PAM login through pam_sss alone (authenticate and account: disabled,
    locked, expired, must-change and not allowed all refuse here)."""
    return "\n".join([
        # the tool's own PAM service, written again each time: pam_sss and nothing else
        "printf 'auth required pam_sss.so\\naccount required pam_sss.so\\npassword required pam_sss.so\\n' "
        "> /etc/pam.d/tai-domaine",
        f"sss_cache -u {shlex.quote(account)} >/dev/null 2>&1",
        f"if ! getent -s sss passwd {shlex.quote(account)} >/dev/null; then",
        f"  echo \"{account} : compte inconnu du domaine sur ce poste\"; exit 3",
        "fi",
        _try_passwords(account, passwords, 'pamtester -v tai-domaine "$u" authenticate acct_mgmt',
                       "Authentication failure"),
        "exit $rc"])


def kinit_script(account: str, realm: str, passwords: tuple[str, ...]) -> str:
    """A Kerberos ticket for the user, in a fresh cache (never the member's own)."""
    return "\n".join([
        "c=$(mktemp); trap 'rm -f \"$c\"' EXIT",
        _try_passwords(account, passwords, f'KRB5CCNAME=FILE:"$c" kinit "$u@{realm}"',
                       "Password incorrect|Preauthentication failed"),
        "exit $rc"])


def smb_ticket_script(account: str, realm: str, passwords: tuple[str, ...], share: str, denied: bool) -> str:
    """Write a file to the share with the user's own fresh ticket (its groups are the PAC's of
    a new ticket). ``denied``: the server must refuse this user (a ticket was obtained, so the
    refusal is about rights, not about a broken login)."""
    name = f"tai-test-{account}.txt"
    smb = (f'KRB5CCNAME=FILE:"$c" smbclient {shlex.quote(share)} --use-kerberos=required -N -t 5 '
           f"-c {shlex.quote(f'put /etc/hostname {name}; rm {name}')}")
    verdict = ("printf '%s' \"$out\" | grep -q NT_STATUS_ACCESS_DENIED" if denied
               else "! printf '%s' \"$out\" | grep -q NT_STATUS")
    return "\n".join([
        "c=$(mktemp); trap 'rm -f \"$c\"' EXIT",
        _try_passwords(account, passwords, f'KRB5CCNAME=FILE:"$c" kinit "$u@{realm}"',
                       "Password incorrect|Preauthentication failed"),
        "[ $rc -eq 0 ] || { echo \"pas de ticket Kerberos pour $u\"; exit 2; }",
        f"out=$({smb} 2>&1); printf '%s\\n' \"$out\"",
        verdict])
