"""Storage of the libvirt backend: one storage pool per lab and hypervisor, nothing shared.

No disk of a lab has to exist at the same path on a hypervisor as on the machine running
tai-lab (no shared storage). On every host it uses, the lab has its own ``dir`` storage
pool ``tai-<lab>-pool-<host>`` whose directory (``/var/lib/tai-lab/pools/<pool>`` on that
host, ``TAI_LAB_POOL_DIR`` to change it) is made by libvirt's pool build, there:

* the VM image's ``disk.qcow2``, kernel and initramfs are uploaded into it once (volume
  upload through a libvirt stream: the bytes travel on the libvirt connection, e.g.
  ``qemu+ssh``), as ``<image>.qcow2``, ``<image>.vmlinuz``, ``<image>.initrd.img``;
* each VM's disk is a qcow2 volume ``<domain>.qcow2`` backed by the uploaded disk (a
  linked clone: libvirt creates it on the host), and its serial console log is a volume
  ``<domain>.console.log``, read back through a stream when a boot fails.

Uploads are per lab (a base image is uploaded once per host and lab, and removed with the
lab): ``down`` removes exactly what the lab created. Every pool and volume is recorded in
the lab journal before it is created, with the URI of its host.
"""
from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from ...images import vm as images_vm
from ...errors import CommandFailed, LabStateError, leftover_hint
from ...state import Journal, Resource
from . import connection, removal
from . import xml as lx

POOL_ROOT = os.environ.get("TAI_LAB_POOL_DIR", "/var/lib/tai-lab/pools")


@dataclass(frozen=True)
class HostImage:
    """A VM image as uploaded to one host: paths there, as libvirt reports them."""

    name: str
    disk: str
    kernel: str
    initrd: str
    capacity: int        # virtual size of the disk, bytes
    cmdline: str


def qcow2_virtual_size(path: Path) -> int:
    """The disk size a qcow2 file announces (its header), without qemu-img."""
    with open(path, "rb") as f:
        head = f.read(32)
    if len(head) < 32 or head[:4] != b"QFI\xfb":
        raise CommandFailed(f"{path} is not a qcow2 image",
                            "rebuild the VM image: tai-lab image build <name> --force")
    return struct.unpack(">Q", head[24:32])[0]


def pool_path(pool: str) -> str:
    return f"{POOL_ROOT.rstrip('/')}/{pool}"


