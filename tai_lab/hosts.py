"""Several hypervisors: the inventory, their capacity and use, and where whole pods go.

An inventory (``inventories/*.yaml``) lists libvirt hosts with what tai-lab may use on
each (memory, vCPUs). ``place`` puts every pod of a plan on one host — a pod never spans
hosts (its networks are local bridges) — or refuses before anything is created, saying
how much is needed and how much each host has.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import PrerequisiteError, TaiLabError
from .lang import tr
from .plan import LabPlan, PodPlan


class InventoryError(TaiLabError):
    """The inventory file is malformed."""

    exit_code = 2


@dataclass(frozen=True)
class Host:
    name: str
    uri: str
    memory_mib: int
    vcpus: int


@dataclass(frozen=True)
class Usage:
    """What a host can still give tai-lab right now."""

    host: Host
    free_memory_mib: int        # min(declared − used by tai-lab, free memory libvirt reports)
    free_vcpus: int
    used_memory_mib: int = 0
    used_vcpus: int = 0
    domains: int = 0


def _see_example() -> str:
    return tr("voir inventories/example.yaml", "see inventories/example.yaml")


def load_inventory(path: str | Path) -> list[Host]:
    path = Path(path)
    if not path.is_file():
        raise InventoryError(tr(f"l'inventaire {path} n'existe pas", f"inventory {path} does not exist"), _see_example())
    data = _read_inventory(path)
    hosts = []
    seen: set[str] = set()
    for i, h in enumerate(data.get("hosts") or []):
        where = f"{path}: hosts[{i}]"
        if not isinstance(h, dict) or "uri" not in h:
            raise InventoryError(tr(f"{where} : chaque hôte a besoin d'une uri", f"{where}: each host needs a uri"),
                                 tr("par exemple uri: qemu+ssh://root@hote/system",
                                    "e.g. uri: qemu+ssh://root@host/system"))
        name = str(h.get("name") or h["uri"])
        if name in seen:
            raise InventoryError(tr(f"{where} : le nom d'hôte {name!r} apparaît deux fois",
                                    f"{where}: host name {name!r} appears twice"),
                                 tr("donner à chaque hôte son propre nom", "give each host its own name"))
        seen.add(name)
        try:
            if any(isinstance(h[k], bool) for k in ("memory_mib", "vcpus")):   # int(True) is 1
                raise TypeError
            mem, cpus = int(h["memory_mib"]), int(h["vcpus"])
        except (KeyError, TypeError, ValueError):
            raise InventoryError(tr(f"{where} ({name}) : memory_mib et vcpus doivent être des nombres entiers",
                                    f"{where} ({name}): memory_mib and vcpus must be integers"),
                                 tr("ce que tai-lab peut utiliser sur cet hôte, par exemple memory_mib: 8192, vcpus: 8",
                                    "what tai-lab may use on that host, e.g. memory_mib: 8192, vcpus: 8")) from None
        if mem <= 0 or cpus <= 0:
            raise InventoryError(tr(f"{where} ({name}) : memory_mib et vcpus doivent être positifs",
                                    f"{where} ({name}): memory_mib and vcpus must be positive"), "")
        hosts.append(Host(name, str(h["uri"]), mem, cpus))
    if not hosts:
        raise InventoryError(tr(f"{path} : aucun hôte", f"{path}: no hosts"),
                             tr("lister au moins une URI libvirt sous hosts:", "list at least one libvirt URI under hosts:"))
    return hosts


def _read_inventory(path: Path) -> dict:
    """The inventory's mapping, within the data files' limits (size, encoding, nesting, aliases)."""
    from .yaml_input import InputRejected, check_structure, read_text
    try:
        text = read_text(str(path), "inventory")
        check_structure(text)
        data = yaml.safe_load(text) or {}
    except InputRejected as exc:
        where = f"{path}:{exc.line}:{exc.column}" if exc.line else str(path)
        raise InventoryError(f"{where}: {exc.message}", exc.hint) from None
    except Exception as exc:  # noqa: BLE001 — ruamel's or PyYAML's syntax errors: both carry the place
        raise InventoryError(tr(f"{path} : YAML invalide : {exc}", f"{path}: not valid YAML: {exc}"), _see_example()) from None
    if not isinstance(data, dict):
        raise InventoryError(tr(f"{path} : l'inventaire doit être un dictionnaire YAML avec hosts:",
                                f"{path}: the inventory must be a YAML mapping with hosts:"), _see_example())
    return data


def pod_needs(pod: PodPlan, memory_of) -> tuple[int, int]:
    """(memory MiB, vCPUs) of one pod's VMs."""
    vms = [n for n in pod.nodes if n.is_container]
    return sum(memory_of(n.kind) for n in vms), len(vms)


