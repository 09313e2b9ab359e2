"""The offline package depot: built once on the host, served inside the lab.

Built under ``<images>/<name>/`` (never inside an image directory): ``repo/`` holds the
``.deb`` files with ``Packages``, ``Packages.gz`` and ``Release`` (a flat repository),
``manifest.json`` what it holds. Dependencies are resolved by the host's apt against the
*image's* dpkg status, so the depot holds exactly what a node of that image lacks, plus
the listed packages themselves (``--reinstall``), whatever the host has installed.
Nothing of the host's apt state is changed: no lock, no cache written.
"""
from __future__ import annotations

import gzip
import re
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable


from .. import images, paths
from ..images import artifact
from ..errors import CommandFailed, NotFoundError, PrerequisiteError
from ..lang import tr
from ..hostcheck import require_root, require_tools

if TYPE_CHECKING:
    from ..context import LabContext

Progress = Callable[[str], None]
DEFAULT_DEPOT = "depot-bookworm"


@dataclass(frozen=True)
class DepotRecipe:
    name: str
    description: str
    image: str
    packages: tuple[str, ...]
    digest: str


def load_recipe(name: str = DEFAULT_DEPOT) -> DepotRecipe:
    path = paths.data_dir("images") / name / "depot.yaml"
    if not path.is_file():
        known = sorted(p.parent.name for p in paths.data_dir("images").glob("*/depot.yaml"))
        raise NotFoundError(f"unknown depot {name!r}", f"known depots: {', '.join(known) or '(none)'}")
    raw = path.read_bytes()
    data = artifact.read_recipe(path, raw)
    return DepotRecipe(data["name"], data.get("description", ""), data["image"],
                       tuple(data["packages"]), hashlib.sha256(raw).hexdigest()[:16])


def depot_dir(name: str = DEFAULT_DEPOT) -> Path:
    return artifact.image_dir(name)


def repo_dir(name: str = DEFAULT_DEPOT) -> Path:
    """The built flat repository; raises with the build command if absent."""
    d = depot_dir(name)
    if not (d / "manifest.json").is_file():
        raise PrerequisiteError(f"the package depot {name!r} is not built",
                                f"build it once (needs the host's apt sources): tai-lab prep depot build {name}")
    return d / "repo"


def manifest(name: str = DEFAULT_DEPOT) -> dict | None:
    return artifact.manifest(name)


def _apt_options(status: Path, archives: Path) -> list[str]:
    # The image's dpkg status, our own archive dir, no lock and no cache file of the host's.
    return ["-o", f"Dir::State::status={status}", "-o", f"Dir::Cache::archives={archives}",
            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]


@artifact.locked("depot")
def build(name: str = DEFAULT_DEPOT, *, force: bool = False, progress: Progress = lambda _m: None) -> Path:
    """Fetch the recipe's packages and their missing dependencies; index them."""
    require_root(tr("la construction du dépôt de paquets", "building the package depot"))
    require_tools("apt-get", "dpkg-scanpackages")
    recipe = load_recipe(name)
    if artifact.already_built(name, recipe.digest, what="depot", force=force, progress=progress):
        return depot_dir(name) / "repo"
    rootfs = images.rootfs(recipe.image)
    work = artifact.new_work_dir(name)
    (work / "repo/partial").mkdir(parents=True)
    log = work / "build.log"
    started = time.time()
    cmd = ["apt-get", "install", "-y", "-q", "--download-only", "--reinstall", "--no-install-recommends",
           *_apt_options(rootfs / "var/lib/dpkg/status", work / "repo"), *recipe.packages]
    progress(f"downloading {len(recipe.packages)} packages and their dependencies (host's apt sources)")
    with log.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
                                   "LC_ALL": "C"})
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
        raise CommandFailed(f"depot download failed:\n{tail}",
                            f"full log: {log}; the host needs working apt sources (apt-get update)")
    shutil.rmtree(work / "repo/partial", ignore_errors=True)
    (work / "repo/lock").unlink(missing_ok=True)
    debs = sorted((work / "repo").glob("*.deb"))
    progress(f"indexing {len(debs)} packages")
    index(work / "repo")
    data = artifact.finish(work, {"name": name, "recipe_digest": recipe.digest, "image": recipe.image,
                                  "packages": list(recipe.packages), "debs": [d.name for d in debs],
                                  "bytes": sum(d.stat().st_size for d in debs)}, started)
    target = artifact.publish(work, name)
    progress(f"depot {name}: {len(debs)} packages, {data['bytes'] // 2**20} MiB, in {data['build_seconds']} s")
    return target / "repo"