class Storage:
    """The lab's pools and volumes on each host; ``conn(uri)`` gives the connection."""

    def __init__(self, lab: str, journal: Journal, conn: Callable[[str], Any],
                 progress: Callable[[str], None] = lambda _m: None) -> None:
        self.lab = lab
        self.journal = journal
        self.conn = conn
        self.progress = progress
        self._guard = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._images: dict[tuple[str, str], HostImage] = {}
        self.upload_seconds: dict[tuple[str, str], float] = {}

    def _host_lock(self, uri: str) -> threading.Lock:
        with self._guard:
            return self._host_locks.setdefault(uri, threading.Lock())

    def _recorded(self, kind: str, name: str) -> bool:
        return any(r.key == (kind, name) for r in self.journal.live())

    # ------------------------------------------------------------------ pools
    def pool(self, uri: str):
        """The lab's pool on ``uri``, defined, built and started the first time."""
        with self._host_lock(uri):
            return self._pool(uri)

    def _pool(self, uri: str):
        libvirt = connection.load()
        conn = self.conn(uri)
        name = lx.pool_name(self.lab, uri)
        try:
            pool = conn.storagePoolLookupByName(name)
        except libvirt.libvirtError:
            pool = None
        if pool is not None:
            if not self._recorded("pool", name):
                raise LabStateError(f"libvirt storage pool {name} already exists on {uri}",
                                    leftover_hint(self.lab))
            if not pool.isActive():
                pool.create(0)
            return pool
        path = pool_path(name)
        self.journal.will_create(Resource("pool", name, None, {"uri": uri, "path": path}))
        pool = conn.storagePoolDefineXML(lx.render_pool(self.lab, name, path, uri), 0)
        pool.build(0)          # makes the directory on the host
        pool.create(0)
        return pool

    # ------------------------------------------------------------------ volumes
    def _new_volume(self, uri: str, pool, vol: str, pod: int | None, xml: str):
        name = pool.name()
        self.journal.will_create(Resource("volume", f"{name}/{vol}", pod,
                                          {"uri": uri, "pool": name, "volume": vol}))
        return pool.createXML(xml, 0)

    def image(self, uri: str, image: str) -> HostImage:
        """The VM image ``image`` on host ``uri``: uploaded into the lab's pool the first time."""
        img = images_vm.image(image)
        key = (uri, img.name)
        if key in self._images:
            return self._images[key]
        with self._host_lock(uri):
            if key not in self._images:
                self._images[key] = self._upload_image(uri, img)
        return self._images[key]

    def _upload_image(self, uri: str, img: images_vm.VmImage) -> HostImage:
        libvirt = connection.load()
        pool = self._pool(uri)
        files = [(f"{img.name}.qcow2", img.disk), (f"{img.name}.vmlinuz", img.kernel),
                 (f"{img.name}.initrd.img", img.initrd)]
        paths = []
        started = time.monotonic()
        total = 0
        for vol_name, src in files:
            try:
                vol = pool.storageVolLookupByName(vol_name)
                if not self._recorded("volume", f"{pool.name()}/{vol_name}"):
                    raise LabStateError(f"volume {vol_name} of pool {pool.name()} on {uri} "
                                        "was not created by this lab", "run `tai-lab down` first")
            except libvirt.libvirtError:
                size = src.stat().st_size
                if not total:
                    self.progress(f"{uri}: uploading {img.name} into {pool.name()}")
                vol = self._new_volume(uri, pool, vol_name, None, lx.render_volume(
                    self.lab, vol_name, size, "raw", f"{src.name} of image {img.name}"))
                self._upload(uri, vol, src, size)
                total += size
            paths.append(vol.path())
        if total:
            secs = round(time.monotonic() - started, 2)
            self.upload_seconds[(uri, img.name)] = secs
            self.journal.event("upload", uri=uri, image=img.name, bytes=total, seconds=secs)
            self.progress(f"{uri}: {img.name} uploaded ({total / 2**20:.0f} MiB in {secs:.1f} s)")
        return HostImage(img.name, paths[0], paths[1], paths[2], qcow2_virtual_size(img.disk), img.cmdline)

    def _upload(self, uri: str, vol, src: Path, size: int) -> None:
        stream = self.conn(uri).newStream(0)
        vol.upload(stream, 0, size, 0)
        with open(src, "rb") as f:
            stream.sendAll(lambda _s, n, fh: fh.read(n), f)
        stream.finish()

    def node_disk(self, uri: str, pod: int | None, domain: str, base: HostImage) -> tuple[str, str]:
        """A linked clone of ``base`` and an empty console log for ``domain``: their paths."""
        pool = self.pool(uri)
        disk = self._new_volume(uri, pool, f"{domain}.qcow2", pod, lx.render_volume(
            self.lab, f"{domain}.qcow2", base.capacity, "qcow2", f"disk of {domain}", backing=base.disk))
        log = self._new_volume(uri, pool, f"{domain}.console.log", pod, lx.render_volume(
            self.lab, f"{domain}.console.log", 0, "raw", f"serial console of {domain}"))
        return disk.path(), log.path()

    def tail(self, uri: str, volume: str, nbytes: int = 800) -> str:
        """The end of a volume of the lab's pool on ``uri`` (a console log); "" if unreadable."""
        libvirt = connection.load()
        try:
            conn = self.conn(uri)
            vol = conn.storagePoolLookupByName(lx.pool_name(self.lab, uri)).storageVolLookupByName(volume)
            size = vol.info()[1]          # refreshed from the file by libvirt
            stream = conn.newStream(0)
            vol.download(stream, max(0, size - nbytes), 0, 0)
            chunks: list[bytes] = []
            stream.recvAll(lambda _s, buf, acc: acc.append(buf), chunks)
            stream.finish()
            return b"".join(chunks)[-nbytes:].decode(errors="replace")
        except (libvirt.libvirtError, OSError):
            return ""

    # ------------------------------------------------------------------ removal
    def remove(self, res: Resource) -> None:
        """Remove a recorded pool or volume (already gone: fine)."""
        data = res.data or {}
        conn = self.conn(data["uri"])
        if res.kind == "volume":
            removal.remove_volume(conn, data["pool"], data["volume"])
        elif res.kind == "pool":
            removal.remove_pool(conn, res.name)
        with self._guard:
            self._images = {k: v for k, v in self._images.items()
                            if not (res.kind == "pool" and k[0] == data["uri"])}
