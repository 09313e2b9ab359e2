"""The libvirt backend's storage (pools, uploads, linked clones, removal) against a fake libvirt.

The real thing runs in tests/integration/test_libvirt_multihost.py (a pool on a second host
reached by qemu+ssh); here: what is recorded before it is created, one upload per host and
image even from parallel pods, the clones' backing store, and what removal leaves.
"""
from __future__ import annotations

import struct
import threading
import time
import xml.etree.ElementTree as ET

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed (pip install '.[libvirt]')")

from tai_lab.images import vm as images_vm
from tai_lab.backends.libvirt import storage as ls
from tai_lab.backends.libvirt import xml as lx
from tai_lab.errors import LabStateError
from tai_lab.state import Journal, Resource

LOCAL = "qemu:///system"
REMOTE = "qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k"
VSIZE = 3 * 2**30


class Err(libvirt.libvirtError):
    def __init__(self, code: int, msg: str = "fake") -> None:
        Exception.__init__(self, msg)
        self.err = [code, 0, msg, 2, "", None, None, 0, 0]


class FakeStream:
    def __init__(self) -> None:
        self.target = None
        self.source = b""
        self.finished = False

    def send(self, data: bytes) -> int:
        self.target.data += data
        return len(data)

    def sendAll(self, handler, opaque) -> None:
        while chunk := handler(self, 256 * 1024, opaque):
            self.send(chunk)

    def recvAll(self, handler, opaque) -> None:
        handler(self, self.source, opaque)

    def finish(self) -> None:
        self.finished = True


class FakeVol:
    def __init__(self, pool: FakePool, xml: str) -> None:
        root = ET.fromstring(xml)
        self.pool, self.xml, self.vname = pool, xml, root.find("name").text
        self.data = b""

    def name(self) -> str:
        return self.vname

    def path(self) -> str:
        return f"{self.pool.target}/{self.vname}"

    def upload(self, stream: FakeStream, offset: int, length: int, flags: int) -> None:
        time.sleep(0.01)       # a slow upload: other threads would start their own
        stream.target = self

    def download(self, stream: FakeStream, offset: int, length: int, flags: int) -> None:
        stream.source = self.data[offset:]

    def info(self):
        return [0, len(self.data), len(self.data)]

    def delete(self, flags: int) -> None:
        self.pool.conn.log.append(f"vol-delete {self.vname}")
        del self.pool.vols[self.vname]


class FakePool:
    def __init__(self, conn: FakeConn, xml: str) -> None:
        root = ET.fromstring(xml)
        self.conn, self.pname = conn, root.find("name").text
        self.target = root.find("target/path").text
        self.vols: dict[str, FakeVol] = {}
        self.active = False

    def name(self) -> str:
        return self.pname

    def build(self, flags): self.conn.log.append(f"pool-build {self.target}")
    def create(self, flags): self.active = True
    def isActive(self): return self.active
    def refresh(self, flags): self.conn.log.append("pool-refresh")
    def listAllVolumes(self, flags): return list(self.vols.values())
    def destroy(self):
        self.active = False
        self.conn.log.append("pool-destroy")

    def delete(self, flags): self.conn.log.append(f"pool-delete {self.target}")
    def undefine(self):
        self.conn.log.append("pool-undefine")
        del self.conn.pools[self.pname]


    def storageVolLookupByName(self, name: str) -> FakeVol:
        if name not in self.vols:
            raise Err(libvirt.VIR_ERR_NO_STORAGE_VOL)
        return self.vols[name]

    def createXML(self, xml: str, flags: int) -> FakeVol:
        vol = FakeVol(self, xml)
        # Recorded in the journal before libvirt creates it.
        assert ("volume", f"{self.pname}/{vol.vname}") in {r.key for r in self.conn.journal.live()}
        self.vols[vol.vname] = vol
        self.conn.log.append(f"vol-create {vol.vname}")
        return vol


