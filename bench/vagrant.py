"""Vagrant's side of the libvirt bench (issue 4): the same pod's machines with vagrant-libvirt.

Called by ``bench/libvirt.py`` in the same run, on the same image: the box
``tai-lab/debian-12`` is tai-lab's own Debian 12 VM image (``tai-lab image build
debian-12-vagrant``), brought up by the project's ``Vagrantfile`` (used in place:
``VAGRANT_CWD`` = the project, ``VAGRANT_DOTFILE_PATH`` and ``VAGRANT_HOME`` in a temporary
directory) for pod 1 of scenarios/tai-mini-vm.yaml (its router and its client), lab name
``<lab>v`` so that nothing collides with tai-lab's own lab of the bench.

Measured: ``vagrant up`` of the pod (each VM's boot to SSH read from Vagrant's output, the
upload of the box volume into the pool apart), ``vagrant snapshot save``, then per round a
change inside the client and ``vagrant snapshot restore --no-provision`` of the pod (a
libvirt revert of each running domain to its internal snapshot, RAM included: the same
mechanism as tai-lab's reset), checked undone over SSH; the disk of the pod's volumes.

Everything created is named (recorded in ``<tmp>/created.json`` before it exists) and
removed at the end: ``vagrant destroy -f``, then whatever of those names is left (domains,
networks, the storage pool ``tai-<lab>v-pool`` and its volumes), then the directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
BOX_IMAGE = "debian-12-vagrant"


def known_domain_type() -> str | None:
    """KVM or TCG if already known (forced, or probed by tai-lab since the host booted)."""
    if os.environ.get("TAI_LAB_DOMAIN_TYPE") in ("kvm", "qemu"):
        return os.environ["TAI_LAB_DOMAIN_TYPE"]
    from tai_lab.backends.libvirt.connection import DEFAULT_URI
    from tai_lab.backends.libvirt.machines import _PROBE_CACHE
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    cache = json.loads(_PROBE_CACHE.read_text()) if _PROBE_CACHE.is_file() else {}
    return cache.get(f"{DEFAULT_URI}|{boot_id}")


def unavailable() -> str | None:
    """Why Vagrant cannot be measured here, or None."""
    if shutil.which("vagrant") is None:
        return "vagrant is not installed (scripts/install-host-deps.sh installs vagrant and vagrant-libvirt)"
    from tai_lab.images import vagrant as images_vagrant
    from tai_lab.errors import TaiLabError
    try:
        images_vagrant.box(BOX_IMAGE)
    except TaiLabError as exc:
        return str(exc)
    with tempfile.TemporaryDirectory(prefix="tai-bench-vagrant-") as home:
        proc = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True,
                              env=dict(os.environ, VAGRANT_HOME=home, VAGRANT_CHECKPOINT_DISABLE="1"))
    if "vagrant-libvirt" not in proc.stdout:
        return "the vagrant-libvirt plugin is not installed (Debian package vagrant-libvirt)"
    return None


class VagrantPod:
    """Pod 1 of tai-mini-vm under Vagrant, in a temporary directory; ``close()`` removes it all."""

    def __init__(self, lab: str, domain_type: str, progress: Callable[[str], None] = print,
                 suffix: str = "v") -> None:
        from tai_lab.images import vagrant as images_vagrant
        from tai_lab.scenario import load_plan
        from tai_lab.backends.libvirt.export import export
        self.progress = progress
        self.lab = f"{lab}{suffix}"
        self.tmp = Path(tempfile.mkdtemp(prefix="tai-bench-vagrant-"))
        scenario = self.tmp / "scenario.yaml"
        scenario.write_text(re.sub(r"^lab: .*$", f"lab: {self.lab}",
                                   (ROOT / "scenarios/tai-mini-vm.yaml").read_text(), count=1, flags=re.M))
        plan = export(load_plan(str(scenario), pods=1))
        self.machines = [m["name"] for m in plan["machines"] if m["pod"] == 1]
        self.plan = plan
        self.client = next(m["name"] for m in plan["machines"] if m["pod"] == 1 and m["kind"] == "client")
        nets = {i["network"] for m in plan["machines"] if m["pod"] == 1 for i in m["interfaces"]}
        self.pattern = f"/^tai-{self.lab}-p1-/"
        self.pool = f"tai-{self.lab}-pool"
        self.created = {"domains": self.machines,
                        "networks": sorted(nets) + [f"tai-{self.lab}-vagrant-mgmt"],
                        "pool": self.pool}
        assert all(n.startswith(f"tai-{self.lab}-") for n in [*self.machines, *self.created["networks"], self.pool])
        (self.tmp / "created.json").write_text(json.dumps(self.created, indent=2))
        self.box = images_vagrant.box(BOX_IMAGE)
        self.env = dict(
            os.environ, VAGRANT_HOME=str(self.tmp / "vagrant.d"), VAGRANT_CHECKPOINT_DISABLE="1",
            VAGRANT_CWD=str(ROOT), VAGRANT_DOTFILE_PATH=str(self.tmp / "dot"),
            VAGRANT_DEFAULT_PROVIDER="libvirt", TAI_LAB_SCENARIO=str(scenario), TAI_LAB_PODS="1",
            TAI_LAB_CMD=f"env PYTHONPATH={ROOT} {sys.executable} -m tai_lab.cli",
            TAI_LAB_VAGRANT_DRIVER=domain_type, TAI_LAB_VAGRANT_POOL=self.pool,
            TAI_LAB_IMAGES=str(self.box.box.parent.parent))
        self.pool_dir = self.tmp / "pool"

    # ------------------------------------------------------------ commands
    def vagrant(self, *args: str, timeout: float = 1800) -> tuple[float, list[tuple[float, str]]]:
        """Run vagrant; returns its wall time and its output lines with their time from the start."""
        t0 = time.monotonic()
        proc = subprocess.Popen(["vagrant", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        lines: list[tuple[float, str]] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - t0, line.rstrip()))
        rc = proc.wait(timeout=timeout)
        wall = time.monotonic() - t0
        if rc != 0:
            tail = "\n".join(text for _t, text in lines[-25:])
            raise RuntimeError(f"vagrant {' '.join(args)} failed ({rc}):\n{tail}")
        return wall, lines

    def ssh(self, machine: str, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["vagrant", "ssh", machine, "-c", command], env=self.env,
                              capture_output=True, text=True, timeout=600)

    # ------------------------------------------------------------ bench
    def create_pool(self) -> None:
        self.pool_dir.mkdir()
        for cmd in (["pool-define-as", self.pool, "dir", "--target", str(self.pool_dir)],
                    ["pool-build", self.pool], ["pool-start", self.pool]):
            subprocess.run(["virsh", "-q", *cmd], check=True, capture_output=True)

    def up(self) -> dict[str, float]:
        wall, _ = self.vagrant("box", "add", str(self.box.catalog))
        res = {"box_add": wall}
        self.progress(f"vagrant: box {self.box.name} {self.box.version} added in {wall:.0f} s")
        wall, lines = self.vagrant("up", "--provider=libvirt", "--no-provision", self.pattern)
        res["up"] = wall
        uploaded = next((t for t, text in lines if "Creating image (snapshot of base box volume)" in text), 0.0)
        start = next((t for t, text in lines if "Uploading base box image" in text), uploaded)
        res["upload"] = uploaded - start
        for m in self.machines:
            t_start = next((t for t, text in lines if f"{m}: Starting domain" in text), None)
            t_ready = next((t for t, text in lines if f"{m}: Machine booted and ready" in text), None)
            if t_start is not None and t_ready is not None:
                res[f"boot:{m}"] = t_ready - t_start
        self.progress(f"vagrant: up of {', '.join(self.machines)} in {wall:.0f} s "
                      f"(box volume upload {res['upload']:.0f} s)")
        return res

    def save(self) -> float:
        wall, _ = self.vagrant("snapshot", "save", self.pattern, "baseline")
        return wall

    def restore_round(self) -> float:
        """A change in the client, the pod restored, the change checked gone; the restore's time."""
        proc = self.ssh(self.client, "sudo sh -c 'echo bench > /root/change && sync'")
        if proc.returncode != 0:
            raise RuntimeError(f"vagrant ssh {self.client}: {proc.stdout}{proc.stderr}")
        wall, _ = self.vagrant("snapshot", "restore", "--no-provision", self.pattern, "baseline")
        proc = self.ssh(self.client, "sudo test ! -e /root/change")
        if proc.returncode != 0:
            raise RuntimeError(f"after `vagrant snapshot restore`, the change is still in {self.client} "
                               f"(or SSH fails): {proc.stdout}{proc.stderr}")
        return wall

    def status(self) -> float:
        """Vagrant's fixed cost on this project: start, Vagrantfile (tai-lab export), state."""
        wall, _ = self.vagrant("status", self.pattern)
        return wall

    def disk_mib(self) -> float:
        """The pod's own volumes (qcow2 overlays, internal snapshot with RAM), not the shared box."""
        files = [self.pool_dir / f"{m}.img" for m in self.machines]
        return sum(f.stat().st_blocks * 512 for f in files if f.exists()) / 2 ** 20

    # ------------------------------------------------------------ cleanup
    def close(self) -> list[str]:
        """``vagrant destroy -f``, then exactly the recorded names that are left; returns them."""
        try:
            self.vagrant("destroy", "-f", self.pattern, timeout=600)
        except Exception as exc:   # noqa: BLE001 — the names below are removed whatever happened
            self.progress(f"vagrant destroy: {exc}")
        leftovers = []

        def virsh(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["virsh", "-q", *args], capture_output=True, text=True)

        for d in self.created["domains"]:
            if virsh("dominfo", d).returncode == 0:
                leftovers.append(f"domain {d}")
                virsh("destroy", d)
                for snap in virsh("snapshot-list", d, "--name").stdout.split():
                    virsh("snapshot-delete", d, snap, "--metadata")
                virsh("undefine", d)
        for n in self.created["networks"]:
            if virsh("net-info", n).returncode == 0:
                leftovers.append(f"network {n}")
                virsh("net-destroy", n)
                virsh("net-undefine", n)
        if virsh("pool-info", self.pool).returncode == 0:
            for line in virsh("vol-list", self.pool).stdout.splitlines():
                if line.split():
                    virsh("vol-delete", line.split()[0], "--pool", self.pool)
            virsh("pool-destroy", self.pool)
            virsh("pool-undefine", self.pool)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return leftovers


def measure(lab: str, domain_type: str, rounds: int, progress: Callable[[str], None] = print) -> dict:
    """The Vagrant numbers of the bench (lists of seconds, MiB), everything removed after."""
    pod = VagrantPod(lab, domain_type, progress)
    res: dict = {"restore": [], "machines": pod.machines}
    try:
        pod.create_pool()
        res.update(pod.up())
        res["save"] = pod.save()
        res["disk"] = pod.disk_mib()
        res["status"] = pod.status()
        for i in range(rounds):
            res["restore"].append(pod.restore_round())
            progress(f"vagrant: snapshot restore of the pod, round {i + 1}: {res['restore'][-1]:.1f} s")
    finally:
        left = pod.close()
        if left:
            progress(f"vagrant: removed what `vagrant destroy` left: {', '.join(left)}")
    return res
