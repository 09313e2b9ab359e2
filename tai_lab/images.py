"""Root filesystem images: built once with debootstrap, shared copy-on-write.

An image recipe is data (``images/<name>/recipe.yaml``): the Debian suite, the
variant, the packages the plateau's roles need, and which units ship disabled.
The built tree lives in ``<home>/images/<name>/rootfs`` with a ``manifest.json``
that records the recipe's hash, so a changed recipe is noticed.
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

from . import paths
from .errors import CommandFailed, NotFoundError, PrerequisiteError
from .hostcheck import require_root, require_tools

Progress = Callable[[str], None]


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
    base: str | None = None                     # built on a copy of this image (images_derived)
    files: tuple[tuple[str, str], ...] = ()     # (path, content) written after the packages
    commands: tuple[str, ...] = ()              # run in the tree after the files


def recipe_names() -> list[str]:
    root = paths.data_dir("images")
    return sorted(p.parent.name for p in root.glob("*/recipe.yaml"))


def load_recipe(name: str) -> Recipe:
    path = paths.data_dir("images") / name / "recipe.yaml"
    if not path.is_file():
        raise NotFoundError(
            f"unknown image {name!r}",
            f"known images: {', '.join(recipe_names()) or '(none)'}",
        )
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
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


def image_dir(name: str) -> Path:
    return paths.images_dir() / name


def rootfs(name: str) -> Path:
    """The built root filesystem of an image; raises with the build command if absent."""
    root = image_dir(name) / "rootfs"
    if not (image_dir(name) / "manifest.json").is_file():
        raise PrerequisiteError(
            f"image {name!r} is not built",
            f"build it once with: tai-lab image build {name}",
        )
    return root


def manifest(name: str) -> dict | None:
    path = image_dir(name) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def recipe_file(base: str, filename: str, what: str, suffix: str = "") -> Path:
    """``images/<base>/<filename>``, or a clear error naming the images that have one."""
    path = paths.data_dir("images") / base / filename
    if not path.is_file():
        others = ", ".join(p.parent.name + suffix for p in paths.data_dir("images").glob(f"*/{filename}"))
        raise NotFoundError(f"image {base!r} has no {what} ({path.name})", f"images with a {what}: {others}")
    return path


def already_built(name: str, digest: str, *, what: str, force: bool = False,
                  progress: Callable[[str], None] = lambda _m: None) -> bool:
    """True (and says so) when ``name`` was built from this very recipe digest and no rebuild is forced."""
    current = manifest(name)
    if current and current.get("recipe_digest") == digest and not force:
        progress(f"{what} {name} is already built ({current['built_at']})")
        return True
    return False


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


def _run(cmd: list[str], log: Path, env: dict | None = None) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise CommandFailed(
            f"image build step failed ({proc.returncode}): {' '.join(cmd[:4])}…\n" + "\n".join(tail),
            f"full log: {log}",
        )


def build(name: str, *, force: bool = False, progress: Progress = lambda _m: None) -> Path:
    """Build (or rebuild with ``force``) the image; returns its rootfs path."""
    require_root("building an image")
    recipe = load_recipe(name)
    if recipe.base:
        from . import images_derived
        return images_derived.build(recipe, force=force, progress=progress)
    require_tools("debootstrap", "chroot")
    target = image_dir(name)
    if already_built(name, recipe.digest, what="image", force=force, progress=progress):
        return target / "rootfs"

    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{name}.building"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
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
    progress(f"debootstrap {recipe.suite} ({recipe.variant}) — about a minute")
    _run(cmd, log)

    # No service may start inside the chroot while packages install.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    if recipe.packages:
        progress(f"installing {len(recipe.packages)} packages")
        _run(["chroot", str(root), "apt-get", "update", "-q"], log, env)
        _run(
            ["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
             *recipe.packages],
            log, env,
        )
        _run(["chroot", str(root), "apt-get", "clean"], log, env)
    policy.unlink()

    progress("configuring units")
    for unit in recipe.disable_units:
        subprocess.run(["chroot", str(root), "systemctl", "disable", unit],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for unit in recipe.mask_units:
        _run(["chroot", str(root), "systemctl", "mask", unit], log)
    _neutralise_host_leaks(root)

    data = {
        "name": recipe.name,
        "recipe_digest": recipe.digest,
        "suite": recipe.suite,
        "packages": list(recipe.packages),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.time() - started, 1),
    }
    (work / "manifest.json").write_text(json.dumps(data, indent=2))
    if target.exists():
        shutil.rmtree(target)
    work.rename(target)
    progress(f"image {name} built in {data['build_seconds']} s")
    return target / "rootfs"


def _neutralise_host_leaks(root: Path) -> None:
    """Nothing of the build host may leak into the lab's machines."""
    # The mirror used for the build is of no use inside the isolated lab.
    (root / "etc/apt/sources.list").write_text("# tai-lab: no package source inside the lab\n")
    for f in ("etc/hostname", "etc/resolv.conf", "etc/machine-id"):
        p = root / f
        if p.is_symlink() or p.exists():
            p.unlink()
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/resolv.conf").write_text("# written by DHCP or by the node's role\n")
    (root / "etc/machine-id").write_text("")  # systemd fills it at first boot
    # A root password nobody knows is still a password: the trainer uses `tai-lab exec`.
    (root / "etc/securetty").unlink(missing_ok=True)


def remove(name: str) -> bool:
    target = image_dir(name)
    if target.exists():
        shutil.rmtree(target)
        return True
    return False