def place(plan: LabPlan, usage: list[Usage], memory_of, isp_memory_mib: int) -> dict[int, str]:
    """pod number → URI, whole pods, the host with the most free memory first.

    A host that receives pods also runs an ISP VM for them (its networks are local), so
    the first pod on a host costs the ISP too. Raises PrerequisiteError with the numbers
    when some pod does not fit anywhere.
    """
    free = {u.host.name: [u.free_memory_mib, u.free_vcpus] for u in usage}
    hosts = [u.host for u in usage]
    used: set[str] = set()
    out: dict[int, str] = {}

    def cost(h: Host, mem: int, cpus: int) -> tuple[int, int]:
        return (mem, cpus) if h.name in used else (mem + isp_memory_mib, cpus + 1)

    for pod in plan.pods:
        mem, cpus = pod_needs(pod, memory_of)
        fits = [h for h in hosts if free[h.name][0] >= cost(h, mem, cpus)[0]
                and free[h.name][1] >= cost(h, mem, cpus)[1]]
        # Fill hosts already in use first (one ISP less), then the one with most memory.
        best = max(fits, key=lambda h: (h.name in used, free[h.name][0]), default=None)
        if best is None:
            total_mem = sum(pod_needs(p, memory_of)[0] for p in plan.pods) + isp_memory_mib
            total_cpu = sum(pod_needs(p, memory_of)[1] for p in plan.pods) + 1
            have_en = "; ".join(f"{u.host.name}: {u.free_memory_mib} MiB, {u.free_vcpus} vCPU free" for u in usage)
            have_fr = "; ".join(f"{u.host.name} : {u.free_memory_mib} Mio, {u.free_vcpus} vCPU libres" for u in usage)
            raise PrerequisiteError(
                tr(f"les {len(plan.pods)} pods ne tiennent pas : chacun demande {mem} Mio et {cpus} vCPU "
                   f"(+{isp_memory_mib} Mio et 1 vCPU pour la VM FAI de chaque hôte utilisé), "
                   f"en tout au moins {total_mem} Mio et {total_cpu} vCPU ; "
                   f"le pod {pod.number} ne tient nulle part ({have_fr})",
                   f"the {len(plan.pods)} pods do not fit: each needs {mem} MiB and {cpus} vCPU "
                   f"(+{isp_memory_mib} MiB and 1 vCPU for the ISP VM of each host used), "
                   f"all together at least {total_mem} MiB and {total_cpu} vCPU; "
                   f"pod {pod.number} fits nowhere ({have_en})"),
                tr("ajouter un hôte à l'inventaire, relever ses limites, ou prendre moins de pods (--pods N)",
                   "add a host to the inventory, raise its limits, or use fewer pods (--pods N)"))
        m, c = cost(best, mem, cpus)
        free[best.name][0] -= m
        free[best.name][1] -= c
        used.add(best.name)
        out[pod.number] = best.uri
    return out


def measure(host: Host, conn) -> Usage:
    """Capacity and tai-lab's use of one host, read from libvirt."""
    used_mem = used_cpu = count = 0
    for dom in conn.listAllDomains(0):
        if not dom.name().startswith("tai-") or not dom.isActive():
            continue
        _state, _max, mem_kib, vcpus, _t = dom.info()
        used_mem += mem_kib // 1024
        used_cpu += vcpus
        count += 1
    free_now = conn.getFreeMemory() // (1024 * 1024)
    return Usage(host, min(host.memory_mib - used_mem, free_now), host.vcpus - used_cpu,
                 used_mem, used_cpu, count)


def measure_uri(host: Host) -> dict:
    """One row of `tai-lab hosts` (declared 0 = no limit declared: libvirt's numbers only)."""
    from .backends.libvirt import connection
    libvirt = connection.load()
    try:
        conn = libvirt.open(host.uri)
    except libvirt.libvirtError as exc:
        from .errors import PrerequisiteError as _P
        raise _P(tr(f"connexion impossible à {host.name} ({host.uri}) : {exc}",
                    f"cannot connect to {host.name} ({host.uri}): {exc}"),
                 tr("vérifier l'URI et que libvirtd y tourne", "check the URI and that libvirtd runs there")) from None
    try:
        _model, mem_mib, cpus, *_ = conn.getInfo()
        declared = host if host.memory_mib else Host(host.name, host.uri, mem_mib, cpus)
        u = measure(declared, conn)
    finally:
        conn.close()
    return {"name": host.name, "uri": host.uri, "memory_mib": declared.memory_mib, "vcpus": declared.vcpus,
            "domains": u.domains, "used_memory_mib": u.used_memory_mib, "used_vcpus": u.used_vcpus,
            "free_memory_mib": u.free_memory_mib, "free_vcpus": u.free_vcpus}
