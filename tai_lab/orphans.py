"""What a lab left on this host after its record was lost, found by the lab's prefix.

``tai-lab down`` removes what the lab's journal records. When the journal itself is gone (the
lab's home was deleted, the host was set up again with another ``TAI_LAB_HOME``, a test run was
killed and its temporary home removed), the lab's objects may still be there: libvirt domains,
networks and storage pools are persistent (they survive a reboot of the host), network
namespaces, container processes and overlay mounts last until the next reboot. The next
``up`` of the same lab name then stops on "already exists".

Every name tai-lab gives begins with ``tai-<lab>-`` and a lab name has no hyphen
(``[a-z][a-z0-9]{0,5}``), so the prefix says exactly which lab an object belongs to. This
module finds those objects (``find``) and removes them (``remove``), for a lab that has no
record in this home only: a lab with a record is brought down from its journal, never by name.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import LabStateError, TaiLabError
from .lang import tr
from .scenario.model import LAB_NAME_PATTERN

DEFAULT_URI = "qemu:///system"


@dataclass(frozen=True)
class Orphan:
    kind: str        # container, mount, netns, userns, domain, network, pool, dir
    name: str
    where: str = ""  # a libvirt URI, a pid's command…

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.where})" if self.where else "")


def _check_name(lab: str) -> str:
    if not re.fullmatch(LAB_NAME_PATTERN.strip("^$"), lab):
        raise TaiLabError(tr(f"{lab!r} n'est pas un nom de lab", f"{lab!r} is not a lab name"),
                          tr("un nom de lab : une minuscule puis jusqu'à 5 minuscules ou chiffres",
                             "a lab name is a lowercase letter then up to 5 lowercase letters or digits"))
    return f"tai-{lab}-"


# ------------------------------------------------------------------ containers
def _cgroups(prefix: str) -> dict[str, list[str]]:
    """Each node's control groups (``…/tai-<lab>-…`` in every hierarchy, below the cgroup of the
    command that started it — any command, so searched a few levels deep), by node name."""
    from .backends.nspawn import cgroups
    found: dict[str, list[str]] = {}
    for mnt, _key in cgroups._mounts():
        base = mnt.rstrip("/").count("/")
        for top, names, _files in os.walk(mnt):
            keep = []
            for n in names:
                if n.startswith(prefix):
                    found.setdefault(n, []).append(os.path.join(top, n))
                elif top.count("/") - base < 4:
                    keep.append(n)
            names[:] = keep
    return found


def _containers(prefix: str) -> list[Orphan]:
    out = []
    for name, dirs in sorted(_cgroups(prefix).items()):
        from .backends.nspawn import cgroups
        n = len(cgroups._members(dirs))
        out.append(Orphan("container", name, f"{n} process(es)"))
    return out


def _mounts(lab: str, prefix: str) -> list[Orphan]:
    """The nodes' overlay roots (mounted under the name of the node's namespace) and the
    ID-mapped image layers below a lab directory of that name."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        point = left.split()[4].replace("\\040", " ")
        fstype, source = right.split()[:2]
        if (fstype == "overlay" and source.startswith(prefix)) or \
                re.search(rf"/labs/{lab}/(isp|pods/\d+/[^/]+)/(root|lower)$", point):
            out.append(Orphan("mount", point))
    return sorted(out, key=lambda o: -len(o.name))      # deepest first


def _netns(prefix: str) -> list[Orphan]:
    d = Path("/run/netns")
    return [Orphan("netns", p.name) for p in sorted(d.glob(f"{prefix}*"))] if d.is_dir() else []


def _userns(lab: str) -> list[Orphan]:
    from .backends.nspawn import userns
    from .state import lab_dir
    reg = userns.registry()
    if not reg.is_dir():
        return []
    out = []
    mine = str(lab_dir(lab))
    for f in sorted(reg.glob("0x*")):
        with contextlib.suppress(OSError):
            owner = f.read_text().strip()
            where = owner.rsplit(":", 1)[0]
            if where.endswith(f"/labs/{lab}") and where != mine:
                out.append(Orphan("userns", str(f), owner))
    return out


def _propagate(prefix: str) -> list[Orphan]:
    d = Path("/run/systemd/nspawn/propagate")
    return [Orphan("dir", str(p)) for p in sorted(d.glob(f"{prefix}*"))] if d.is_dir() else []


