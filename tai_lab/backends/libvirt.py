"""Backend ``libvirt``: every OS node a VM (KVM, else TCG), every segment an isolated network.

For lab ``mini`` (see ``libvirt_xml`` for the names):

* each VLAN of a pod is an isolated libvirt network (no forward, no host address): the
  pod's switch; the switch and access-point nodes are not VMs;
* the upstream ISP is one small VM ``tai-mini-isp`` with one interface per pod, each on
  the pod's isolated ``…-wan`` network: the only thing pods share, and its firewall drops
  forwarding between pods;
* storage through libvirt (``libvirt_storage``), no shared storage: one ``dir`` pool per
  lab and hypervisor, the image's disk, kernel and initramfs uploaded into it once; disks
  are linked clones there (a qcow2 volume per node backed by the uploaded disk), and the
  domains use the paths of those volumes on their host;
* the prep-phase cut is the link state of the router's WAN interface, set at the
  hypervisor (``updateDeviceFlags``): root inside the guest cannot undo it;
* snapshots are libvirt internal snapshots of running domains (disk + memory in the
  overlay): a revert resumes the pod where it was, no boot;
* out-of-band access is the QEMU guest agent (``QgaTransport``; Ansible through the
  ``community.libvirt.libvirt_qemu`` connection).

Every domain, network, pool and volume is recorded in the lab journal before it is created,
with the libvirt URI it lives on; ``down`` removes exactly those.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Literal

from ..images import vm as images_vm
from ..errors import CommandFailed, LabStateError, leftover_hint, NotFoundError, PrerequisiteError
from ..plan import LabPlan, NodePlan, PodPlan
from ..state import LabState, Resource
from ..transports.qga import AgentError, QgaTransport
from . import libvirt_xml as lx
from .base import Backend, Progress
from .libvirt_storage import Storage

DEFAULT_URI = "qemu:///system"
# Under TCG on a loaded host, five VMs booting at once take minutes: be patient.
BOOT_TIMEOUT = float(os.environ.get("TAI_LAB_VM_BOOT_TIMEOUT", "900"))
STOP_TIMEOUT = float(os.environ.get("TAI_LAB_VM_STOP_TIMEOUT", "120"))
MEMORY_MIB = {"router": 256, "client": 320, "server": 384, "printer": 256, "isp": 256}
_PROBE_CACHE = Path("/run/tai-lab/kvm-probe.json")
# Under TCG (emulation) the guest kernel's speculative-execution mitigations (page-table
# isolation above all) cost a lot of emulated work and protect nothing of the host; the
# timer check is the usual hang of emulated boots. Not added under KVM.
TCG_CMDLINE = " no_timer_check mitigations=off"


def _libvirt():
    try:
        import libvirt
    except ImportError as exc:
        raise PrerequisiteError("the libvirt backend needs libvirt-python",
                                "install it with: pip install 'tai-lab[libvirt]' "
                                "(needs the Debian packages libvirt-dev and pkg-config)") from exc
    # Errors are exceptions handled here; libvirt's default handler would also print them.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


class LibvirtBackend(Backend):
    """Pods of libvirt domains on isolated networks, one or several hypervisors.

    Of the optional capabilities (see ``base``) it has none: a VM's disk is a qcow2 clone
    whose changes are not a directory of files (no prep start/seal), nothing copies a host
    directory into a guest (no prep depot), and a switch port is a libvirt network's tap
    device, not an interface in a namespace (no port interventions)."""

    name = "libvirt"
    silence_s = 1.5    # guests under emulation (TCG) answer in tens of milliseconds, more on a loaded host
    capabilities = frozenset()

    def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress = lambda _m: None,
                 *, connect: str | None = None, placement: dict | None = None,
                 inventory: str | None = None) -> None:
        self.state = state
        self.plan = plan  # type: ignore[assignment]   # None only for `down`
        self.progress = progress
        self.lab = state.lab
        opts = state.data.get("backend_options", {}) if state.exists else {}
        self.uri = connect or opts.get("connect") or DEFAULT_URI
        # pod → URI of the host it lives on (several hosts); the upstream is on self.uri.
        self.placement: dict[int, str] = {int(k): v for k, v in
                                          (placement or opts.get("placement") or {}).items()}
        self.inventory: str | None = inventory or opts.get("inventory")
        # libvirt's connections and domains: the bindings ship no type information (Any).
        self._conns: dict[str, Any] = {}
        # VMs started and not yet seen booted: (pod, node) → what to do once booted.
        # node → what finishes its boot: configuring the ISP, or True (finished by ready()).
        self._booting: dict[tuple[int | None, str], Callable[[], None] | Literal[True]] = {}
        self._lock = threading.Lock()
        self.last_timings: dict[str, float] = {}
        self.storage = Storage(self.lab, state.journal, self.conn, progress)

    # ------------------------------------------------------------------ connections
    def conn(self, uri: str | None = None):
        uri = uri or self.uri
        with self._lock:
            c = self._conns.get(uri)
            if c is None or not c.isAlive():
                libvirt = _libvirt()
                try:
                    c = libvirt.open(uri)
                except libvirt.libvirtError as exc:
                    raise PrerequisiteError(f"cannot connect to libvirt at {uri}: {exc}",
                                            "is libvirtd running? (`libvirtd -d` and `virtlogd -d` "
                                            "when systemd is not PID 1)") from exc
                self._conns[uri] = c
            return c

    def uri_of(self, pod: int | None, node: str = "isp") -> str:
        if pod is None:
            return self.upstream_uris().get(node, self.uri)
        return self.placement.get(pod, self.uri)

    # ------------------------------------------------------------------ several hosts
    def hosts_in_use(self) -> list[str]:
        """Hypervisor URIs with pods, the first (main) one first."""
        uris = [self.uri]
        for p in sorted(self.placement):
            if self.placement[p] not in uris:
                uris.append(self.placement[p])
        return uris

    def upstream_uris(self) -> dict[str, str]:
        """ISP node → URI: ``isp`` on the main host, ``isp2``… on the others (one per host,
        since a pod's networks are local bridges of its host)."""
        return {("isp" if k == 0 else f"isp{k + 1}"): uri for k, uri in enumerate(self.hosts_in_use())}

    def upstream_nodes(self) -> list[str]:
        return list(self.upstream_uris())

    def pods_on(self, uri: str) -> list[int]:
        return [p.number for p in self.plan.pods if self.uri_of(p.number) == uri]

    def _place(self) -> None:
        """Whole pods on the inventory's hosts by free memory and vCPUs, or refuse with numbers."""
        from .. import hosts as hostmod
        assert self.inventory is not None           # placed only with an inventory
        inv = hostmod.load_inventory(self.inventory)
        usage = [hostmod.measure(h, self.conn(h.uri)) for h in inv]
        self.placement = hostmod.place(self.plan, usage, lambda kind: MEMORY_MIB.get(kind, 256),
                                       MEMORY_MIB["isp"])
        # The main host (the ISP of `exec isp`, the probe of KVM) is the first one with pods.
        self.uri = next(h.uri for h in inv if h.uri in self.placement.values())
        for h in inv:
            pods = [p for p, u in self.placement.items() if u == h.uri]
            if pods:
                self.progress(f"host {h.name} ({h.uri}): pod(s) {', '.join(map(str, pods))}")

    def domain(self, pod: int | None, node: str):
        libvirt = _libvirt()
        name = lx.domain_name(self.lab, pod, node)
        try:
            return self.conn(self.uri_of(pod, node)).lookupByName(name)
        except libvirt.libvirtError:
            where = "the upstream ISP" if pod is None else f"pod {pod}"
            raise LabStateError(f"{node} of {where} has no VM ({name})",
                                "see `tai-lab status`; `tai-lab rebuild --pod N` builds a pod again") from None

    # ------------------------------------------------------------------ names and files
    def node_dir(self, pod: int | None, node: str) -> Path:
        return self.state.dir / ("isp" if pod is None else f"pods/{pod}/{node}")

    def vm_nodes(self, pod: PodPlan) -> list[NodePlan]:
        return [n for n in pod.nodes if n.is_container]

    # ------------------------------------------------------------------ checks
    def check_host(self) -> None:
        """Before anything is created: libvirt-python, the images, every host reachable.
        (Which domain type each host runs is tried once the image is uploaded there.)"""
        _libvirt()
        if self.inventory:
            self._place()
        for img in {n.image for p in self.plan.pods for n in p.nodes if n.image} | {self.plan.upstream.image}:
            images_vm.image(img)   # raises with the build command when missing
        for uri in self.hosts_in_use():
            self.conn(uri)

    def domain_type(self, uri: str) -> str:
        """``kvm`` if this host really runs a guest with it, else ``qemu`` (TCG), by trying.

        The probe boots the image's kernel (uploaded to the host's pool) with no root disk
        and ``panic=-1``: a working hypervisor reaches the panic (and the domain goes away)
        in a few seconds. Cached per host until this machine reboots (``/run``).
        """
        if os.environ.get("TAI_LAB_DOMAIN_TYPE") in ("kvm", "qemu"):
            return os.environ["TAI_LAB_DOMAIN_TYPE"]
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        cache = json.loads(_PROBE_CACHE.read_text()) if _PROBE_CACHE.is_file() else {}
        key = f"{uri}|{boot_id}"
        if key in cache:
            return cache[key]
        result = self._probe_kvm(uri)
        if result == "qemu":
            self.progress(f"warning: {uri} cannot run guests with KVM: VMs run under TCG "
                          "(emulation, several times slower)")
        cache[key] = result
        _PROBE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        _PROBE_CACHE.write_text(json.dumps(cache))
        return result

    def _probe_kvm(self, uri: str) -> str:
        libvirt = _libvirt()
        conn = self.conn(uri)
        caps = conn.getCapabilities()
        if "domain type='kvm'" not in caps and 'domain type="kvm"' not in caps:
            return "qemu"
        kernel = self.storage.image(uri, self.plan.upstream.image).kernel
        name = f"{lx.prefix(self.lab)}-kvmprobe"
        xml = f"""<domain type="kvm"><name>{name}</name><memory unit="MiB">128</memory><vcpu>1</vcpu>
<os><type arch="x86_64" machine="pc">hvm</type><kernel>{kernel}</kernel>
<cmdline>console=ttyS0 panic=-1 root=/dev/nonexistent</cmdline></os>
<on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
<devices><serial type="null"><target port="0"/></serial>
<controller type="usb" model="none"/><memballoon model="none"/></devices>
<seclabel type="static" model="dac" relabel="no"><label>+0:+0</label></seclabel></domain>"""
        res = Resource("domain", name, None, {"uri": uri, "transient": True})
        self.state.journal.will_create(res)
        try:
            dom = conn.createXML(xml, 0)
        except libvirt.libvirtError:
            self.state.journal.removed(res)
            return "qemu"
        deadline = time.monotonic() + 20
        works = False
        while time.monotonic() < deadline:
            try:
                if not dom.isActive():
                    works = True
                    break
            except libvirt.libvirtError:
                works = True        # transient domain gone: the guest panicked and reset
                break
            time.sleep(0.25)
        if not works:
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass
        self.state.journal.removed(res)
        return "kvm" if works else "qemu"

    # ------------------------------------------------------------------ networks
    def _create_network(self, name: str, pod: int | None, purpose: str, uri: str) -> None:
        libvirt = _libvirt()
        conn = self.conn(uri)
        try:
            conn.networkLookupByName(name)
            raise LabStateError(f"libvirt network {name} already exists on {uri}",
                                leftover_hint(self.lab))
        except libvirt.libvirtError:
            pass
        self.state.journal.will_create(Resource("network", name, pod, {"uri": uri}))
        net = conn.networkDefineXML(lx.render_network(self.lab, name, purpose))
        net.create()

    # ------------------------------------------------------------------ domains
    def _create_domain(self, pod: int | None, node: str, kind: str, image: str,
                       nics: list[lx.Nic]) -> None:
        libvirt = _libvirt()
        uri = self.uri_of(pod, node)
        conn = self.conn(uri)
        name = lx.domain_name(self.lab, pod, node)
        try:
            conn.lookupByName(name)
            raise LabStateError(f"libvirt domain {name} already exists on {uri}",
                                leftover_hint(self.lab))
        except libvirt.libvirtError:
            pass
        # The image in the host's pool (uploaded the first time), a linked clone of its disk
        # there: every path of the domain is on its host, none on this machine.
        img = self.storage.image(uri, image)
        disk, console_log = self.storage.node_disk(uri, pod, name, img)
        dtype = self.domain_type(uri)
        cmdline = img.cmdline + (TCG_CMDLINE if dtype == "qemu" else "")
        xml = lx.render_domain(
            lab=self.lab, pod=pod, node=node, kind=kind, image=img.name,
            domain_type=dtype, memory_mib=MEMORY_MIB.get(kind, 256), vcpus=1,
            kernel=img.kernel, initrd=img.initrd, cmdline=cmdline, disk=disk,
            console_log=console_log, nics=nics)
        # A copy of what was defined, for the trainer (the lab's directory, on this machine).
        d = self.node_dir(pod, node)
        if not d.exists():
            self.state.journal.will_create(Resource("dir", str(d), pod))
        d.mkdir(parents=True, exist_ok=True)
        (d / "domain.xml").write_text(xml)
        self.state.journal.will_create(Resource("domain", name, pod, {"uri": uri}))
        dom = conn.defineXML(xml)
        dom.create()

    def _wait_agent(self, pod: int | None, node: str) -> QgaTransport:
        """Wait for the guest agent, then for systemd to finish booting."""
        t = self.transport(pod, node)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not t.ping():
            if time.monotonic() > deadline:
                # The console log is a volume on the VM's host: read back through libvirt.
                tail = self.storage.tail(self.uri_of(pod, node),
                                         f"{lx.domain_name(self.lab, pod, node)}.console.log")
                raise CommandFailed(f"VM {node} ({'ISP' if pod is None else f'pod {pod}'}) has no "
                                    f"guest agent after {BOOT_TIMEOUT:.0f} s:\n{tail}")
            time.sleep(1)
        left = max(5.0, deadline - time.monotonic())
        res = t.run(["systemctl", "is-system-running", "--wait"], timeout=left)
        if res.text not in ("running", "degraded"):
            raise CommandFailed(f"VM {node}: systemd did not finish booting: {res.text or res.stderr}")
        return t

    def _identity(self, pod: int | None, node: NodePlan | None, name: str) -> None:
        """Hostname and hosts file, written at first boot (what cloud-init does)."""
        t = self.transport(pod, name)
        fqdn = node.fqdn if node and node.fqdn else name
        where = "upstream ISP" if pod is None else f"pod {pod}"
        t.write_file("/etc/hostname", f"{name}\n")
        t.write_file("/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{fqdn} {name}\n"
                                   f"# {where} of lab {self.lab}\n")
        t.run(["hostname", name])

    # ------------------------------------------------------------------ upstream
    def create_upstream(self) -> None:
        """Per hypervisor in use: its pods' WAN networks and an ISP VM, which boots while the
        pods are created (see ``ready``). Placement is kept in the lab state."""
        if self.state.exists and self.placement:
            self.state.data.setdefault("backend_options", {})["placement"] = \
                {str(k): v for k, v in self.placement.items()}
            self.state.data["backend_options"]["connect"] = self.uri
            self.state.save()
        for node, uri in self.upstream_uris().items():
            pods = self.pods_on(uri)
            for n in pods:
                self._create_network(lx.network_name(self.lab, n, "wan"), None, f"WAN du pod {n}", uri)
            self._create_domain(None, node, "isp", self.plan.upstream.image, lx.isp_nics(self.plan, pods))
            self._booting[(None, node)] = functools.partial(self._configure_isp, node, pods)

    def ready(self, pod: int | None, node: str) -> None:
        """Wait for a VM this backend started to boot, then finish it (identity, ISP network).

        VMs boot in parallel; the wait happens at first use (provisioning asks for every
        node), in the caller's thread, so Ctrl-C or a failure stops it at once."""
        finish = self._booting.get((pod, node))
        if finish is None:
            return
        self._wait_agent(pod, node)
        self._identity(pod, None if pod is None else self.plan.pod(pod).node(node), node)
        if finish is not True:
            finish()
        self._booting.pop((pod, node), None)

    def _configure_isp(self, node: str, pods: list[int]) -> None:
        """The ISP's public addresses (on lo) and one WAN address per pod, found by MAC."""
        up = self.plan.upstream
        lines = ["auto lo:tai", "iface lo:tai inet static", f"  address {up.resolver}/32"]
        lines += [f"  up ip addr add {s.address}/32 dev lo" for s in up.sites if s.address != up.resolver]
        script = ["set -e", "mkdir -p /etc/network/interfaces.d"]
        script.append("cat > /etc/network/interfaces.d/isp-public <<'EOF'\n" + "\n".join(lines) + "\nEOF")
        served = [p for p in self.plan.pods if p.number in pods]
        for p, nic in zip(served, lx.isp_nics(self.plan, pods)):
            script += [
                f"dev=$(ip -o link | grep -i 'link/ether {nic.mac}' | cut -d: -f2 | tr -d ' ')",
                '[ -n "$dev" ]',
                f"printf 'auto %s\\niface %s inet static\\n  address {p.wan.isp_address}\\n' \"$dev\" \"$dev\""
                f" > /etc/network/interfaces.d/wan-pod{p.number}",
            ]
        script += ["cat > /etc/network/interfaces <<'EOF'\nauto lo\niface lo inet loopback\n\n"
                   "source /etc/network/interfaces.d/*\nEOF", "ifup -a"]
        res = self.transport(None, node).run(["/bin/sh", "-c", "\n".join(script)], timeout=120)
        if not res.ok:
            raise CommandFailed(f"ISP network setup failed: {res.stderr.strip() or res.stdout.strip()}")

    # ------------------------------------------------------------------ pods
    def create_pod(self, pod: PodPlan) -> None:
        uri = self.uri_of(pod.number)
        for v in pod.vlans:
            self._create_network(lx.network_name(self.lab, pod.number, v.name), pod.number,
                                 f"pod {pod.number}, VLAN {v.name} ({v.id})", uri)
        for node in self.vm_nodes(pod):
            self._create_domain(pod.number, node.name, node.kind, node.image or "",
                                lx.node_nics(self.plan, pod, node))
            self._booting[(pod.number, node.name)] = True     # finished by ready()

    # ------------------------------------------------------------------ removal
    def _remove(self, res: Resource) -> None:
        libvirt = _libvirt()
        uri = (res.data or {}).get("uri", self.uri)
        if res.kind == "domain":
            try:
                dom = self.conn(uri).lookupByName(res.name)
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                      | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        elif res.kind == "network":
            try:
                net = self.conn(uri).networkLookupByName(res.name)
                if net.isActive():
                    net.destroy()
                net.undefine()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                    raise
        elif res.kind in ("volume", "pool"):
            self.storage.remove(res)
        elif res.kind == "file":
            Path(res.name).unlink(missing_ok=True)
        elif res.kind == "dir":
            shutil.rmtree(res.name, ignore_errors=True)
        self.state.journal.removed(res)

    def _teardown(self, resources: list[Resource]) -> list[str]:
        order = {"domain": 0, "network": 1, "volume": 2, "pool": 3, "file": 4, "dir": 5}
        doms = [r for r in resources if r.kind == "domain"]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._remove, doms))
        for r in sorted((r for r in resources if r.kind != "domain"), key=lambda r: order.get(r.kind, 9)):
            self._remove(r)
        return [f"{r.kind} {r.name}" for r in resources]

    def destroy_pod(self, pod: int) -> None:
        self._teardown([r for r in reversed(self.state.journal.live()) if r.pod == pod])
        shutil.rmtree(self.state.dir / f"pods/{pod}", ignore_errors=True)

    def destroy_all(self) -> list[str]:
        self._booting.clear()
        return self._teardown(list(reversed(self.state.journal.live())))

    # ------------------------------------------------------------------ phases
    def _wan_nic(self, pod: int) -> tuple[lx.Nic, str]:
        p = self.plan.pod(pod)
        router = next((n for n in p.nodes if any(i.segment.kind == "upstream" for i in n.interfaces)), None)
        if router is None:
            raise NotFoundError(f"pod {pod} has no node on the upstream")
        nic = next(n for n, i in zip(lx.node_nics(self.plan, p, router), router.interfaces)
                   if i.segment.kind == "upstream")
        return nic, router.name

    def set_upstream(self, pod: int, up: bool) -> None:
        libvirt = _libvirt()
        nic, router = self._wan_nic(pod)
        dom = self.domain(pod, router)
        flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
        dom.updateDeviceFlags(lx.link_xml(nic, up), flags)

    def upstream_is_up(self, pod: int) -> bool:
        nic, router = self._wan_nic(pod)
        try:
            dom = self.domain(pod, router)
            if not dom.isActive():
                return False
            root = ET.fromstring(dom.XMLDesc(0))
        except Exception:  # noqa: BLE001 — no VM, no link
            return False
        for iface in root.iter("interface"):
            m = iface.find("mac")
            if m is not None and m.get("address", "").lower() == nic.mac:
                link = iface.find("link")
                return link is None or link.get("state", "up") == "up"
        return False

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, pod: PodPlan, name: str) -> None:
        """Internal snapshot (disk and memory) of every running VM of the pod, replacing one
        of the same name."""
        libvirt = _libvirt()
        for node in self.vm_nodes(pod):
            dom = self.domain(pod.number, node.name)
            try:
                dom.snapshotLookupByName(name).delete(0)
            except libvirt.libvirtError:
                pass
            dom.snapshotCreateXML(lx.render_snapshot(name, f"tai-lab {self.lab} pod {pod.number}"), 0)

    def snapshots(self, pod: int) -> list[str]:
        try:
            names = [set(self.domain(pod, n.name).snapshotListNames(0))
                     for n in self.vm_nodes(self.plan.pod(pod))]
        except (LabStateError, KeyError):
            return []
        return sorted(set.intersection(*names)) if names else []

    def revert(self, pod: PodPlan, name: str) -> None:
        libvirt = _libvirt()
        if name not in self.snapshots(pod.number):
            raise NotFoundError(f"pod {pod.number} has no snapshot {name!r}",
                                f"snapshots: {', '.join(self.snapshots(pod.number)) or '(none)'}")
        started = time.monotonic()

        def one(node: NodePlan) -> None:
            dom = self.domain(pod.number, node.name)
            dom.revertToSnapshot(dom.snapshotLookupByName(name),
                                 libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one, self.vm_nodes(pod)))
        reverted = time.monotonic()
        # The guests resume with their clock where the snapshot left it: set it again.
        for node in self.vm_nodes(pod):
            self._sync_clock(pod.number, node.name)
        self.last_timings = {"revert": round(reverted - started, 3),
                             "clock": round(time.monotonic() - reverted, 3)}

    # ------------------------------------------------------------------ power
    def stop_pod(self, pod: PodPlan) -> None:
        """ACPI shutdown of every VM of the pod (power cut after a while); networks stay."""
        libvirt = _libvirt()
        doms = [self.domain(pod.number, n.name) for n in self.vm_nodes(pod)]
        for dom in doms:
            if dom.isActive():
                try:
                    dom.shutdown()
                except libvirt.libvirtError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(d.isActive() for d in doms) and time.monotonic() < deadline:
            time.sleep(0.5)
        for dom in doms:
            if dom.isActive():
                dom.destroy()

    def start_pod(self, pod: PodPlan) -> None:
        """Boot the VMs that are off, and wait for their guest agents."""
        started = []
        for node in self.vm_nodes(pod):
            dom = self.domain(pod.number, node.name)
            if not dom.isActive():
                dom.create()
                started.append(node.name)
        for name in started:
            self._wait_agent(pod.number, name)
            self._sync_clock(pod.number, name)

    def _sync_clock(self, pod: int, node: str) -> None:
        t = self.transport(pod, node)
        try:
            t.agent("guest-set-time", {"time": time.time_ns()}, timeout=10)
        except AgentError:
            t.run(["date", "-u", "-s", f"@{time.time():.0f}"], timeout=10)

    # ------------------------------------------------------------------ access
    def transport(self, pod: int | None, node: str) -> QgaTransport:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            raise NotFoundError(f"{node} is a network device: on VMs it is a libvirt network, "
                                "not a machine")
        return QgaTransport(node, self.domain(pod, node))

    def node_running(self, pod: int | None, node: str) -> bool:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            libvirt = _libvirt()
            p = self.plan.pod(pod)
            try:
                return all(self.conn(self.uri_of(pod)).networkLookupByName(n).isActive()
                           for n in lx.pod_networks(self.plan, p))
            except libvirt.libvirtError:
                return False
        try:
            return bool(self.domain(pod, node).isActive())
        except LabStateError:
            return False

    def ansible_host_vars(self, pod: int | None, node: str) -> dict:
        self.ready(pod, node)
        return {
            # The connection copies modules with the guest agent: an absolute path, no "~".
            "ansible_remote_tmp": "/root/.ansible/tmp",
            "ansible_connection": "community.libvirt.libvirt_qemu",
            "ansible_host": lx.domain_name(self.lab, pod, node),
            "ansible_libvirt_uri": self.uri_of(pod, node),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
