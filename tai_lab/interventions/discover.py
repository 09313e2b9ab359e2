"""Find an intervention's target on the pod as it is now.

The candidate may have changed addresses, moved a service or chosen another server
software: the DNS server is the one the user's machine asks, the DHCP server the one
listening on port 67, the intranet the address its name resolves to. The plan is the
fallback when the live pod says nothing.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import LabStateError
from ..lang import tr
from .model import Intervention, Variant

if TYPE_CHECKING:
    from ..context import LabContext as Lab   # what a feature receives of the lab, not the API

# Server software a technician may have chosen, per service, in order of preference.
SERVICE_CANDIDATES = {
    "dns": ("named", "dnsmasq", "unbound"),
    "dhcp": ("isc-dhcp-server", "dnsmasq", "kea-dhcp4-server"),
    "web": ("nginx", "apache2", "lighttpd"),
    "smb": ("smbd",),
    "printer": ("tai-printer", "cups"),
}

ROLE_SERVICE = {"dns": "dns", "dhcp": "dhcp", "intranet": "web", "fileshare": "smb", "ipp-printer": "printer"}

# The files a service's interventions touch, found on the pod for the software that runs
# (the candidate's choice), with the Debian default as the fallback.
SERVICE_FILES: dict[str, tuple[str, ...]] = {
    "dns": ("dns_zone_file", "dns_options_file"),
    "dhcp": ("dhcp_config_file", "dhcp_leases_file"),
}
_DNSMASQ_CONF = "/etc/dnsmasq.conf /etc/dnsmasq.d"
_WHAT = {"dns": "DNS", "dhcp": "DHCP", "web": "web", "smb": "SMB", "printer": "IPP"}


class Discovery:
    def __init__(self, lab: "Lab", pod: int) -> None:
        self.lab = lab
        self.pod = pod
        self.plan = lab.plan.pod(pod)
        self._addr_cache: dict[str, list[str]] = {}

    def run(self, node: str, argv: list[str]) -> str:
        res = self.lab.backend.transport(self.pod, node).run(argv, timeout=10)
        return res.stdout if res.ok else ""

    def addresses(self, node: str) -> list[str]:
        """IPv4 addresses a container has right now."""
        if node not in self._addr_cache:
            out = self.run(node, ["ip", "-4", "-o", "addr", "show"])
            self._addr_cache[node] = [a for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
                                      if not a.startswith("127.")]
        return self._addr_cache[node]

    def node_at(self, address: str) -> str | None:
        for n in self.plan.nodes:
            if n.is_container and address in self.addresses(n.name):
                return n.name
        return None

    def user_node(self, item: Intervention) -> str:
        if item.user == "client":
            clients = [n.name for n in self.plan.nodes if n.kind == "client"]
            if not clients:
                raise LabStateError(tr(f"le pod {self.pod} n'a pas de poste client pour jouer l'utilisateur",
                                       f"pod {self.pod} has no client machine to play the user"))
            return clients[0]
        self.plan.node(item.user)
        return item.user

    def active_service(self, node: str, kind: str) -> str:
        """The server software that runs for ``kind`` on ``node``.

        A pod that answers and runs none of the known ones (a candidate who configured no
        DHCP server at all) is refused here, before anything is saved or injected; a node
        that says nothing leaves the plan's default.
        """
        names = SERVICE_CANDIDATES[kind]
        res = self.lab.backend.transport(self.pod, node).run(["systemctl", "is-active", *names], timeout=10)
        states = res.stdout.split()   # is-active exits non-zero when one is inactive: read it anyway
        for name, state in zip(names, states):
            if state == "active":
                return name
        if len(states) == len(names):
            raise LabStateError(
                tr(f"pod {self.pod} : aucun serveur {_WHAT.get(kind, kind)} ne tourne sur {node} (cherchés : {', '.join(names)}) : "
                   "cette intervention ne s'applique pas à l'installation de ce candidat",
                   f"pod {self.pod}: no {_WHAT.get(kind, kind)} server runs on {node} "
                   f"(looked for {', '.join(names)}): this intervention cannot apply to this candidate's setup"),
                tr("choisir une autre intervention, ou vérifier d'abord le serveur du candidat (tai-lab prep check)",
                   "pick another intervention, or check the candidate's server first (tai-lab prep check)"))
        return names[0]

    def _first_file(self, node: str, script: str, default: str) -> str:
        out = self.run(node, ["sh", "-c", script]).strip().splitlines()
        return out[0].strip() if out and out[0].startswith("/") else default

    def service_files(self, node: str, kind: str, service: str) -> dict[str, str]:
        """Where the running software keeps what the interventions change."""
        d = self.plan.domain
        if kind == "dns" and service == "dnsmasq":
            return {"dns_zone_file": self._first_file(
                        node, f"grep -rlE '^[^#]*intranet' {_DNSMASQ_CONF} /etc/hosts 2>/dev/null", "/etc/dnsmasq.conf"),
                    "dns_options_file": self._first_file(
                        node, f"grep -rlE '^server=' {_DNSMASQ_CONF} 2>/dev/null", "/etc/dnsmasq.conf")}
        if kind == "dns":
            # The zone file holding the intranet record (the candidate names it as they like).
            zone = self._first_file(node, "grep -rlE '^intranet([.[:space:]]|$)' /etc/bind /var/lib/bind "
                                          "/var/cache/bind 2>/dev/null | grep -v '\\.jnl$'", f"/etc/bind/db.{d}")
            return {"dns_zone_file": zone, "dns_options_file": self._first_file(
                node, "grep -rlE '^[[:space:]]*forwarders' /etc/bind 2>/dev/null", "/etc/bind/named.conf.options")}
        if kind == "dhcp" and service == "dnsmasq":
            return {"dhcp_config_file": self._first_file(
                        node, f"grep -rlE '^dhcp-range' {_DNSMASQ_CONF} 2>/dev/null", "/etc/dnsmasq.conf"),
                    "dhcp_leases_file": "/var/lib/misc/dnsmasq.leases"}
        if kind == "dhcp":
            return {"dhcp_config_file": "/etc/dhcp/dhcpd.conf", "dhcp_leases_file": "/var/lib/dhcp/dhcpd.leases"}
        return {}

    def role_node(self, role: str, user: str) -> str:
        live: str | None = None
        if role == "dns":
            out = self.run(user, ["cat", "/etc/resolv.conf"])
            m = re.search(r"^nameserver\s+(\d+\.\d+\.\d+\.\d+)", out, re.M)
            live = self.node_at(m.group(1)) if m else None
        elif role == "dhcp":
            live = next((n.name for n in self.plan.nodes if n.kind == "server"
                         and self.run(n.name, ["ss", "-Hlun", "sport = :67"]).strip()), None)
        elif role == "intranet":
            out = self.run(user, ["getent", "ahostsv4", f"intranet.{self.plan.domain}"])
            live = self.node_at(out.split()[0]) if out.split() else None
        if live:
            return live
        planned = self.plan.nodes_with_role(role)
        if not planned:
            raise LabStateError(tr(f"le pod {self.pod} n'a pas de machine avec le rôle {role!r}",
                                   f"pod {self.pod} has no node with the role {role!r}"),
                                tr("cette intervention en demande une ; en choisir une autre",
                                   "this intervention needs one; pick another"))
        return planned[0].name

    def clients(self) -> list[dict]:
        """Every client of the pod with its first interface and the subnet it is on."""
        out = []
        for n in self.plan.nodes:
            if n.kind != "client" or not n.interfaces:
                continue
            seg = n.interfaces[0].segment
            vlan = self.plan.vlan(seg.name) if seg.kind == "vlan" else next(
                (self.plan.vlan(i.segment.name) for i in self.plan.node(seg.name).interfaces
                 if i.segment.kind == "vlan"), None)
            if vlan is None:
                continue
            out.append({"user_node": n.name, "user_iface": n.interfaces[0].name, "user_subnet": str(vlan.subnet)})
        return out

    def dns_address(self, user: str) -> str:
        """The DNS server the user's machine asks now (before the fault), else the plan's."""
        m = re.search(r"^nameserver\s+(\d+\.\d+\.\d+\.\d+)", self.run(user, ["cat", "/etc/resolv.conf"]), re.M)
        if m and self.node_at(m.group(1)):
            return m.group(1)
        planned = self.plan.nodes_with_role("dns")
        return str(self.plan.address_of(planned[0].name)) if planned else ""

    def port_of(self, node: str) -> dict:
        """The switch (or access point) port a node's first interface is plugged into."""
        n = self.plan.node(node)
        iface = n.interfaces[0]
        seg = iface.segment
        if seg.kind == "vlan":
            device = next(x.name for x in self.plan.nodes if x.kind == "switch")
        elif seg.kind == "wireless":
            device = seg.name
        else:
            raise LabStateError(tr(f"{node} n'est branché sur aucun port de switch",
                                   f"{node} is not plugged into a switch port"))
        netns = self.lab.backend.port_namespace(self.pod, device)
        port = f"{node}-{iface.name}"
        out = self.lab.backend.transport(self.pod, device).run(["ip", "-o", "link", "show", port]).stdout
        m = re.search(r"master (\S+)", out)
        bridges = [f"vlan{v.id}" for v in self.plan.vlans]
        current = m.group(1) if m else None
        other = next((b for b in bridges if b != current), None) if seg.kind == "vlan" else None
        return {"port_device": device, "port_netns": netns, "port_name": port,
                "port_bridge": current or "", "other_bridge": other or ""}

    def directory(self) -> dict:
        """The pod's domain for the directory interventions: the incident user (the account the
        jury member plays) and what the scenario gave them, the control account, the share."""
        d = self.plan.directory
        if d is None:
            return {}
        user, control = d.user(d.incident_user), d.user(d.control_user)
        share = next((s for s in d.shares if s.group in user.groups), d.shares[0] if d.shares else None)
        # an account that lives outside the login OU: it must stay unable to log in
        outside = next((u for u in d.users if u.ou != d.login_ou), None)
        policy = d.policy
        return {
            "ad_realm": d.realm, "ad_domain": self.plan.domain, "ad_base": d.base_dn, "ad_netbios": d.netbios,
            "ad_dc": d.dc, "ad_dc_fqdn": self.plan.node(d.dc).fqdn, "ad_admin_password": d.admin_password,
            "ad_user": user.name, "ad_password": user.password, "ad_new_password": d.new_password,
            "ad_user_ou": d.ou_dn(user.ou), "ad_user_groups": ",".join(user.groups),
            "ad_control": control.name, "ad_control_password": control.password,
            "ad_login_base": d.ou_dn(d.login_ou), "ad_outside": outside.name if outside else "",
            # where the wrong-OU fault puts the user: the outside account's OU (former staff)
            "ad_other_ou": d.ou_dn(outside.ou if outside else next(
                (o for o in d.ous if o != user.ou and o != d.login_ou), None)),
            "ad_share": share.name if share else "", "ad_share_group": share.group if share else "",
            "ad_share_path": share.path if share else "",
            "ad_share_gid": next((g.gid for g in d.groups if share and g.name == share.group), ""),
            "ad_temp_password": f"Provisoire-{self.pod}-{d.netbios.capitalize()}", "ad_share_server": self.plan.node(d.dc).fqdn,
            "ad_lockout_threshold": policy["lockout_threshold"],
            "ad_policy_args": (f"--complexity={'on' if policy['complexity'] else 'off'} "
                               f"--history-length={policy['history']} --min-pwd-length={policy['min_length']} "
                               f"--min-pwd-age=0 --max-pwd-age={policy['max_age_days']} "
                               f"--account-lockout-threshold={policy['lockout_threshold']} "
                               f"--account-lockout-duration={policy['lockout_minutes']} "
                               f"--reset-account-lockout-after={policy['lockout_minutes'] or 30}"),
        }

    def context(self, item: Intervention, var: Variant) -> dict:
        """Everything the playbooks and probes need, as the pod is now."""
        if var.target.port is not None:
            # Before anything is asked of the pod: the backend must have its ports on the host.
            self.lab.backend.require("switch-ports", f"{item.id} (an intervention on a switch port)")
        user = self.user_node(item)
        unode = self.plan.node(user)
        uiface = unode.interfaces[0]
        seg = uiface.segment
        vlan = self.plan.vlan(seg.name) if seg.kind == "vlan" else next(
            self.plan.vlan(i.segment.name) for i in self.plan.node(seg.name).interfaces
            if i.segment.kind == "vlan")
        router = next((n for n in self.plan.nodes if n.kind == "router"), None)
        printer = next((n for n in self.plan.nodes if "ipp-printer" in n.roles), None)
        share = dict(self.plan.services.get("fileshare", {}))
        share_node = self.plan.nodes_with_role("fileshare")
        ctx: dict = {
            "pod": self.pod, "domain": self.plan.domain, "user_node": user, "user_iface": uiface.name,
            "user_subnet": str(vlan.subnet), "gateway": str(vlan.gateway) if vlan.gateway else "",
            "user_address": (self.addresses(user) or [""])[0],
            "router_node": router.name if router else "",
            "router_lan_iface": next((i.name for i in router.interfaces if i.segment.kind == "vlan"
                                      and i.segment.name == vlan.name), "") if router else "",
            "router_wan_iface": next((i.name for i in router.interfaces if i.segment.kind == "upstream"),
                                     "") if router else "",
            "printer_node": printer.name if printer else "",
            "printer_fqdn": printer.fqdn if printer else "",
            "printer_address": str(self.plan.address_of(printer.name)) if printer else "",
            "share": share.get("share", ""), "share_user": share.get("user", ""),
            "share_password": share.get("password", ""), "share_path": share.get("path", ""),
            "share_server": share_node[0].fqdn if share_node else "",
            "internet_site": self.lab.plan.upstream.sites[0].name if self.lab.plan.upstream.sites else "",
            "internet_address": str(self.lab.plan.upstream.sites[0].address) if self.lab.plan.upstream.sites else "",
            "upstream_resolver": str(self.lab.plan.upstream.resolver),
            "timezone": self.lab.plan.timezone,
        }
        ctx["clients"] = self.clients()
        ctx.update(self.directory())
        if "ad_realm" in ctx:
            ctx["ad_computer"] = user.upper()        # the user's machine account (adcli's name)
        ctx["dns_address"] = self.dns_address(user)
        ctx["intranet_url"] = f"http://intranet.{self.plan.domain}/"
        ctx["intranet_marker"] = f"TAI-INTRANET-POD{self.pod}"
        t = var.target
        if t.port is not None:
            node = user if t.port == "user" else t.port
            ctx.update(self.port_of(node), target_node=self.port_of(node)["port_device"],
                       target_is_port=True, port_node=node)
        elif t.node is not None:
            ctx["target_node"] = user if t.node == "user" else t.node
            self.plan.node(ctx["target_node"])
        else:
            ctx["target_node"] = self.role_node(t.role or "", user)
        if not t.port:
            target = ctx["target_node"]
            ctx["target_address"] = (self.addresses(target) or [""])[0]
            kind = ROLE_SERVICE.get(t.role or "")
            if kind:
                ctx[f"{kind}_service"] = self.active_service(target, kind)
                ctx.update(self.service_files(target, kind, ctx[f"{kind}_service"]))
        ctx.setdefault("target_is_port", False)
        ctx.update(self.desk_context(user, uiface.name, item))
        return ctx

    def desk_context(self, user: str, iface: str, item: Intervention) -> dict:
        """The pod's service desk as the fault's ticket and the desk checks need it: its node,
        the user who works on the user's machine, that machine's asset as the inventory sees it
        (its real MAC now) and another client machine (for a wrong record or link)."""
        from ..servicedesk import desk_of
        desk = desk_of(self.plan)
        if desk is None:
            if item.desk:
                raise LabStateError(f"pod {self.pod} has no service desk: {item.id} is an intervention on it",
                                    "use a scenario with a node of role service-desk (scenarios/tai-servicedesk.yaml)")
            return {}
        person = desk.user_of(user) or (desk.users() or [{}])[0]
        others = [n.name for n in self.plan.nodes if n.kind == "client" and n.name != user]
        other = others[0] if others else ""
        mac = self.run(user, ["cat", f"/sys/class/net/{iface}/address"]).strip().lower()
        other_mac = ""
        if other:
            other_iface = self.plan.node(other).interfaces[0].name
            other_mac = self.run(other, ["cat", f"/sys/class/net/{other_iface}/address"]).strip().lower()
        other_person = desk.user_of(other) if other else None
        technicians = desk.settings.get("technicians") or [{}]
        return {"desk_node": desk.node, "desk_url": desk.url, "desk_user": person.get("login", ""),
                "desk_user_name": person.get("name", ""), "asset_name": user, "asset_mac": mac,
                "asset_serial": str(desk.asset_data(user).get("serial", "")),
                "other_machine": other, "other_mac": other_mac,
                "other_serial": str(desk.asset_data(other).get("serial", "")) if other else "",
                "other_user": (other_person or {}).get("login", ""),
                "desk_technician": technicians[0].get("login", "")}
