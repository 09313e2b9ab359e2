"""Root filesystem images of the containers: built once with debootstrap, shared copy-on-write.

An image recipe is data (``images/<name>/recipe.yaml``): the Debian suite, the
variant, the packages the plateau's roles need, and which units ship disabled.
The built tree lives in ``<home>/images/<name>/rootfs`` with a ``manifest.json``
that records the recipe's hash, so a changed recipe is noticed.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


from .. import paths
from ..errors import NotFoundError, PrerequisiteError
from ..hostcheck import require_root, require_tools
from ..lang import tr
from .artifact import Progress, already_built, finish, image_dir, locked, new_work_dir, publish, read_recipe, run
from .chroot import apt_install, neutralise_host_leaks, no_service_starts


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    suite: str
    variant: str
    components: tuple[str, ...]
    packages: tuple[str, ...]
    disable_units: tuple[str, ...]
    mask_units: tuple[str, ...]
    digest: str
    base: str | None = None                     # built on a copy of this image (images/derived.py)
    files: tuple[tuple[str, str], ...] = ()     # (path, content) written after the packages
    commands: tuple[str, ...] = ()              # run in the tree after the files


def recipe_names() -> list[str]:
    root = paths.data_dir("images")
    return sorted(p.parent.name for p in root.glob("*/recipe.yaml"))


def load_recipe(name: str) -> Recipe:
    path = paths.data_dir("images") / name / "recipe.yaml"
    if not path.is_file():
        known = ", ".join(recipe_names())
        raise NotFoundError(
            tr(f"image inconnue {name!r}", f"unknown image {name!r}"),
            tr(f"images connues : {known or '(aucune)'}", f"known images: {known or '(none)'}"),
        )
    raw = path.read_bytes()
    data = read_recipe(path, raw)
    base = data.get("base")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if base:  # a derived image changes with its base's recipe too
        parent = load_recipe(base)
        data.setdefault("suite", parent.suite)
        digest = hashlib.sha256((digest + parent.digest).encode()).hexdigest()[:16]
    return Recipe(
        name=data["name"],
        description=data.get("description", ""),
        suite=data["suite"],
        variant=data.get("variant", "minbase"),
        components=tuple(data.get("components", ["main"])),
        packages=tuple(data.get("packages", [])),
        disable_units=tuple(data.get("disable_units", [])),
        mask_units=tuple(data.get("mask_units", [])),
        digest=digest,
        base=base,
        files=tuple((str(k), str(v)) for k, v in (data.get("files") or {}).items()),
        commands=tuple(data.get("commands", [])),
    )


def rootfs(name: str) -> Path:
    """The built root filesystem of an image; raises with the build command if absent."""
    root = image_dir(name) / "rootfs"
    if not (image_dir(name) / "manifest.json").is_file():
        raise PrerequisiteError(
            tr(f"l'image {name!r} n'est pas construite", f"image {name!r} is not built"),
            tr(f"la construire une fois avec : tai-lab image build {name}",
               f"build it once with: tai-lab image build {name}"),
        )
    return root


def host_mirror() -> str | None:
    """The Debian mirror the host's apt configuration uses, if it names one.

    We never write a mirror in the project: the host's choice or debootstrap's
    default is used.
    """
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for src in candidates:
        if not src.is_file():
            continue
        text = src.read_text(errors="replace")
        if src.suffix == ".sources":
            block_uri = None
            for line in text.splitlines() + [""]:
                line = line.strip()
                if line.startswith("URIs:"):
                    block_uri = line.split(":", 1)[1].split()[0]
                elif line.startswith("Suites:") and block_uri and "security" not in block_uri:
                    return block_uri
                elif not line:
                    block_uri = None
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1] and "debian" in line:
                    uri = [p for p in parts[1:] if not p.startswith("[")][0]
                    return uri
    return None


@locked("rootfs")
def build(name: str, *, force: bool = False, progress: Progress = lambda _m: None) -> Path:
    """Build (or rebuild with ``force``) the image; returns its rootfs path."""
    require_root(tr("la construction d'une image", "building an image"))
    recipe = load_recipe(name)
    if recipe.base:
        from . import derived
        return derived.build(recipe, force=force, progress=progress)
    require_tools("debootstrap", "chroot")
    target = image_dir(name)
    if already_built(name, recipe.digest, what="image", force=force, progress=progress):
        return target / "rootfs"

    work = new_work_dir(name)
    root = work / "rootfs"
    log = work / "build.log"
    started = time.time()

    mirror = host_mirror()
    cmd = [
        "debootstrap",
        f"--variant={recipe.variant}",
        f"--components={','.join(recipe.components)}",
        recipe.suite,
        str(root),
    ]
    if mirror:
        cmd.append(mirror)
    progress(tr(f"debootstrap {recipe.suite} ({recipe.variant}) — environ une minute",
                f"debootstrap {recipe.suite} ({recipe.variant}) — about a minute"))
    run(cmd, log)

    if recipe.packages:
        progress(tr(f"installation de {len(recipe.packages)} paquets", f"installing {len(recipe.packages)} packages"))
        with no_service_starts(root):
            apt_install(root, recipe.packages, log)

    progress(tr("réglage des unités systemd", "configuring units"))
    for unit in recipe.disable_units:
        subprocess.run(["chroot", str(root), "systemctl", "disable", unit],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for unit in recipe.mask_units:
        run(["chroot", str(root), "systemctl", "mask", unit], log)
    neutralise_host_leaks(root)

    data = finish(work, {"name": recipe.name, "recipe_digest": recipe.digest, "suite": recipe.suite,
                         "packages": list(recipe.packages)}, started)
    publish(work, name)
    progress(tr(f"image {name} construite en {data['build_seconds']} s", f"image {name} built in {data['build_seconds']} s"))
    return target / "rootfs"


def remove(name: str) -> bool:
    target = image_dir(name)
    if target.exists():
        shutil.rmtree(target)
        return True
    return False
