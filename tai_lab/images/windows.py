"""Windows images (server and client) from the trainer's ISOs: unattended installation files.

UNTESTED on real Windows: these machines cannot run it. What is tested is what can be:
the inputs are checked (ISO 9660 volumes, the virtio-win ISO by its label), the
``autounattend.xml`` is rendered from ``images/windows/autounattend.xml.j2`` with the
recipe (``images/<name>/windows.yaml``) and is well-formed; the installation domain XML
passes ``virt-xml-validate``.

The installation (``build``): a VM boots the Windows ISO with the virtio-win ISO and a
small ISO holding ``autounattend.xml``; Windows Setup loads the virtio storage and network
drivers, installs, logs on once, installs the virtio guest tools and the QEMU guest agent,
enables WinRM (HTTP on the lab network, for Ansible's winrm connection), then shuts down.
The disk becomes ``<images>/<name>/disk.qcow2``.
"""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .. import paths
from ..errors import NotFoundError, PrerequisiteError
from ..lang import tr
from . import artifact
from .artifact import Progress
DRIVERS = ("viostor", "vioscsi", "NetKVM", "vioserial", "Balloon", "qxldod")
DRIVE_LETTERS = ("D", "E", "F", "G")
ISO_MAGIC_OFFSET = 0x8001      # "CD001" of the primary volume descriptor
ISO_LABEL_OFFSET = 0x8028      # volume identifier, 32 bytes


@dataclass(frozen=True)
class WindowsRecipe:
    name: str
    role: str                 # server or client
    image_name: str
    virtio_dir: str
    locale: str
    keyboard: str
    timezone: str
    disk_gib: int
    memory_mib: int
    vcpus: int
    features: tuple[str, ...]
    bypass_hardware_checks: bool


def windows_recipe_names() -> list[str]:
    return sorted(p.parent.name for p in paths.data_dir("images").glob("*/windows.yaml"))


def is_windows(name: str) -> bool:
    return (paths.data_dir("images") / name / "windows.yaml").is_file()


def load_windows_recipe(name: str) -> WindowsRecipe:
    path = paths.data_dir("images") / name / "windows.yaml"
    if not path.is_file():
        names = ", ".join(windows_recipe_names())
        raise NotFoundError(tr(f"image Windows inconnue {name!r}", f"unknown Windows image {name!r}"),
                            tr(f"recettes Windows : {names}", f"Windows recipes: {names}"))
    d = artifact.read_recipe(path)
    return WindowsRecipe(d["name"], d["role"], d["image_name"], d["virtio_dir"], d.get("locale", "fr-FR"),
                         d.get("keyboard", "040c:0000040c"), d.get("timezone", "Romance Standard Time"),
                         int(d.get("disk_gib", 40)), int(d.get("memory_mib", 4096)), int(d.get("vcpus", 2)),
                         tuple(d.get("features", [])), bool(d.get("bypass_hardware_checks", False)))


def iso_label(path: Path) -> str:
    """The volume label of an ISO 9660 image; raises if the file is not one."""
    try:
        with path.open("rb") as f:
            f.seek(ISO_MAGIC_OFFSET)
            magic = f.read(5)
            f.seek(ISO_LABEL_OFFSET)
            label = f.read(32)
    except OSError as exc:
        raise PrerequisiteError(tr(f"impossible de lire {path} : {exc.strerror}", f"cannot read {path}: {exc.strerror}"),
                                tr("donner le chemin d'un fichier .iso", "give the path of an .iso file")) from None
    if magic != b"CD001":
        raise PrerequisiteError(tr(f"{path} n'est pas une image ISO 9660 (pas de signature CD001)",
                                   f"{path} is not an ISO 9660 image (no CD001 signature)"),
                                tr("donner le fichier ISO lui-même, pas un dossier ni un zip",
                                   "give the ISO file itself, not a folder or a zip"))
    return label.decode("ascii", errors="replace").strip()


def check_inputs(recipe: WindowsRecipe, iso: Path | None, virtio_iso: Path | None) -> dict[str, str]:
    """Every input present and of the right kind, before anything is created."""
    need = tr(f"{recipe.name} demande deux ISO fournies par le formateur : l'ISO d'installation de Windows "
              f"(qui contient l'image {recipe.image_name!r}) avec --iso CHEMIN, et l'ISO des pilotes virtio-win "
              "(virtio-win-*.iso, du projet virtio-win) avec --virtio-iso CHEMIN",
              f"{recipe.name} needs two ISOs the trainer provides: the Windows installation ISO "
              f"(containing the image {recipe.image_name!r}) with --iso PATH, and the virtio-win drivers "
              "ISO (virtio-win-*.iso, from the virtio-win project) with --virtio-iso PATH")
    missing = [opt for opt, p in (("--iso", iso), ("--virtio-iso", virtio_iso)) if p is None]
    if missing or iso is None or virtio_iso is None:
        raise PrerequisiteError(tr(f"il manque {' et '.join(missing)}", f"missing {' and '.join(missing)}"), need)
    for opt, p in (("--iso", iso), ("--virtio-iso", virtio_iso)):
        if not p.is_file():
            raise PrerequisiteError(tr(f"{opt} {p} : fichier introuvable", f"{opt} {p}: no such file"), need)
    labels = {"iso": iso_label(iso), "virtio_iso": iso_label(virtio_iso)}
    if not labels["virtio_iso"].lower().startswith("virtio-win"):
        raise PrerequisiteError(tr(f"--virtio-iso {virtio_iso} porte l'étiquette {labels['virtio_iso']!r}, "
                                   "pas virtio-win-…", f"--virtio-iso {virtio_iso} is labelled "
                                   f"{labels['virtio_iso']!r}, not virtio-win-…"),
                                tr("donner l'ISO des pilotes virtio-win (elle contient viostor, NetKVM, guest-agent)",
                                   "give the virtio-win drivers ISO (it holds viostor, NetKVM, guest-agent)"))
    if labels["iso"].lower().startswith("virtio-win"):
        raise PrerequisiteError(tr(f"--iso {iso} est l'ISO virtio-win", f"--iso {iso} is the virtio-win ISO"),
                                tr("donner l'ISO d'installation de Windows avec --iso",
                                   "give the Windows installation ISO as --iso"))
    return labels


