"""Provisioning through Ansible (ansible-runner): inventory from the plan, playbooks from playbooks/.

Nodes are reached out of band by the backend's connection (nsenter into a container,
the guest agent into a VM), never over the lab network.
"""
from __future__ import annotations

import json
import os
import sys
import shutil
from pathlib import Path
from typing import Callable

from . import directory, paths
from .errors import CommandFailed
from .lang import tr
from .plan import LabPlan, NodePlan, PodPlan

Progress = Callable[[str], None]
HostVars = Callable[[int | None, str], dict]


class PlaybookFailed(CommandFailed):
    """A playbook failed: ``hosts`` are the inventory names of the machines it failed on, the
    failed tasks (as Ansible names them) are the ``details``."""

    def __init__(self, message: str, hint: str, *, hosts: list[str], details: str) -> None:
        super().__init__(message, hint, details=details)
        self.hosts = hosts


def host_name(pod: int | None, node: str) -> str:
    return "isp" if pod is None else f"p{pod}-{node}"


# What a machine is doing while the plateau is provisioned, as a trainer reads it: the task
# files of playbooks/tasks/ that site.yml runs (one line when a machine starts one).
STAGES: dict[str, tuple[str, str]] = {
    "network": ("fichiers réseau", "network files"),
    "network-up": ("interfaces réseau activées", "network interfaces up"),
    "isp": ("résolveur et site web publics", "public resolver and web site"),
    "router": ("routage, NAT et relais DHCP", "routing, NAT and DHCP relay"),
    "dns": ("serveur DNS", "DNS server"),
    "dhcp": ("serveur DHCP", "DHCP server"),
    "fileshare": ("partage de fichiers", "file share"),
    "intranet": ("site intranet", "intranet site"),
    "ipp-printer": ("imprimante réseau", "network printer"),
}


def machine_label(host: str) -> str:
    """``p1-srv`` → ``pod 1 · srv``; the ISP as the trainer calls it."""
    if host == "isp":
        return tr("FAI", "ISP")
    pod, sep, node = host.partition("-")
    return f"pod {pod[1:]} · {node}" if sep and pod[1:].isdigit() else host


def stage_line(host: str | None, task_path: str | None) -> str | None:
    """The progress line for a machine starting a task of ``task_path`` (None: nothing new to say)."""
    if not host or not task_path:
        return None
    stem = Path(task_path.rsplit(":", 1)[0]).stem
    if stem not in STAGES:
        return None
    fr, en = STAGES[stem]
    label = machine_label(host)
    return tr(f"{label} — {fr}", f"{label} — {en}")


def _iface_vars(node: NodePlan) -> list[dict]:
    return [{"name": i.name, "dhcp": i.dhcp,
             "address": str(i.address) if i.address else None,
             "gateway": str(i.gateway) if i.gateway else None} for i in node.interfaces]


def node_vars(plan: LabPlan, pod: PodPlan, node: NodePlan) -> dict:
    """What the playbooks need to configure one node, derived from the plan only."""
    # With a directory, the domain controller's DNS is the pod's (the realm is the pod's domain).
    dns = pod.nodes_with_role("dns") or pod.nodes_with_role("ad-dc")
    dns_addr = str(pod.address_of(dns[0].name)) if dns else str(plan.upstream.resolver)
    v: dict = {
        "pod": pod.number, "inventory_node": node.name, "kind": node.kind,
        "domain": pod.domain, "roles": list(node.roles), "interfaces": _iface_vars(node),
        "dns_server": dns_addr, "upstream_resolver": str(plan.upstream.resolver),
        "timezone": plan.timezone,
        **pod.services,
    }
    if not any(i.dhcp for i in node.interfaces):
        v["resolver"] = "127.0.0.1" if "dns" in node.roles else dns_addr
    if pod.directory is not None and ("ad-dc" in node.roles or "ad-client" in node.roles):
        v["directory"] = directory_vars(plan, pod, node)
    if node.kind == "router":
        wan = next(i for i in node.interfaces if i.segment.kind == "upstream")
        v["wan_interface"] = wan.name
        dhcp = pod.nodes_with_role("dhcp")
        if dhcp:
            v["dhcp_server"] = str(pod.address_of(dhcp[0].name))
            v["relay_interfaces"] = [i.name for i in node.interfaces if i.segment.kind == "vlan"]
    if "dns" in node.roles:
        records = [{"name": "@", "address": str(pod.address_of(node.name))}]
        for other in pod.nodes:
            addr = pod.address_of(other.name)
            if addr is None:
                continue
            records.append({"name": other.name, "address": str(addr)})
            records += [{"name": a, "address": str(addr)} for a in other.aliases]
        v["dns_records"] = records
    if "service-desk" in node.roles:
        v["desk_address"] = str(pod.address_of(node.name))
    if "dhcp" in node.roles:
        v["vlans"] = [{
            "name": vl.name, "network": str(vl.subnet.network_address), "netmask": str(vl.subnet.netmask),
            "gateway": str(vl.gateway) if vl.gateway else None,
            "dhcp_first": str(vl.dhcp_range[0]) if vl.dhcp_range else None,
            "dhcp_last": str(vl.dhcp_range[1]) if vl.dhcp_range else None,
        } for vl in pod.vlans]
    return v


