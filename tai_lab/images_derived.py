"""Container images built on another image: a copy of its built tree, more packages.

A recipe with ``base:`` (``images/debian-12-desktop/recipe.yaml``) is not debootstrapped: the
base image's tree is copied (``cp --reflink=auto``: free on a filesystem that shares
extents, a plain copy elsewhere), the host's package sources are lent to it for the build
only, the recipe's packages are installed, its ``files`` written and its ``commands`` run in
the tree, then the tree is made a lab image again (no package source, no host resolver, an
empty machine-id). Nodes use it exactly like the base: one shared lower layer, copy-on-write.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path, PurePosixPath

from . import images, images_vm
from .errors import TaiLabError
from .hostcheck import require_tools


def _inside(root: Path, path: str) -> Path:
    """A recipe's absolute path, inside the tree being built (no ``..``)."""
    p = PurePosixPath(path)
    if not p.is_absolute() or ".." in p.parts:
        raise TaiLabError(f"image recipe: {path!r} must be an absolute path without '..'")
    return root / str(p).lstrip("/")


def build(recipe: images.Recipe, *, force: bool = False,
          progress: images.Progress = lambda _m: None) -> Path:
    """Build ``recipe`` (which has a ``base``) into ``<images>/<name>/rootfs``."""
    assert recipe.base
    require_tools("chroot", "cp", "mount", "umount")
    target = images.image_dir(recipe.name)
    if images.already_built(recipe.name, recipe.digest, what="image", force=force, progress=progress):
        return target / "rootfs"
    lower = images.rootfs(recipe.base)      # raises with the base's build command
    work = target.parent / f".{recipe.name}.building"
    if work.exists():
        images_vm._umount_all(work / "rootfs")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    root, log = work / "rootfs", work / "build.log"
    started = time.time()
    progress(f"copying the {recipe.base} root filesystem")
    images._run(["cp", "-a", "--reflink=auto", str(lower), str(root)], log)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    mounts = [(root / "proc", ["-t", "proc", "proc"]), (root / "sys", ["-t", "sysfs", "sysfs"]),
              (root / "dev", ["--bind", "/dev"])]
    try:
        for where, args in mounts:
            where.mkdir(exist_ok=True)
            images._run(["mount", *args, str(where)], log)
        policy = root / "usr/sbin/policy-rc.d"      # no service starts while packages install
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        images_vm._sources(root)
        progress(f"installing {len(recipe.packages)} packages (several minutes)")
        images._run(["chroot", str(root), "apt-get", "update", "-q"], log, env)
        images._run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
                     *recipe.packages], log, env)
        images._run(["chroot", str(root), "apt-get", "clean"], log, env)
        for path, content in recipe.files:
            dest = _inside(root, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content)
        for command in recipe.commands:
            images._run(["chroot", str(root), "sh", "-c", command], log, env)
        for unit in recipe.disable_units:     # like the base: a unit not installed is fine
            subprocess.run(["chroot", str(root), "systemctl", "disable", unit], capture_output=True)
        for unit in recipe.mask_units:
            images._run(["chroot", str(root), "systemctl", "mask", unit], log)
        policy.unlink()
    finally:
        images_vm._umount_all(root)
    for f in (root / "etc/apt/sources.list.d").glob("*"):
        f.unlink()
    images._neutralise_host_leaks(root)
    data = {"name": recipe.name, "base": recipe.base, "recipe_digest": recipe.digest,
            "suite": recipe.suite, "packages": list(recipe.packages),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 1)}
    (work / "manifest.json").write_text(json.dumps(data, indent=2))
    images_vm.publish(work, recipe.name)
    progress(f"image {recipe.name} built in {data['build_seconds']} s")
    return target / "rootfs"