class FakeConn:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.pools: dict[str, FakePool] = {}
        self.log: list[str] = []

    def storagePoolLookupByName(self, name: str) -> FakePool:
        if name not in self.pools:
            raise Err(libvirt.VIR_ERR_NO_STORAGE_POOL)
        return self.pools[name]

    def storagePoolDefineXML(self, xml: str, flags: int) -> FakePool:
        pool = FakePool(self, xml)
        assert ("pool", pool.pname) in {r.key for r in self.journal.live()}
        self.pools[pool.pname] = pool
        return pool

    def newStream(self, flags: int) -> FakeStream:
        return FakeStream()


@pytest.fixture
def image(tmp_path, monkeypatch):
    d = tmp_path / "debian-12-vm"
    d.mkdir()
    head = b"QFI\xfb" + struct.pack(">IQIIQ", 3, 0, 0, 16, VSIZE)
    (d / "disk.qcow2").write_bytes(head + b"D" * 700_000)
    (d / "vmlinuz").write_bytes(b"K" * 3000)
    (d / "initrd.img").write_bytes(b"I" * 5000)
    img = images_vm.VmImage("debian-12-vm", d / "disk.qcow2", d / "vmlinuz", d / "initrd.img", "root=/dev/vda")
    monkeypatch.setattr(images_vm, "image", lambda name: img)
    return img