# ------------------------------------------------------------------ libvirt
def _libvirt_conn(uri: str):
    try:
        import libvirt
    except ImportError:
        return None, None
    libvirt.registerErrorHandler(lambda *_a: None, None)
    try:
        return libvirt, libvirt.open(uri)
    except libvirt.libvirtError:
        return libvirt, None       # no libvirtd here: nothing of it to find


def _libvirt(prefix: str, uri: str) -> list[Orphan]:
    libvirt, conn = _libvirt_conn(uri)
    if conn is None:
        return []
    try:
        out = [Orphan("domain", d.name(), uri) for d in conn.listAllDomains(0) if d.name().startswith(prefix)]
        out += [Orphan("network", n.name(), uri) for n in conn.listAllNetworks(0) if n.name().startswith(prefix)]
        out += [Orphan("pool", p.name(), uri) for p in conn.listAllStoragePools(0) if p.name().startswith(prefix)]
        return out
    finally:
        conn.close()


def _remove_libvirt(found: list[Orphan], done: list[str], failed: list[str]) -> None:
    from .backends.libvirt import removal        # the backend's own way: one place removes a libvirt object
    by_uri: dict[str, list[Orphan]] = {}
    for o in found:
        by_uri.setdefault(o.where, []).append(o)
    for uri, objs in by_uri.items():
        libvirt, conn = _libvirt_conn(uri)
        if conn is None:
            failed += [f"{o} (libvirt unreachable)" for o in objs]
            continue
        remove = {"domain": removal.remove_domain, "network": removal.remove_network, "pool": removal.remove_pool}
        try:
            for o in objs:
                try:
                    remove[o.kind](conn, o.name)
                    done.append(str(o))
                except libvirt.libvirtError as exc:
                    failed.append(f"{o}: {exc.get_error_message()}")
        finally:
            conn.close()


# ------------------------------------------------------------------ the two steps
def find(lab: str, uris: list[str] | None = None) -> list[Orphan]:
    """Everything on this host (and on the libvirt ``uris``) that bears lab ``lab``'s prefix."""
    prefix = _check_name(lab)
    found = _containers(prefix) + _mounts(lab, prefix) + _netns(prefix) + _propagate(prefix) + _userns(lab)
    for uri in uris or [DEFAULT_URI]:
        found += _libvirt(prefix, uri)
    return found


def remove(lab: str, found: list[Orphan], progress=lambda _m: None) -> tuple[list[str], list[str]]:
    """Remove what :func:`find` gave, in the order that frees each thing: processes, mounts,
    namespaces, user-ID ranges, then libvirt domains, networks and pools. Returns (removed, failed)."""
    from .backends.nspawn import mounts, userns
    from .state import existing_labs
    _check_name(lab)
    if lab in existing_labs():
        raise LabStateError(tr(f"le lab {lab!r} a son état sur cet hôte : ce n'est pas un orphelin",
                               f"lab {lab!r} has a record on this host: it is not an orphan"),
                            tr(f"le supprimer d'après son état : tai-lab down --lab {lab}",
                               f"bring it down from its record: tai-lab down --lab {lab}"))
    done: list[str] = []
    failed: list[str] = []
    from .backends.nspawn import cgroups
    groups = _cgroups(f"tai-{lab}-")
    for o in found:
        if o.kind == "container":
            # Every process of the node (its nspawn, its systemd and all below) is killed, then
            # the groups are removed, the container's own sub-groups first.
            if cgroups.remove(groups.get(o.name, []), timeout=10):
                done.append(str(o))
                progress(f"removed {o}")
            else:
                failed.append(f"{o}: still busy")
    for o in found:
        try:
            if o.kind == "mount":
                if o.name.endswith("/root"):
                    # The lock systemd-nspawn takes on a container's root and removes when it
                    # exits on its own (a killed nspawn leaves it): named after the root's inode.
                    with contextlib.suppress(OSError):
                        st = os.stat(o.name)
                        Path(f"/run/systemd/nspawn/locks/inode-{st.st_dev}:{st.st_ino}").unlink(missing_ok=True)
                mounts.umount(o.name)
            elif o.kind == "netns":
                mounts.delete_netns(o.name)
            elif o.kind == "dir":
                shutil.rmtree(o.name, ignore_errors=True)
            elif o.kind == "userns":
                userns.release(o.name, o.where)
            else:
                continue
            done.append(str(o))
            progress(f"removed {o}")
        except (TaiLabError, OSError) as exc:
            failed.append(f"{o}: {exc}")
    _remove_libvirt([o for o in found if o.kind in ("domain", "network", "pool")], done, failed)
    return done, failed

