"""The build step every artifact under ``<images>/`` shares (root filesystems, VM disks, Vagrant
boxes, the prep phase's package depot).

An artifact is built in a work directory beside its final place (``<images>/.<name>.building``),
holds a ``manifest.json`` that records the digest of the recipe it was built from, and is
*published* by replacing the previous one with the finished directory (a rename: a build that
fails or is killed leaves the published artifact as it was). ``already_built`` compares the
digests, so a changed recipe is noticed and an unchanged one is not rebuilt.
"""
from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from .. import paths
from ..errors import CommandFailed, NotFoundError, TaiLabError
from ..lang import tr

Progress = Callable[[str], None]
MANIFEST = "manifest.json"

# What is built, in French: its noun and "built" agreeing with it.
_WHAT_FR: dict[str, tuple[str, str]] = {
    "image": ("image", "construite"), "VM image": ("image VM", "construite"),
    "Vagrant box": ("box Vagrant", "construite"), "depot": ("dépôt", "construit"),
    "VM recipe": ("recette VM", ""), "Vagrant recipe": ("recette Vagrant", ""),
}
_PY_TYPES_FR = {"list": "une liste", "str": "un texte", "int": "un nombre", "float": "un nombre",
                "bool": "un booléen", "NoneType": "un fichier vide"}
F = TypeVar("F", bound=Callable[..., Any])


def locked(kind: str) -> Callable[[F], F]:
    """One build of an artifact at a time on the host: a second ``tai-lab image build`` (or a
    test run, or `up` building what it lacks) of the same artifact waits for the first and then
    finds it built, instead of deleting its work directory under it. The build function's first
    argument names the artifact (a name, or a recipe with a ``name``)."""
    def deco(fn: F) -> F:
        sig = inspect.signature(fn)
        first = next(iter(sig.parameters))

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            what = bound.arguments[first]
            name = getattr(what, "name", what)
            progress = kwargs.get("progress") or (lambda _m: None)
            paths.images_dir().mkdir(parents=True, exist_ok=True)
            fd = os.open(paths.images_dir() / f".{kind}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    progress(tr(f"{name} est en cours de construction par une autre commande : attente de la fin…",
                                f"{name} is being built by another command: waiting for it…"))
                    fcntl.flock(fd, fcntl.LOCK_EX)
                return fn(*args, **kwargs)
            finally:
                os.close(fd)
        return wrapper  # type: ignore[return-value]
    return deco


def image_dir(name: str) -> Path:
    """Where the artifact ``name`` is published."""
    return paths.images_dir() / name


def manifest(name: str) -> dict | None:
    path = image_dir(name) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def recipe_file(base: str, filename: str, what: str, suffix: str = "") -> Path:
    """``images/<base>/<filename>``, or a clear error naming the images that have one."""
    path = paths.data_dir("images") / base / filename
    if not path.is_file():
        others = ", ".join(p.parent.name + suffix for p in paths.data_dir("images").glob(f"*/{filename}"))
        noun = _WHAT_FR.get(what, (what,))[0]
        raise NotFoundError(tr(f"l'image {base!r} n'a pas de {noun} ({path.name})",
                               f"image {base!r} has no {what} ({path.name})"),
                            tr(f"images qui en ont une : {others}", f"images with a {what}: {others}"))
    return path


def already_built(name: str, digest: str, *, what: str, force: bool = False,
                  progress: Progress = lambda _m: None) -> bool:
    """True (and says so) when ``name`` was built from this very recipe digest and no rebuild is forced."""
    current = manifest(name)
    if current and current.get("recipe_digest") == digest and not force:
        noun, done = _WHAT_FR.get(what, (what, "construit(e)"))
        progress(tr(f"{noun} {name} : déjà {done} ({current['built_at']})",
                    f"{what} {name} is already built ({current['built_at']})"))
        return True
    return False


def new_work_dir(name: str) -> Path:
    """An empty build directory beside the artifact's place; one left by a killed build is removed
    first (its chroot mounts too: ``rmtree`` must never walk into the host's /proc or /dev)."""
    work = image_dir(name).parent / f".{name}.building"
    if work.exists():
        umount_under(work)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def finish(work: Path, data: dict, started: float) -> dict:
    """Write the work directory's manifest: ``data`` with the build's time; returns it."""
    data = {**data, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 1)}
    (work / MANIFEST).write_text(json.dumps(data, indent=2))
    return data