def first_logon_commands(recipe: WindowsRecipe) -> list[dict]:
    ps = "powershell -NoProfile -ExecutionPolicy Bypass -Command "
    find = ("$d = (Get-Volume | Where-Object {$_.FileSystemLabel -like 'virtio-win*'}).DriveLetter; ")
    cmds = [
        {"description": "Pilotes et outils virtio (virtio-win-gt)",
         "command": ps + '"' + find + "Start-Process msiexec -Wait -ArgumentList '/i', \"${d}:\\virtio-win-gt-x64.msi\", '/qn'\""},
        {"description": "Agent invité QEMU (contrôle hors bande)",
         "command": ps + '"' + find
                    + "Start-Process msiexec -Wait -ArgumentList '/i', \"${d}:\\guest-agent\\qemu-ga-x86_64.msi\", '/qn'\""},
        {"description": "Réseau en profil privé (WinRM le demande)",
         "command": ps + '"Get-NetConnectionProfile | Set-NetConnectionProfile -NetworkCategory Private"'},
        {"description": "WinRM activé (Ansible, tai-lab)",
         "command": ps + '"Enable-PSRemoting -Force -SkipNetworkProfileCheck; '
                         'Set-Item WSMan:\\localhost\\Service\\Auth\\Basic $true; '
                         'New-NetFirewallRule -DisplayName WinRM-HTTP -Direction Inbound -Protocol TCP -LocalPort 5985 -Action Allow"'},
    ]
    if recipe.features:
        cmds.append({"description": "Rôles installés (configurés par le scénario)",
                     "command": ps + f'"Install-WindowsFeature -Name {",".join(recipe.features)} -IncludeManagementTools"'})
    cmds.append({"description": "Fin de la construction de l'image", "command": "shutdown /s /t 30"})
    return cmds


def render_autounattend(recipe: WindowsRecipe, *, admin_password: str, computer_name: str = "*",
                        product_key: str | None = None, admin_user: str | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(paths.data_dir("images") / "windows")),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("autounattend.xml.j2").render(
        name=recipe.name, role=recipe.role, locale=recipe.locale, keyboard=recipe.keyboard,
        timezone=recipe.timezone, image_name=recipe.image_name, virtio_dir=recipe.virtio_dir,
        drivers=DRIVERS, drive_letters=DRIVE_LETTERS, bypass_hardware_checks=recipe.bypass_hardware_checks,
        product_key=product_key, computer_name=computer_name,
        admin_user=admin_user or ("Administrator" if recipe.role == "server" else "technicien"),
        admin_password=admin_password, first_logon=first_logon_commands(recipe))


def render_install_domain(recipe: WindowsRecipe, *, disk: Path, iso: Path, virtio_iso: Path,
                          answer_iso: Path, domain_type: str = "kvm") -> str:
    """The libvirt domain that runs Windows Setup once (q35, SATA CD-ROMs, virtio disk and NIC)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(paths.data_dir("images") / "windows")),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("install-domain.xml.j2").render(
        name=f"tai-image-{recipe.name}", memory_mib=recipe.memory_mib, vcpus=recipe.vcpus,
        domain_type=domain_type, disk=disk, iso=iso, virtio_iso=virtio_iso, answer_iso=answer_iso)


def prepare(name: str, *, iso: Path | None, virtio_iso: Path | None, product_key: str | None = None,
            progress: Progress = lambda _m: None) -> Path:
    """Check the inputs and write the installation files to ``<images>/<name>/build/``.

    Returns that directory. Running the installation needs a host that runs Windows guests
    (KVM) and ``xorriso`` (the answer ISO): it is not done on hosts without them.
    """
    recipe = load_windows_recipe(name)
    labels = check_inputs(recipe, iso, virtio_iso)
    out = artifact.image_dir(name) / "build"
    out.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12) + "!A1"
    (out / "autounattend.xml").write_text(render_autounattend(recipe, admin_password=password,
                                                              product_key=product_key))
    (out / "admin-password").write_text(password + "\n")
    (out / "admin-password").chmod(0o600)
    disk, answer = out / "disk.qcow2", out / "answer.iso"
    assert iso is not None and virtio_iso is not None     # check_inputs refused without them
    (out / "install-domain.xml").write_text(render_install_domain(
        recipe, disk=disk, iso=iso.resolve(), virtio_iso=virtio_iso.resolve(), answer_iso=answer))
    progress(tr(f"{name} : entrées vérifiées (ISO Windows {labels['iso']!r}, pilotes {labels['virtio_iso']!r}) ; "
                f"fichiers d'installation dans {out}",
                f"{name}: inputs checked (Windows ISO {labels['iso']!r}, drivers {labels['virtio_iso']!r}); "
                f"installation files in {out}"))
    if shutil.which("xorriso") is None:
        progress(tr("xorriso n'est pas installé (paquet Debian xorriso) : l'ISO de réponses et la VM d'installation "
                    "sont laissées à un hôte qui fait tourner des invités Windows (non essayé ici)",
                    "xorriso is not installed (Debian package xorriso): the answer ISO and the installation VM are "
                    "left to a host that can run Windows guests (untested here)"))
    return out