@pytest.fixture
def world(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    conns = {LOCAL: FakeConn(journal), REMOTE: FakeConn(journal)}
    return journal, conns, ls.Storage("mini", journal, conns.__getitem__)


def test_image_uploaded_once_per_host_even_from_parallel_pods(image, world):
    journal, conns, st = world
    got: list = []
    threads = [threading.Thread(target=lambda u=u: got.append(st.image(u, "debian-12-vm")))
               for u in [LOCAL, REMOTE] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8
    for uri, conn in conns.items():
        (pool,) = conn.pools.values()
        assert pool.pname == lx.pool_name("mini", uri) and pool.active
        assert pool.target == f"{ls.POOL_ROOT}/{pool.pname}"
        assert f"pool-build {pool.target}" in conn.log          # libvirt makes the directory
        assert sorted(pool.vols) == ["debian-12-vm.initrd.img", "debian-12-vm.qcow2", "debian-12-vm.vmlinuz"]
        assert [x for x in conn.log if x.startswith("vol-create")] == [
            "vol-create debian-12-vm.qcow2", "vol-create debian-12-vm.vmlinuz", "vol-create debian-12-vm.initrd.img"]
        # The bytes are the image's, through the stream.
        assert pool.vols["debian-12-vm.qcow2"].data == image.disk.read_bytes()
        assert pool.vols["debian-12-vm.initrd.img"].data == image.initrd.read_bytes()
        h = next(h for h in got if h.disk.startswith(pool.target))
        assert h.kernel == f"{pool.target}/debian-12-vm.vmlinuz" and h.capacity == VSIZE
    uploads = [r for r in journal.records() if r["op"] == "event" and r["kind"] == "upload"]
    assert sorted(u["data"]["uri"] for u in uploads) == sorted([LOCAL, REMOTE])


def test_node_disk_is_a_linked_clone_of_the_uploaded_disk(image, world):
    journal, conns, st = world
    base = st.image(REMOTE, "debian-12-vm")
    disk, log = st.node_disk(REMOTE, 1, "tai-mini-p1-router", base)
    pool = conns[REMOTE].pools[lx.pool_name("mini", REMOTE)]
    root = ET.fromstring(pool.vols["tai-mini-p1-router.qcow2"].xml)
    assert root.find("backingStore/path").text == base.disk
    assert root.find("target/format").get("type") == "qcow2"
    assert int(root.find("capacity").text) == VSIZE
    assert disk == f"{pool.target}/tai-mini-p1-router.qcow2"
    assert log == f"{pool.target}/tai-mini-p1-router.console.log"
    # The pod's volumes are the pod's (a rebuild removes them), the image's belong to the lab.
    pods = {r.name: r.pod for r in journal.live() if r.kind == "volume"}
    assert pods[f"{pool.pname}/tai-mini-p1-router.qcow2"] == 1
    assert pods[f"{pool.pname}/debian-12-vm.qcow2"] is None
    assert conns[LOCAL].pools == {}        # nothing on the host that runs no VM of it


def test_a_pool_this_lab_did_not_record_is_refused(image, world):
    journal, conns, st = world
    name = lx.pool_name("mini", LOCAL)
    conns[LOCAL].pools[name] = FakePool(conns[LOCAL], lx.render_pool("mini", name, "/x", LOCAL))
    with pytest.raises(LabStateError, match="already exists"):
        st.image(LOCAL, "debian-12-vm")
    assert conns[LOCAL].pools[name].vols == {} and journal.live() == []


def test_a_later_command_reuses_the_pool_and_the_upload(image, world, tmp_path):
    journal, conns, st = world
    first = st.image(REMOTE, "debian-12-vm")
    again = ls.Storage("mini", journal, conns.__getitem__)      # e.g. `rebuild`, another process
    assert again.image(REMOTE, "debian-12-vm") == first
    assert [x for x in conns[REMOTE].log if x.startswith("vol-create")].count("vol-create debian-12-vm.qcow2") == 1


def test_console_tail_through_the_stream_and_best_effort(image, world):
    _journal, conns, st = world
    base = st.image(REMOTE, "debian-12-vm")
    st.node_disk(REMOTE, 1, "tai-mini-p1-pc1", base)
    vol = conns[REMOTE].pools[lx.pool_name("mini", REMOTE)].vols["tai-mini-p1-pc1.console.log"]
    vol.data = b"x" * 5000 + b"Kernel panic - not syncing"
    assert st.tail(REMOTE, "tai-mini-p1-pc1.console.log", 100).endswith("Kernel panic - not syncing")
    assert len(st.tail(REMOTE, "tai-mini-p1-pc1.console.log", 100)) == 100
    assert st.tail(REMOTE, "no-such.console.log") == ""
    assert st.tail(LOCAL, "tai-mini-p1-pc1.console.log") == ""          # no pool there


def test_removal_leaves_no_volume_pool_or_directory(image, world):
    journal, conns, st = world
    base = st.image(REMOTE, "debian-12-vm")
    st.node_disk(REMOTE, 1, "tai-mini-p1-router", base)
    pool = conns[REMOTE].pools[lx.pool_name("mini", REMOTE)]
    pool.vols["stray"] = FakeVol(pool, "<volume><name>stray</name></volume>")   # never recorded
    live = list(reversed(journal.live()))
    for r in [r for r in live if r.kind == "volume"] + [r for r in live if r.kind == "pool"]:
        st.remove(r)
        journal.removed(r)
    log = conns[REMOTE].log
    assert conns[REMOTE].pools == {}
    # The clones before the image they are backed by; the pool emptied, stopped, its directory
    # removed by libvirt, undefined.
    deletes = [x.split()[1] for x in log if x.startswith("vol-delete")]
    assert deletes.index("tai-mini-p1-router.qcow2") < deletes.index("debian-12-vm.qcow2")
    assert "stray" in deletes
    assert log[-3:] == ["pool-destroy", f"pool-delete {pool.target}", "pool-undefine"]
    # Already gone: removing again is fine.
    st.remove(Resource("pool", pool.pname, None, {"uri": REMOTE}))
    st.remove(Resource("volume", f"{pool.pname}/x", 1, {"uri": REMOTE, "pool": pool.pname, "volume": "x"}))


def test_backend_teardown_order(tmp_path, monkeypatch, image):
    """``down``: domains, networks, then volumes, then pools (their directory last)."""
    from tai_lab.backends.libvirt import LibvirtBackend
    from tai_lab.state import LabState
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    state = LabState("mini")
    b = LibvirtBackend(state, None)
    conn = FakeConn(state.journal)
    b.storage.conn = lambda _uri: conn
    base = b.storage.image(REMOTE, "debian-12-vm")
    b.storage.node_disk(REMOTE, 1, "tai-mini-p1-pc1", base)
    removed = b.destroy_all()
    assert state.journal.live() == [] and conn.pools == {}
    kinds = [x.split()[0] for x in removed]
    assert kinds == sorted(kinds, key=["volume", "pool"].index)
    assert removed[-1] == f"pool {lx.pool_name('mini', REMOTE)}"
