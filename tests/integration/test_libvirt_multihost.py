"""Several hypervisors for real: a second libvirt host reached through qemu+ssh on loopback.

An sshd of the test (own config, host key and client key, 127.0.0.1 only) stands for the
second hypervisor's SSH; behind it is this host's libvirtd, so the VMs are real and every
libvirt call of the pod goes through qemu+ssh. Lab ``tvirt2``: 1 pod (router, client) and
its ISP on the "remote" host, the local host too small for anything. Nothing is shared by
path: the remote host gets the lab's own storage pool, the image uploaded into it through
the connection and the VMs' disks as volumes there.
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import lab_name

from tai_lab.errors import PrerequisiteError

from .test_libvirt import _skip_reason

ROOT = Path(__file__).resolve().parents[2]
LAB = lab_name("tvirt2")
PREFIX = f"tai-{LAB}-"

pytestmark = pytest.mark.skipif(
    _skip_reason() is not None or shutil.which("/usr/sbin/sshd") is None,
    reason=_skip_reason() or "openssh-server is not installed (scripts/install-host-deps.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_uri(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    cfg = d / "sshd_config"
    cfg.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
                   f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                   "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                   f"StrictModes no\nPidFile {d / 'sshd.pid'}\n")
    Path("/run/sshd").mkdir(exist_ok=True)     # privilege separation directory
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
    uri = (f"qemu+ssh://root@127.0.0.1:{port}/system?keyfile={d / 'client'}&no_verify=1"
           f"&known_hosts={d / 'known_hosts'}")
    try:
        deadline = time.monotonic() + 30
        while True:
            ok = subprocess.run(["virsh", "-c", uri, "version"], capture_output=True, text=True)
            if ok.returncode == 0:
                break
            assert time.monotonic() < deadline, ok.stderr + (d / "sshd.log").read_text()
            time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _scenario(tmp_path_factory) -> Path:
    text = (ROOT / "scenarios/tai-mini-vm.yaml").read_text()
    path = tmp_path_factory.mktemp("scenario") / "tvirt2.yaml"
    path.write_text(re.sub(r"^lab: .*$", f"lab: {LAB}", text, count=1, flags=re.M))
    return path


def _inventory(tmp_path: Path, uri: str, remote_mib: int, remote_vcpus: int = 4) -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"hosts:\n  - {{name: local, uri: 'qemu:///system', memory_mib: 300, vcpus: 1}}\n"
                   f"  - {{name: salle-b, uri: '{uri}', memory_mib: {remote_mib}, vcpus: {remote_vcpus}}}\n")
    return inv


def _ours() -> list[str]:
    """Domains, networks, storage pools and pool directories of the lab on this libvirtd."""
    out = []
    for what in ("list", "net-list", "pool-list"):
        out += [n for n in subprocess.run(["virsh", "-c", "qemu:///system", what, "--all", "--name"],
                                          capture_output=True, text=True).stdout.split() if n.startswith(PREFIX)]
    pools = Path("/var/lib/tai-lab/pools")
    out += [str(d) for d in pools.glob(f"{PREFIX}*")] if pools.is_dir() else []
    return out


def test_refused_up_front_with_numbers(lab_home, ssh_uri, tmp_path, tmp_path_factory):
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    with pytest.raises(PrerequisiteError) as exc:
        Lab.up(_scenario(tmp_path_factory), pods=2, backend="libvirt",
               backend_options={"inventory": str(_inventory(tmp_path, ssh_uri, 900))})
    from tai_lab.lang import in_lang
    msg = exc.value.message
    assert "576 Mio" in msg and "salle-b" in msg and "local : " in msg          # the trainer's French
    en = in_lang(msg, "en")
    assert "576 MiB" in en and "salle-b" in en and "local: " in en
    assert _ours() == [] and LAB not in existing_labs()


def test_pod_placed_on_the_second_host_and_driven_there(lab_home, ssh_uri, tmp_path, tmp_path_factory):
    from tai_lab.backends.libvirt import xml as lx
    from tai_lab.hosts import Host, measure_uri
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    # Generous limits: other labs' VMs on this same libvirtd count as used.
    inv = _inventory(tmp_path, ssh_uri, 16384, 32)
    try:
        lab = Lab.up(_scenario(tmp_path_factory), pods=1, backend="libvirt", progress=print,
                     backend_options={"inventory": str(inv)})
        lab = Lab(LAB)                                  # a later command: placement from the state
        assert lab.backend.placement == {1: ssh_uri} and lab.backend.uri == ssh_uri
        res = lab.exec(1, "pc1", ["hostname"])
        assert res.ok and res.text == "pc1"
        # Every live domain of the lab was reached through the remote URI.
        conn = lab.backend.conn(ssh_uri)
        assert {d.name() for d in conn.listAllDomains(0) if d.name().startswith(PREFIX)} == \
            {f"{PREFIX}isp", f"{PREFIX}p1-router", f"{PREFIX}p1-pc1"}
        row = measure_uri(Host("salle-b", ssh_uri, 16384, 32))
        assert row["domains"] >= 3 and row["used_memory_mib"] >= 256 + 576
        # The remote host got the lab's own pool: the image uploaded into it once, the disks
        # (linked clones of it) and console logs as volumes there, used by the domains.
        pool = conn.storagePoolLookupByName(lx.pool_name(LAB, ssh_uri))
        assert pool.isActive()
        target = ET.fromstring(pool.XMLDesc(0)).find("target/path").text
        assert target.startswith("/var/lib/tai-lab/pools/") and Path(target).is_dir()
        pool.refresh(0)
        vols = {v.name(): v for v in pool.listAllVolumes(0)}
        base = vols["debian-12-vm.qcow2"].path()
        assert {"debian-12-vm.vmlinuz", "debian-12-vm.initrd.img"} <= set(vols)
        uploads = [r["data"] for r in lab.state.journal.records() if r.get("kind") == "upload"]
        assert [u["uri"] for u in uploads] == [ssh_uri]        # once for the host, all its VMs
        print("upload to the second host:", uploads)
        for name in ("isp", "p1-router", "p1-pc1"):
            dom = ET.fromstring(conn.lookupByName(PREFIX + name).XMLDesc(0))
            disk = vols[f"{PREFIX}{name}.qcow2"]
            assert dom.find("devices/disk/source").get("file") == disk.path()
            assert dom.find("os/kernel").text == vols["debian-12-vm.vmlinuz"].path()
            assert dom.find("os/initrd").text == vols["debian-12-vm.initrd.img"].path()
            assert dom.find("devices/serial/source").get("path") == vols[f"{PREFIX}{name}.console.log"].path()
            vol = ET.fromstring(disk.XMLDesc(0))
            assert vol.find("target/format").get("type") == "qcow2"
            assert vol.find("backingStore/path").text == base
        # The console is read back through the connection (what a boot timeout shows).
        assert lab.backend.storage.tail(ssh_uri, f"{PREFIX}p1-pc1.console.log").strip()
        # Nothing of the lab's disks on this side, nor a pool for the host that got no pod.
        assert not list(lab.state.dir.rglob("*.qcow2"))
        assert lx.pool_name(LAB, "qemu:///system") not in _ours()
        lab.exec(1, "pc1", ["sh", "-c", "echo x > /root/change"])
        assert all(r.passed for r in lab.reset(pod=1))
        print("reset timings:", lab.backend.last_timings)
        assert not lab.exec(1, "pc1", ["test", "-e", "/root/change"]).ok
        assert lab.backend.upstream_is_up(1)
    finally:
        if LAB in existing_labs():
            Lab.down(LAB)
    assert _ours() == []
