"""Removing one libvirt object by its name, already gone or not: a domain (stopped first, its
snapshots' metadata, managed save and NVRAM with it), a network (stopped first), a pool (every
volume still in it, its directory, its definition).

One place for ``down`` (the backend removes what its journal recorded) and for
``down --orphans`` (``tai_lab.orphans`` removes what bears a lab's prefix when the record is lost):
both take a connection and a name; "not there" is not an error.
"""
from __future__ import annotations

import contextlib
from typing import Any

from .connection import load


def _absent(exc: Any, code_name: str) -> bool:
    libvirt = load()
    return exc.get_error_code() == getattr(libvirt, code_name)


def remove_domain(conn: Any, name: str) -> None:
    libvirt = load()
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                              | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError as exc:
        if not _absent(exc, "VIR_ERR_NO_DOMAIN"):
            raise


def remove_network(conn: Any, name: str) -> None:
    libvirt = load()
    try:
        net = conn.networkLookupByName(name)
        if net.isActive():
            net.destroy()
        net.undefine()
    except libvirt.libvirtError as exc:
        if not _absent(exc, "VIR_ERR_NO_NETWORK"):
            raise


def remove_volume(conn: Any, pool: str, volume: str) -> None:
    libvirt = load()
    try:
        conn.storagePoolLookupByName(pool).storageVolLookupByName(volume).delete(0)
    except libvirt.libvirtError as exc:
        if not (_absent(exc, "VIR_ERR_NO_STORAGE_POOL") or _absent(exc, "VIR_ERR_NO_STORAGE_VOL")):
            raise


def remove_pool(conn: Any, name: str) -> None:
    """The pool is the lab's alone: whatever is still in it (a volume of a crashed `up` never
    recorded as removed) goes with it, and its directory on the host."""
    libvirt = load()
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if not _absent(exc, "VIR_ERR_NO_STORAGE_POOL"):
            raise
        return
    started = True
    if not pool.isActive():
        try:
            pool.create(0)
        except libvirt.libvirtError:
            started = False     # its directory is gone already
    if started:
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            pool.delete(0)      # its directory on the host
    pool.undefine()
