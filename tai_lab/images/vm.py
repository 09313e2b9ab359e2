"""Bootable VM disks for the libvirt backend, made from the same recipe as the containers.

``images/<name>/vm.yaml`` says what a VM needs on top of the container root filesystem
(a kernel, an initramfs, the QEMU guest agent). The build never touches the shared
rootfs: it copies it (reflink when the filesystem can), installs the extra packages in
the copy, makes an ext4 filesystem from the tree (``mkfs.ext4 -d``: no loop device, no
nbd), converts it to qcow2 and keeps the kernel and initramfs beside it. VMs boot them
with libvirt's direct kernel boot (no bootloader in the disk) and run on linked clones:
the libvirt backend uploads the three files into the lab's storage pool on each host
(``backends/libvirt/storage.py``) and gives each node a qcow2 volume backed by the
uploaded ``disk.qcow2``.

Layout: ``<images>/<base>-vm/{disk.qcow2, vmlinuz, initrd.img, manifest.json}``.
"""
from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from ..errors import CommandFailed, PrerequisiteError
from ..lang import tr
from ..hostcheck import require_root, require_tools
from . import artifact, container
from .artifact import Progress, run
from .chroot import apt_install, host_sources, mounts, neutralise_host_leaks, no_service_starts


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
    path = artifact.recipe_file(base, "vm.yaml", "VM recipe")
    raw = path.read_bytes()
    data = artifact.read_recipe(path, raw)
    base_digest = container.load_recipe(data.get("base", base)).digest
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
    d = artifact.image_dir(name)
    man = artifact.manifest(name)
    if not man or not (d / "disk.qcow2").is_file():
        raise PrerequisiteError(tr(f"l'image VM {name!r} n'est pas construite", f"VM image {name!r} is not built"),
                                tr(f"la construire une fois avec : tai-lab image build {name} (quelques minutes)",
                                   f"build it once with: tai-lab image build {name} (a few minutes)"))
    return VmImage(name, d / "disk.qcow2", d / "vmlinuz", d / "initrd.img", man["cmdline"])


@artifact.locked("vm")
def build(base: str, *, force: bool = False, progress: Progress = lambda _m: None) -> VmImage:
    require_root(tr("la construction d'une image VM", "building a VM image"))
    recipe = load_vm_recipe(base)
    if artifact.already_built(recipe.name, recipe.digest, what="VM image", force=force, progress=progress):
        return image(recipe.name)
    container.rootfs(recipe.base)      # raises with its own build command, before anything changes
    work = artifact.new_work_dir(recipe.name)
    data = make_disk(recipe, work, progress=progress)
    artifact.publish(work, recipe.name)
    progress(tr(f"image VM {recipe.name} construite en {data['build_seconds']} s",
                f"VM image {recipe.name} built in {data['build_seconds']} s"))
    return image(recipe.name)


def make_disk(recipe: VmRecipe, work: Path, *, progress: Progress = lambda _m: None,
              customize: Callable[[Path, Path], None] | None = None) -> dict:
    """Build ``recipe`` in ``work``: disk.qcow2, vmlinuz, initrd.img, manifest.json (returned).

    ``customize(rootfs, work)`` runs in the copied tree once the packages are installed
    (chroot mounts still up), before it becomes the disk: derived images (the Vagrant box)
    add their users, keys and units there.
    """
    require_tools("chroot", "mkfs.ext4", "qemu-img", "mount", "umount")
    lower = container.rootfs(recipe.base)      # raises with its own build command
    log = work / "build.log"
    root = work / "rootfs"
    started = time.time()
    progress(tr(f"copie du système de fichiers de {recipe.base}", f"copying the {recipe.base} root filesystem"))
    run(["cp", "-a", "--reflink=auto", str(lower), str(root)], log)
    with mounts(root, log), no_service_starts(root):
        host_sources(root)
        mods = root / "etc/initramfs-tools/modules"
        mods.parent.mkdir(parents=True, exist_ok=True)
        mods.write_text("# tai-lab: the root disk is virtio\n" + "\n".join(recipe.initramfs_modules) + "\n")
        # Only those modules: a small initramfs unpacks in a second even under TCG.
        (root / "etc/initramfs-tools/conf.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/initramfs-tools/conf.d/tai-lab.conf").write_text("MODULES=list\nCOMPRESS=gzip\n")
        progress(tr(f"installation de {', '.join(recipe.packages)} (quelques minutes)",
                    f"installing {', '.join(recipe.packages)} (a few minutes)"))
        apt_install(root, recipe.packages, log)
        if customize is not None:
            customize(root, work)
    # Back to a lab image: no package source, no host resolver, empty machine-id.
    neutralise_host_leaks(root)
    (root / "etc/fstab").write_text("/dev/vda / ext4 defaults,errors=remount-ro 0 1\n")
    # The guest agent is the trainer's way in; it starts with its virtio port (udev).
    kernel = sorted((root / "boot").glob("vmlinuz-*"))
    initrd = sorted((root / "boot").glob("initrd.img-*"))
    if not kernel or not initrd:
        raise CommandFailed(tr("l'image VM n'a ni noyau ni initramfs après leur installation",
                               "the VM image has no kernel or initramfs after installing them"),
                            tr(f"voir {log}", f"see {log}"))
    shutil.copyfile(kernel[-1], work / "vmlinuz")
    shutil.copyfile(initrd[-1], work / "initrd.img")
    progress(tr("fabrication du disque (ext4 depuis l'arborescence, puis qcow2)",
                "making the disk (ext4 from the tree, then qcow2)"))
    raw = work / "disk.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "tai-root", "-d", str(root), str(raw), f"{recipe.disk_size_gib}G"], log)
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "disk.qcow2")], log)
    raw.unlink()
    shutil.rmtree(root)
    return artifact.finish(work, {
        "name": recipe.name, "base": recipe.base, "recipe_digest": recipe.digest,
        "packages": list(recipe.packages), "kernel": kernel[-1].name, "cmdline": recipe.cmdline,
        "boot": "direct kernel boot (vmlinuz + initrd.img beside the disk)"}, started)
