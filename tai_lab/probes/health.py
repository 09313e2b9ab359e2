"""The plateau's health, from the users' point of view: what `tai-lab verify` and `phase` check
on every pod (leases, names, the intranet, the share, the printer, the Internet as the phase
wants it, the other pods out of reach). Each check is a probe of :mod:`tai_lab.probes.kinds`."""
from __future__ import annotations

import shlex

from ..plan import LabPlan, PodPlan
from .domain import domain_login_script
from .kinds import build
from .model import FAST_DNS, Probe


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
                probes.append(build("lease", node.name, id=f"lease:{node.name}",
                                    title=f"{node.name} obtient une adresse DHCP dans {vlan.subnet}",
                                    iface=iface.name, subnet=str(vlan.subnet), timeout=10))
    if user is None:
        return probes
    for name in _names_to_resolve(pod):
        fqdn = f"{name}.{pod.domain}"
        addr = pod.address_of(name) if name in {n.name for n in pod.nodes} else _alias_address(pod, name)
        probes.append(build("resolve", user, id=f"dns:{name}", title=f"{fqdn} se résout depuis {user}",
                            name=fqdn, address=str(addr) if addr else None, timeout=10))
    if pod.nodes_with_role("intranet"):
        srv = pod.nodes_with_role("intranet")[0]
        host = f"intranet.{pod.domain}" if "intranet" in srv.aliases else srv.fqdn
        probes.append(build("fetch", user, id="intranet", title=f"la page intranet s'affiche sur {user}",
                            url=f"http://{host}/", contains=f"TAI-INTRANET-POD{pod.number}", max_time=5,
                            timeout=10))
    share = pod.services.get("fileshare")
    if pod.nodes_with_role("fileshare") and share:
        srv = pod.nodes_with_role("fileshare")[0]
        probes.append(build("smb-list", user, id="fileshare", title=f"le partage {share['share']} s'ouvre depuis {user}",
                            share=f"//{srv.fqdn}/{share['share']}", label=share["share"], user=share["user"],
                            password=share["password"], contains="LISEZMOI.txt", timeout=10))
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
    desk = pod.services.get("servicedesk")
    if pod.nodes_with_role("service-desk") and isinstance(desk, dict):
        url = f"http://{desk.get('name', 'support')}.{pod.domain}/"
        probes.append(Probe("servicedesk", f"le centre de services {url} s'affiche sur {user}", user,
                            # RT compiles its pages for some seconds after its node boots (a reset)
                            (*FAST_DNS, "curl", "-fsS", "--max-time", "8", "--retry", "30", "--retry-delay", "1",
                             "--retry-connrefused", "--retry-max-time", "45", "-H", "Accept-Language: fr", url),
                            must_contain="Request Tracker", timeout=60))
    for printer in pod.nodes_with_role("ipp-printer"):
        probes.append(build("ipp", user, id="printer", title=f"l'imprimante {printer.fqdn} répond en IPP",
                            printer=printer.fqdn))
    for site in plan.upstream.sites[:1]:
        probes.append(build(
            "fetch", user, id="internet",
            title=f"{site.name} (Internet) {'s’affiche' if internet else 'est injoignable'} depuis {user}",
            url=f"http://{site.name}/", contains="TAI-INTERNET-OK", timeout=10, expect_ok=internet))
        probes.append(build(
            "fetch", user, id="internet-ip",
            title=f"{site.address} (Internet, par adresse) {'joignable' if internet else 'injoignable'}",
            url=f"http://{site.address}/", contains="TAI-INTERNET-OK", timeout=10, expect_ok=internet))
    for other in plan.pods:
        if other.number == pod.number:
            continue
        target = next((other.address_of(n.name) for n in other.nodes if n.roles and other.address_of(n.name)), None)
        if target is None:
            continue
        probes.append(build("reach", user, id=f"isolation:pod{other.number}",
                            title=f"le pod {other.number} ({target}) est injoignable depuis {user}",
                            address=str(target), count=1, timeout=10, expect_ok=False))
        probes.append(build("reach", user, id=f"isolation-wan:pod{other.number}",
                            title=f"le routeur du pod {other.number} ({other.wan.router_address.ip}) est injoignable",
                            address=str(other.wan.router_address.ip), count=1, timeout=10, expect_ok=False))
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