def directory_vars(plan: LabPlan, pod: PodPlan, node: NodePlan) -> dict:
    """What the ad-dc and ad-client roles need: the domain, and on the controller its objects."""
    d = pod.directory
    assert d is not None
    dc = pod.node(d.dc)
    v: dict = {"realm": d.realm, "netbios": d.netbios, "base_dn": d.base_dn, "domain": pod.domain,
               "admin_password": d.admin_password, "dc_fqdn": dc.fqdn, "dc_name": dc.name,
               "login_base": d.ou_dn(d.login_ou), "computer_name": node.name.upper(),
               "probe_user": d.incident_user}
    if "ad-dc" not in node.roles:
        return v
    gids = {g.name: g.gid for g in d.groups}
    records = []
    for other in pod.nodes:
        addr = pod.address_of(other.name)
        if addr is None:
            continue
        if other.name != node.name:
            records.append({"name": other.name, "address": str(addr)})
        records += [{"name": a, "address": str(addr)} for a in other.aliases]
    v.update({
        "host_ip": str(pod.address_of(node.name)), "forwarder": str(plan.upstream.resolver),
        "policy": dict(d.policy), "objects_ldif": directory.objects_ldif(d, pod.domain),
        "members_ldif": directory.members_ldif(d), "dns_records": records,
        "shares": [{"name": s.name, "path": s.path, "group": s.group, "gid": gids[s.group]} for s in d.shares],
    })
    return v


def inventory(plan: LabPlan, pods: list[int], host_vars: HostVars, *, upstream: bool,
              upstreams: tuple[str, ...] | list[str] = ("isp",)) -> dict:
    """``upstreams``: the ISP nodes (one per hypervisor when pods are spread over several)."""
    groups: dict[str, dict] = {}
    if upstream:
        groups["isp"] = {"hosts": {name: {
            "inventory_node": name, "pod": 0, "kind": "isp", "roles": [],
            "interfaces": [], "resolver_address": str(plan.upstream.resolver),
            "sites": [{"name": s.name, "address": str(s.address)} for s in plan.upstream.sites],
            **host_vars(None, name)} for name in upstreams}}
    for number in pods:
        pod = plan.pod(number)
        for node in pod.nodes:
            if not node.is_container:
                continue
            hv = node_vars(plan, pod, node) | host_vars(number, node.name)
            groups.setdefault(node.kind, {"hosts": {}})["hosts"][host_name(number, node.name)] = hv
    return {"all": {"children": groups}}


def inventory_json(inv: dict) -> str:
    """The inventory file handed to ansible-runner (``inventory/hosts.json``)."""
    return json.dumps(inv, indent=1)


def run_playbook(workdir: Path, playbook: str, inv: dict, *, progress: Progress,
                 limit: str | None = None, extravars: dict | None = None) -> None:
    """Run one playbook of playbooks/ against the inventory; raise with the failed tasks."""
    import ansible_runner  # heavy import: only when provisioning

    pdd = workdir
    if pdd.exists():
        shutil.rmtree(pdd)
    (pdd / "inventory").mkdir(parents=True)
    (pdd / "inventory" / "hosts.json").write_text(inventory_json(inv))
    failures: list[str] = []
    failed_hosts: list[str] = []
    stage: dict[str, str] = {}      # the last stage said for each machine

    def on_event(ev: dict) -> bool:
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_start":
            line = stage_line(data.get("host"), data.get("task_path"))
            if line is not None and stage.get(data["host"]) != line:
                stage[data["host"]] = line
                progress(line)
            return True
        if ev.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            res = data.get("res", {})
            msg = res.get("msg") or ""
            output = (res.get("stderr") or res.get("stdout") or "").strip()
            if output and output not in msg:       # raw tasks only say "non-zero return code"
                msg = f"{msg}: {output}" if msg else output
            failures.append(f"{data.get('host')}: {data.get('task')}: {str(msg).strip()[:400]}")
            failed_hosts.append(str(data.get("host")))
        elif ev.get("event") == "runner_on_unreachable":
            failures.append(f"{data.get('host')}: unreachable: {data.get('res', {}).get('msg', '')}")
            failed_hosts.append(str(data.get("host")))
        return True

    env = {
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False",
        # One nsenter per module task instead of four (mkdir, copy, run, rm): see tai_nsenter.py.
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_INVENTORY_ENABLED": "yaml",      # ours is JSON (YAML's subset): try no other parser
        "ANSIBLE_CONNECTION_PLUGINS": str(paths.data_dir("playbooks") / "plugins" / "connection"),
    }
    # The ansible-playbook of this Python environment before whichever comes first on PATH
    # (a version manager's shim costs a few tenths of a second per run, at every inject).
    own = Path(sys.executable).parent
    if (own / "ansible-playbook").is_file():
        env["PATH"] = f"{own}{os.pathsep}{os.environ.get('PATH', '')}"
    result = ansible_runner.run(
        private_data_dir=str(pdd), project_dir=str(paths.data_dir("playbooks")),
        playbook=playbook, inventory=str(pdd / "inventory"), limit=limit,
        extravars=extravars or {}, forks=int(os.environ.get("TAI_LAB_FORKS", "16")),
        quiet=True, envvars=env, event_handler=on_event,
        settings={"suppress_ansible_output": True},
    )
    if result.rc != 0 or failures:
        detail = "\n".join(failures[:10]) or f"ansible exited with {result.rc} ({result.status})"
        raise PlaybookFailed(tr(f"la configuration par {playbook} a échoué :\n{detail}",
                                f"provisioning with {playbook} failed:\n{detail}"),
                             tr(f"sortie complète : {pdd / 'artifacts'}", f"full output: {pdd / 'artifacts'}"),
                             hosts=list(dict.fromkeys(failed_hosts)), details=detail)
