"""Images: everything a lab's machines start from, built once per host under ``<images>/``.

- ``container`` — container root filesystems (debootstrap), shared copy-on-write by the nodes;
- ``vm`` — bootable VM disks made from the same recipe; ``vagrant`` — a Vagrant box from the VM disk;
- ``windows`` — Windows installation files from the trainer's ISOs;
- ``artifact`` — the step they share: work directory, manifest with the recipe's digest, publish
  (the prep phase's package depot uses it too); ``chroot`` — installing packages into a tree.

The container image's functions are this package's own names (``images.build``,
``images.rootfs``, ``images.load_recipe``…), as they were before the package existed.
"""
from __future__ import annotations

from .artifact import Progress, already_built, image_dir, manifest, recipe_file
from .chroot import neutralise_host_leaks
from .container import Recipe, build, host_mirror, load_recipe, recipe_names, remove, rootfs

__all__ = ["Progress", "Recipe", "already_built", "build", "host_mirror", "image_dir", "load_recipe", "manifest",
           "neutralise_host_leaks", "recipe_file", "recipe_names", "remove", "rootfs"]