def index(repo: Path) -> None:
    """``Packages``, ``Packages.gz`` and a ``Release`` with their hashes (flat repository)."""
    proc = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandFailed(f"dpkg-scanpackages failed: {proc.stderr.strip()[-400:]}")
    packages = proc.stdout.encode()
    (repo / "Packages").write_bytes(packages)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    lines = ["Origin: tai-lab", "Label: tai-lab depot", "Suite: plateau", "Codename: plateau",
             "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), "SHA256:"]
    for f in ("Packages", "Packages.gz"):
        b = (repo / f).read_bytes()
        lines.append(f" {hashlib.sha256(b).hexdigest()} {len(b)} {f}")
    (repo / "Release").write_text("\n".join(lines) + "\n")


# --- serving it inside the lab ------------------------------------------------------------
#
# The depot lives in the ISP container, on its own documentation address. During the prep
# phase a pod's WAN link is up but the ISP's input filter (nftables, in the ISP's namespace,
# out of every candidate's reach) drops everything from that pod except HTTP to the depot;
# the ISP never forwards between pods. Nothing else outside the pod answers.

APT_SOURCE = "deb [trusted=yes] http://{address}/ ./\n"
_NFT_TABLE = "tai_prep"


def apt_source(address: object) -> str:
    return ("# tai-lab: the plateau's offline package depot (the only package source in the lab)\n"
            + APT_SOURCE.format(address=address))


def _isp_run(backend, argv: list[str], *, input: str | None = None, what: str) -> None:
    res = backend.transport(None, "isp").run(argv, timeout=60, input=input)
    if not res.ok:
        raise CommandFailed(f"the ISP could not {what}: {res.brief()}")


_DEST = "/srv/tai-depot"
_SITE = "/etc/nginx/sites-enabled/tai-depot"


def serve(lab: "LabContext", name: str, address: object) -> None:
    """Copy the depot into the ISP (once) and serve it on ``address``; idempotent.

    Through the backend's contract: the copy is ``copy_to_node`` (the ``files``
    capability), everything else runs in the ISP through its transport."""
    backend = lab.backend
    repo = repo_dir(name)
    isp = backend.transport(None, "isp")
    built = (manifest(name) or {}).get("built_at", "")
    stamp = isp.run(["cat", f"{_DEST}/.tai-depot"], timeout=10)
    if not stamp.ok or stamp.stdout != built:
        lab.progress(f"depot {name}: copied into the ISP")
        backend.copy_to_node(None, "isp", repo, _DEST)
        _isp_run(backend, ["sh", "-c", f"cat > {_DEST}/.tai-depot"], input=built, what="stamp the depot")
    _isp_run(backend, ["ip", "addr", "replace", f"{address}/32", "dev", "lo"], what="take the depot's address")
    conf = (f"# tai-lab: the plateau's offline package depot\n"
            f"server {{\n  listen {address}:80;\n  root {_DEST};\n  autoindex on;\n}}\n")
    if isp.run(["cat", _SITE], timeout=10).stdout != conf:
        _isp_run(backend, ["sh", "-c", f"cat > {_SITE}"], input=conf, what="configure the depot's site")
        _isp_run(backend, ["systemctl", "reload-or-restart", "nginx"], what="serve the depot")
    rules = (f"table inet {_NFT_TABLE} {{\n"
             "  set pods { type ifname; }\n"
             "  chain input {\n"
             "    type filter hook input priority -10; policy accept;\n"
             f"    iifname @pods ip daddr {address} tcp dport 80 accept\n"
             "    iifname @pods drop\n"
             "  }\n}\n")
    if not backend.transport(None, "isp").run(["nft", "list", "table", "inet", _NFT_TABLE], timeout=10).ok:
        _isp_run(backend, ["nft", "-f", "-"], input=rules, what="filter the prep phase")


def open_for(lab: "LabContext", pod: int) -> None:
    """The pod reaches the depot, and nothing else outside itself."""
    _isp_run(lab.backend, ["nft", "add", "element", "inet", _NFT_TABLE, "pods", f"{{ pod{pod} }}"],
             what=f"filter pod {pod}")
    lab.backend.set_upstream(pod, True)


def close_for(lab: "LabContext", pod: int) -> None:
    """Forget the pod's depot filter (the phase's own rule, link up or down, applies again)."""
    t = lab.backend.transport(None, "isp")
    if t.run(["nft", "list", "set", "inet", _NFT_TABLE, "pods"], timeout=10).ok:
        t.run(["nft", "delete", "element", "inet", _NFT_TABLE, "pods", f"{{ pod{pod} }}"], timeout=10)


def is_open_for(lab: "LabContext", pod: int) -> bool:
    res = lab.backend.transport(None, "isp").run(["nft", "list", "set", "inet", _NFT_TABLE, "pods"], timeout=10)
    return res.ok and re.search(rf'"pod{pod}"', res.stdout) is not None
