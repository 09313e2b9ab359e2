"""Bootable VM disks for the libvirt backend, made from the same recipe as the containers.

``images/<name>/vm.yaml`` says what a VM needs on top of the container root filesystem
(a kernel, an initramfs, the QEMU guest agent). The build never touches the shared
rootfs: it copies it (reflink when the filesystem can), installs the extra packages in
the copy, makes an ext4 filesystem from the tree (``mkfs.ext4 -d``: no loop device, no
nbd), converts it to qcow2 and keeps the kernel and initramfs beside it. VMs boot them
with libvirt's direct kernel boot (no bootloader in the disk) and run on linked clones:
the libvirt backend uploads the three files into the lab's storage pool on each host
(``backends/libvirt_storage.py``) and gives each node a qcow2 volume backed by the
uploaded ``disk.qcow2``.

Layout: ``<images>/<base>-vm/{disk.qcow2, vmlinuz, initrd.img, manifest.json}``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from . import images
from .errors import CommandFailed, PrerequisiteError
from .hostcheck import require_root, require_tools

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VmRecipe:
    name: str                 # debian-12-vm
    base: str                 # debian-12 (the container image it starts from)
    packages: tuple[str, ...]
    initramfs_modules: tuple[str, ...]
    disk_size_gib: int
    cmdline: str
    digest: str


@dataclass(frozen=True)
class VmImage:
    name: str
    disk: Path
    kernel: Path
    initrd: Path
    cmdline: str


def vm_name(base: str) -> str:
    """The VM image of a container image: ``debian-12`` → ``debian-12-vm``."""
    return base if base.endswith("-vm") else f"{base}-vm"


def load_vm_recipe(base: str) -> VmRecipe:
    base = base.removesuffix("-vm")
    path = images.recipe_file(base, "vm.yaml", "VM recipe")
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    base_digest = images.load_recipe(data.get("base", base)).digest
    return VmRecipe(
        name=data.get("name", vm_name(base)), base=data.get("base", base),
        packages=tuple(data.get("packages", [])),
        initramfs_modules=tuple(data.get("initramfs_modules", [])),
        disk_size_gib=int(data.get("disk_size_gib", 3)), cmdline=data["cmdline"],
        digest=hashlib.sha256(raw + base_digest.encode()).hexdigest()[:16],
    )


def image(base: str) -> VmImage:
    """The built VM image of ``base``; raises with the build command if absent."""
    name = vm_name(base)
    d = images.image_dir(name)
    man = images.manifest(name)
    if not man or not (d / "disk.qcow2").is_file():
        raise PrerequisiteError(f"VM image {name!r} is not built",
                                f"build it once with: tai-lab image build {name} (a few minutes)")
    return VmImage(name, d / "disk.qcow2", d / "vmlinuz", d / "initrd.img", man["cmdline"])


def _sources(root: Path) -> None:
    """The host's own package sources, only for the build (removed again after)."""
    for f in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.sources"),
              *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if f.is_file():
            dest = root / str(f).lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")


def build(base: str, *, force: bool = False, progress: Progress = lambda _m: None) -> VmImage:
    require_root("building a VM image")
    recipe = load_vm_recipe(base)
    if images.already_built(recipe.name, recipe.digest, what="VM image", force=force, progress=progress):
        return image(recipe.name)
    images.rootfs(recipe.base)      # raises with its own build command, before anything changes
    work = new_work_dir(recipe.name)
    data = make_disk(recipe, work, progress=progress)
    publish(work, recipe.name)
    progress(f"VM image {recipe.name} built in {data['build_seconds']} s")
    return image(recipe.name)


def new_work_dir(name: str) -> Path:
    """An empty build directory beside the image's (left over ones are cleaned first)."""
    work = images.image_dir(name).parent / f".{name}.building"
    if work.exists():
        _umount_all(work / "rootfs")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def publish(work: Path, name: str) -> Path:
    """Replace the image ``name`` by the finished build directory."""
    target = images.image_dir(name)
    if target.exists():
        shutil.rmtree(target)
    work.rename(target)
    return target


