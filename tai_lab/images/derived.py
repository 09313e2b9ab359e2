"""Container images built on another image: a copy of its built tree, more packages.

A recipe with ``base:`` (``images/debian-12-desktop/recipe.yaml``) is not debootstrapped: the
base image's tree is copied (``cp --reflink=auto``: free on a filesystem that shares
extents, a plain copy elsewhere), the host's package sources are lent to it for the build
only, the recipe's packages are installed, its ``files`` written and its ``commands`` run in
the tree, then the tree is made a lab image again (no package source, no host resolver, an
empty machine-id). Nodes use it exactly like the base: one shared lower layer, copy-on-write.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import TaiLabError
from ..lang import tr
from ..hostcheck import require_tools
from . import chroot
from .artifact import Progress, already_built, finish, image_dir, locked, new_work_dir, publish, run

if TYPE_CHECKING:
    from .container import Recipe


def _inside(root: Path, path: str) -> Path:
    """A recipe's absolute path, inside the tree being built (no ``..``)."""
    p = PurePosixPath(path)
    if not p.is_absolute() or ".." in p.parts:
        raise TaiLabError(tr(f"recette d'image : {path!r} doit être un chemin absolu sans '..'",
                             f"image recipe: {path!r} must be an absolute path without '..'"))
    return root / str(p).lstrip("/")


@locked("derived")
def build(recipe: Recipe, *, force: bool = False, progress: Progress = lambda _m: None) -> Path:
    """Build ``recipe`` (which has a ``base``) into ``<images>/<name>/rootfs``."""
    from .container import rootfs
    assert recipe.base
    require_tools("chroot", "cp", "mount", "umount")
    target = image_dir(recipe.name)
    if already_built(recipe.name, recipe.digest, what="image", force=force, progress=progress):
        return target / "rootfs"
    lower = rootfs(recipe.base)      # raises with the base's build command
    work = new_work_dir(recipe.name)
    root, log = work / "rootfs", work / "build.log"
    started = time.time()
    progress(tr(f"copie du système de fichiers de {recipe.base}", f"copying the {recipe.base} root filesystem"))
    run(["cp", "-a", "--reflink=auto", str(lower), str(root)], log)
    with chroot.mounts(root, log), chroot.no_service_starts(root):
        chroot.host_sources(root)
        progress(tr(f"installation de {len(recipe.packages)} paquets (plusieurs minutes)",
                    f"installing {len(recipe.packages)} packages (several minutes)"))
        chroot.apt_install(root, recipe.packages, log)
        for path, content in recipe.files:
            dest = _inside(root, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content)
        for command in recipe.commands:
            run(["chroot", str(root), "sh", "-c", command], log, chroot.apt_env())
        for unit in recipe.disable_units:     # like the base: a unit not installed is fine
            subprocess.run(["chroot", str(root), "systemctl", "disable", unit], capture_output=True)
        for unit in recipe.mask_units:
            run(["chroot", str(root), "systemctl", "mask", unit], log)
    chroot.neutralise_host_leaks(root)
    data = finish(work, {"name": recipe.name, "base": recipe.base, "recipe_digest": recipe.digest,
                         "suite": recipe.suite, "packages": list(recipe.packages)}, started)
    publish(work, recipe.name)
    progress(tr(f"image {recipe.name} construite en {data['build_seconds']} s",
                f"image {recipe.name} built in {data['build_seconds']} s"))
    return target / "rootfs"
