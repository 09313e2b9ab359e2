"""The VMs as machines: defined on their host from the image's volumes, booted (KVM when the
host really runs it, else TCG), waited for through the guest agent, given their identity,
powered off and on again, their clock set after a revert."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Literal

from ...errors import CommandFailed, LabStateError, leftover_hint, NotFoundError
from ...plan import NodePlan, PodPlan
from ...state import LabState, Resource
from ...transports.qga import AgentError, QgaTransport
from . import connection
from . import xml as lx
from .placement import MEMORY_MIB, Placement
from .storage import Storage

# Under TCG on a loaded host, five VMs booting at once take minutes: be patient.
BOOT_TIMEOUT = float(os.environ.get("TAI_LAB_VM_BOOT_TIMEOUT", "900"))
STOP_TIMEOUT = float(os.environ.get("TAI_LAB_VM_STOP_TIMEOUT", "120"))
_PROBE_CACHE = Path("/run/tai-lab/kvm-probe.json")
# Under TCG (emulation) the guest kernel's speculative-execution mitigations (page-table
# isolation above all) cost a lot of emulated work and protect nothing of the host; the
# timer check is the usual hang of emulated boots. Not added under KVM.
TCG_CMDLINE = " no_timer_check mitigations=off"


class Machines(Placement):
    """Domains of the lab, on the host each one is placed on."""

    lab: str
    state: LabState
    storage: Storage
    # VMs started and not yet seen booted: (pod, node) → what finishes its boot: configuring
    # the ISP, or True (finished by ready()).
    _booting: dict[tuple[int | None, str], Callable[[], None] | Literal[True]]

    def domain(self, pod: int | None, node: str):
        libvirt = connection.load()
        name = lx.domain_name(self.lab, pod, node)
        try:
            return self.conn(self.uri_of(pod, node)).lookupByName(name)
        except libvirt.libvirtError:
            where = "the upstream ISP" if pod is None else f"pod {pod}"
            raise LabStateError(f"{node} of {where} has no VM ({name})",
                                "see `tai-lab status`; `tai-lab rebuild --pod N` builds a pod again") from None

    def node_dir(self, pod: int | None, node: str) -> Path:
        return self.state.dir / ("isp" if pod is None else f"pods/{pod}/{node}")

    def vm_nodes(self, pod: PodPlan) -> list[NodePlan]:
        return [n for n in pod.nodes if n.is_container]

    def transport(self, pod: int | None, node: str) -> QgaTransport:
        if pod is not None and not self.plan.pod(pod).node(node).is_container:
            raise NotFoundError(f"{node} is a network device: on VMs it is a libvirt network, "
                                "not a machine")
        return QgaTransport(node, self.domain(pod, node))

    # ------------------------------------------------------------------ KVM or TCG
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
        libvirt = connection.load()
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

    # ------------------------------------------------------------------ definition and boot
    def _create_domain(self, pod: int | None, node: str, kind: str, image: str,
                       nics: list[lx.Nic]) -> None:
        libvirt = connection.load()
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

    # ------------------------------------------------------------------ power
    def stop_pod(self, pod: PodPlan) -> None:
        """ACPI shutdown of every VM of the pod (power cut after a while); networks stay."""
        libvirt = connection.load()
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