def make_disk(recipe: VmRecipe, work: Path, *, progress: Progress = lambda _m: None,
              customize: Callable[[Path, Path], None] | None = None) -> dict:
    """Build ``recipe`` in ``work``: disk.qcow2, vmlinuz, initrd.img, manifest.json (returned).

    ``customize(rootfs, work)`` runs in the copied tree once the packages are installed
    (chroot mounts still up), before it becomes the disk: derived images (the Vagrant box)
    add their users, keys and units there.
    """
    require_tools("chroot", "mkfs.ext4", "qemu-img", "mount", "umount")
    lower = images.rootfs(recipe.base)      # raises with its own build command
    log = work / "build.log"
    root = work / "rootfs"
    started = time.time()
    progress(f"copying the {recipe.base} root filesystem")
    images._run(["cp", "-a", "--reflink=auto", str(lower), str(root)], log)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    mounts = [("proc", root / "proc", ["-t", "proc", "proc"]),
              ("sys", root / "sys", ["-t", "sysfs", "sysfs"]),
              ("dev", root / "dev", ["--bind", "/dev"])]
    try:
        for _n, where, args in mounts:
            where.mkdir(exist_ok=True)
            images._run(["mount", *args, str(where)], log)
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        _sources(root)
        mods = root / "etc/initramfs-tools/modules"
        mods.parent.mkdir(parents=True, exist_ok=True)
        mods.write_text("# tai-lab: the root disk is virtio\n" + "\n".join(recipe.initramfs_modules) + "\n")
        # Only those modules: a small initramfs unpacks in a second even under TCG.
        (root / "etc/initramfs-tools/conf.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/initramfs-tools/conf.d/tai-lab.conf").write_text("MODULES=list\nCOMPRESS=gzip\n")
        progress(f"installing {', '.join(recipe.packages)} (a few minutes)")
        images._run(["chroot", str(root), "apt-get", "update", "-q"], log, env)
        images._run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
                     *recipe.packages], log, env)
        images._run(["chroot", str(root), "apt-get", "clean"], log, env)
        if customize is not None:
            customize(root, work)
        policy.unlink()
    finally:
        _umount_all(root)
    # Back to a lab image: no package source, no host resolver, empty machine-id.
    for f in (root / "etc/apt/sources.list.d").glob("*"):
        f.unlink()
    images._neutralise_host_leaks(root)
    (root / "etc/fstab").write_text("/dev/vda / ext4 defaults,errors=remount-ro 0 1\n")
    # The guest agent is the trainer's way in; it starts with its virtio port (udev).
    kernel = sorted((root / "boot").glob("vmlinuz-*"))
    initrd = sorted((root / "boot").glob("initrd.img-*"))
    if not kernel or not initrd:
        raise CommandFailed("the VM image has no kernel or initramfs after installing them",
                            f"see {log}")
    shutil.copyfile(kernel[-1], work / "vmlinuz")
    shutil.copyfile(initrd[-1], work / "initrd.img")
    progress("making the disk (ext4 from the tree, then qcow2)")
    raw = work / "disk.raw"
    images._run(["mkfs.ext4", "-q", "-F", "-L", "tai-root", "-d", str(root), str(raw),
                 f"{recipe.disk_size_gib}G"], log)
    images._run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "disk.qcow2")], log)
    raw.unlink()
    shutil.rmtree(root)
    data = {"name": recipe.name, "base": recipe.base, "recipe_digest": recipe.digest,
            "packages": list(recipe.packages), "kernel": kernel[-1].name, "cmdline": recipe.cmdline,
            "boot": "direct kernel boot (vmlinuz + initrd.img beside the disk)",
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 1)}
    (work / "manifest.json").write_text(json.dumps(data, indent=2))
    return data


def _umount_all(root: Path) -> None:
    for sub in ("dev", "sys", "proc"):
        where = root / sub
        if images_mounted(where):
            if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(where)], capture_output=True)


def images_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)