def publish(work: Path, name: str) -> Path:
    """Replace the artifact ``name`` by the finished work directory; returns its place."""
    if not (work / MANIFEST).is_file():
        raise CommandFailed(tr(f"la construction de {name} n'a pas laissé de {MANIFEST} : rien n'est publié",
                               f"the build of {name} left no {MANIFEST}: not published"),
                            tr(f"voir {work}", f"see {work}"))
    target = image_dir(name)
    _drop_replaced(name)
    if target.exists():
        # Moved aside, not deleted under the labs that run on it: an overlay keeps the layer it
        # was mounted on (a rename is harmless to it, a deletion is not). It is removed now if
        # nothing mounted uses it, else by a later build once those labs are down.
        aside = target.parent / f".{name}.replaced-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
        target.rename(aside)
        work.rename(target)
        _drop_replaced(name)
    else:
        work.rename(target)
    return target


def _in_use(*dirs: Path) -> bool:
    """Whether a mount refers to something below one of ``dirs``: an overlay names its lower
    layer by the path it was given (the published place, even after the rename), an ID-mapped
    bind by where its tree is now (the place aside)."""
    tops = [f"{d}/" for d in dirs]
    with open("/proc/self/mountinfo") as f:
        return any(t in line for line in f for t in tops)


def _drop_replaced(name: str) -> None:
    """Remove the replaced versions of ``name`` once no lab uses any version of it."""
    for old in image_dir(name).parent.glob(f".{name}.replaced-*"):
        if not _in_use(old, image_dir(name)):
            umount_under(old)
            shutil.rmtree(old, ignore_errors=True)


def run(cmd: list[str], log: Path, env: dict | None = None) -> None:
    """One build command, its output appended to ``log``; a failure shows the log's last lines."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        step = " ".join(cmd[:4])
        hint = tr(f"journal complet : {log}", f"full log: {log}")
        missing = [m.group(1) for line in tail if (m := re.match(r"E: Unable to locate package (\S+)", line))]
        if missing:      # apt's words for a package name the host's sources do not have
            names = ", ".join(dict.fromkeys(missing))
            hint = tr(f"paquet introuvable dans les sources apt de l'hôte : {names} — vérifier son nom dans la "
                      f"recette (images/…/recipe.yaml) ; {hint.fr}",
                      f"package not found in the host's apt sources: {names} — check its name in the recipe "
                      f"(images/…/recipe.yaml); {hint.en}")
        raise CommandFailed(
            tr(f"une étape de la construction de l'image a échoué (code {proc.returncode}) : {step}…\n",
               f"image build step failed ({proc.returncode}): {step}…\n") + "\n".join(tail),
            hint,
        )


def mounted_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mountinfo), deepest first."""
    top = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    inside = [p for p in points if p == top or p.startswith(top + "/")]
    return sorted(set(inside), key=lambda p: p.count("/"), reverse=True)


def umount_under(path: Path) -> None:
    for where in mounted_under(path):
        if subprocess.run(["umount", where], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", where], capture_output=True)


def read_recipe(path: Path, raw: bytes | None = None) -> dict:
    """A recipe file's mapping; a YAML error or another shape says where, not a traceback."""
    import yaml
    raw = path.read_bytes() if raw is None else raw
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        from ..validation_words import yaml_problem
        problem = getattr(exc, "problem", None)
        said = yaml_problem(str(problem)) if problem else tr(f"erreur YAML : {exc}", f"YAML error: {exc}")
        raise TaiLabError(f"{where}: {said}",
                          tr("corriger le YAML de la recette (indentation, deux-points ou guillemet manquant)",
                             "fix the recipe's YAML (indentation, a missing colon or quote)")) from None
    if not isinstance(data, dict):
        raise TaiLabError(tr(f"{path} : une recette est un dictionnaire (name:, packages:…), pas "
                             f"{_PY_TYPES_FR.get(type(data).__name__, type(data).__name__)}",
                             f"{path}: a recipe is a mapping (name:, packages:…), not {type(data).__name__}"),
                          tr("voir les autres recettes sous images/", "see the other recipes under images/"))
    return data
