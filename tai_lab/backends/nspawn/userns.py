"""User namespaces for the nodes: each container's root is an unprivileged user of the host.

Every container of a pod gets its own range of 65,536 host UIDs/GIDs (root inside is the
range's first ID outside). The shared image stays owned by the host's root: each node sees
it through an *ID-mapped mount* (Linux ≥ 5.12, ``mount_setattr(MOUNT_ATTR_IDMAP)``), so no
file of the image is copied or chowned, and the overlay's upper layer holds the node's
files with the node's host IDs. Copy-on-write, snapshots and resets stay as fast as before.

Ranges are allocated host-wide (two lab homes on one host must never share one) in a small
registry directory: one file per range, named after its first ID, saying who holds it. A
lab records the file it took in its journal before taking it; ``down`` gives it back.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import stat
from pathlib import Path
from typing import Iterator

from ...errors import LabStateError, PrerequisiteError
from ...lang import tr

RANGE = 65536
# Far above the IDs of real users, of /etc/subuid's usual 100000+ and of the ranges
# systemd-nspawn picks by itself (0x00080000–0x6FFF0000).
FIRST_BASE = 0x7000_0000
SLOTS = 4096

_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442   # x86_64
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC = 1, 0o2000000
_AT_FDCWD, _AT_EMPTY_PATH = -100, 0x1000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_IDMAP = 0x1, 0x0010_0000
_CLONE_NEWUSER = 0x1000_0000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _call(what: str, result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        hint = tr("les montages à identifiants décalés (ID-mapped) demandent Linux 5.12 ou plus récent (5.19 pour "
                  "les couches overlay)", "ID-mapped mounts need Linux 5.12 or newer (5.19 for overlay layers)") \
            if err in (38, 22) else tr("voir le journal du noyau (dmesg)", "see the kernel log")
        raise PrerequisiteError(tr(f"{what} a échoué : {os.strerror(err)}", f"{what} failed: {os.strerror(err)}"), hint)
    return result


def registry() -> Path:
    """Host-wide (not per lab home): ``TAI_LAB_USERNS_REGISTRY`` moves it, for tests only."""
    return Path(os.environ.get("TAI_LAB_USERNS_REGISTRY", "/var/lib/tai-lab-userns"))


@contextlib.contextmanager
def _registry_lock() -> Iterator[Path]:
    reg = registry()
    reg.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(reg / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield reg
    finally:
        os.close(fd)


def allocate(owner: str, record) -> int:
    """Take a free range for ``owner`` ("<lab dir>:<pod>/<node>"); ``record(path, base)`` is
    called (the journal) before the range is taken. The same owner gets its range back."""
    with _registry_lock() as reg:
        taken = {}
        for f in reg.iterdir():
            if f.name.startswith("0x"):
                with contextlib.suppress(OSError, ValueError):
                    taken[int(f.name, 16)] = f.read_text().strip()
        for base, who in taken.items():
            if who == owner:
                return base
        for slot in range(SLOTS):
            base = FIRST_BASE + slot * RANGE
            if base not in taken:
                path = reg / f"0x{base:08x}"
                record(str(path), base)
                path.write_text(owner + "\n")
                return base
    raise LabStateError(f"no free user-ID range left for {owner} ({SLOTS} in use)",
                        "bring down labs that are no longer used (tai-lab down --lab NAME)")


def release(path: str, owner: str | None = None) -> None:
    """Give a range back (only if it is still held by ``owner`` when given)."""
    with _registry_lock():
        p = Path(path)
        with contextlib.suppress(FileNotFoundError):
            if owner is None or p.read_text().strip() == owner:
                p.unlink()


def _userns_fd(base: int) -> int:
    """A file descriptor of a new user namespace mapping 0…65535 to base…base+65535."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    parent, top = os.getpid(), os.sysconf("SC_OPEN_MAX")
    pid = os.fork()
    if pid == 0:                                  # child: only async-signal-safe work here
        try:
            # Never outlive the thread that forked it, and hold nothing of the parent's: pods
            # are built in parallel threads, so a fork inherits every descriptor open at that
            # moment — the lab's lock, another child's pipe. A parent killed mid-way (kill -9
            # of `up`) then left two such children waiting on each other, holding the lock.
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
            low, high = sorted((ready_w, go_r))
            os.closerange(0, low)
            os.closerange(low + 1, high)
            os.closerange(high + 1, top)
            ok = _libc.unshare(_CLONE_NEWUSER) == 0
            os.write(ready_w, b"1" if ok else b"0")
            os.read(go_r, 1)                          # wait until the parent opened the namespace
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise PrerequisiteError(tr("impossible de créer un espace de noms utilisateur sur cet hôte",
                                       "cannot create a user namespace on this host"),
                                    tr("vérifier user.max_user_namespaces (sysctl) et le noyau",
                                       "check user.max_user_namespaces (sysctl) and the kernel"))
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"0 {base} {RANGE}\n")
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def idmapped_bind(source: Path, target: Path, base: int, *, read_only: bool = True) -> None:
    """Mount ``source`` on ``target`` with its owners shifted by ``base`` (root → base)."""
    tree = _call("open_tree", _libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source),
                                            _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC))
    try:
        ns = _userns_fd(base)
        try:
            attr = _MountAttr(_MOUNT_ATTR_IDMAP | (_MOUNT_ATTR_RDONLY if read_only else 0), 0, 0, ns)
            _call("mount_setattr (ID-mapped mount)",
                  _libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH,
                                ctypes.byref(attr), ctypes.sizeof(attr)))
        finally:
            os.close(ns)
        _call("move_mount", _libc.syscall(_SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD,
                                          os.fsencode(target), _MOVE_MOUNT_F_EMPTY_PATH))
    finally:
        os.close(tree)


def shift_tree(path: Path, base: int) -> None:
    """Files the host wrote (owned by IDs below the range) become the node's: uid/gid + base.
    Set-user/group-ID bits, which chown clears, are put back."""
    def shift(p: str) -> None:
        st = os.lstat(p)
        uid = st.st_uid + base if st.st_uid < RANGE else st.st_uid
        gid = st.st_gid + base if st.st_gid < RANGE else st.st_gid
        if (uid, gid) != (st.st_uid, st.st_gid):
            os.lchown(p, uid, gid)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(p, stat.S_IMODE(st.st_mode))
    shift(str(path))
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            shift(os.path.join(top, name))
