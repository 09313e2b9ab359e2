"""A Vagrant box (provider libvirt) made from tai-lab's own VM image: no box is downloaded.

``images/<base>/vagrant.yaml`` says what Vagrant needs on top of the VM recipe
(``vm.yaml``): an SSH server, sudo, a user with a key pair generated for this box (never
Vagrant's public "insecure" key), and DHCP on the NIC vagrant-libvirt's management network
attaches to. The build is the VM build (:func:`tai_lab.images.vm.make_disk`, same packages, same
kernel, same direct kernel boot) with those additions, then packaged as a box:

``<images>/<base>-vagrant/``
    ``<name>.box``     the box: metadata.json, Vagrantfile, box.img (qcow2), vmlinuz,
                       initrd.img and the private key the box's Vagrantfile points at;
    ``box.json``       a local catalog (``file://`` URL, sha256): ``vagrant box add box.json``,
                       or the project's Vagrantfile adds it by itself (``config.vm.box_url``);
    ``vagrant_key``, ``vagrant_key.pub``  the key pair, kept beside the box;
    ``manifest.json``, ``build.log``.

The box's NIC layout: vagrant-libvirt's management NIC sits at a fixed PCI slot
(``management_pci_slot``, set by the box's Vagrantfile), after the scenario's NICs, which
keep eth0, eth1… in the scenario's order as on tai-lab's own VMs; only that NIC takes an
address by DHCP (systemd-networkd matches its PCI path), the scenario's NICs are the lab's.
"""
from __future__ import annotations

import hashlib
import json
import tarfile
import time
from dataclasses import dataclass, replace
from pathlib import Path


from ..errors import CommandFailed, PrerequisiteError, TaiLabError
from ..lang import tr
from ..hostcheck import require_root, require_tools
from . import artifact, container, vm as images_vm
from .artifact import Progress, run
from .vm import VmRecipe

# Bumped when what this module writes into the box changes (part of the recipe digest).
BOX_FORMAT = 3
KEY = "vagrant_key"
CATALOG = "box.json"
# Kernel options tai-lab adds to its own VMs under TCG (backends/libvirt/machines.py TCG_CMDLINE):
# the box's Vagrantfile adds them when TAI_LAB_VAGRANT_DRIVER=qemu.
TCG_ENV = "TAI_LAB_VAGRANT_DRIVER"


@dataclass(frozen=True)
class VagrantRecipe:
    name: str                  # debian-12-vagrant
    box: str                   # tai-lab/debian-12
    user: str
    management_pci_slot: int
    vm: VmRecipe               # the VM recipe, packages extended, named like the box image
    digest: str


def is_vagrant(name: str) -> bool:
    return name.endswith("-vagrant")


def load_vagrant_recipe(name: str) -> VagrantRecipe:
    base = name.removesuffix("-vagrant")
    path = artifact.recipe_file(base, "vagrant.yaml", "Vagrant recipe", suffix="-vagrant")
    raw = path.read_bytes()
    data = artifact.read_recipe(path, raw)
    vm = images_vm.load_vm_recipe(data.get("base", base))
    slot = int(data.get("management_pci_slot", 0x1f))
    if not 0x03 <= slot <= 0x1f:
        raise TaiLabError(tr(f"{path} : management_pci_slot {slot:#x} n'est pas un emplacement PCI possible pour "
                             "une carte réseau",
                             f"{path}: management_pci_slot {slot:#x} is not a PCI slot a NIC can take"),
                          tr("prendre un emplacement entre 0x03 et 0x1f, au-dessus des cartes du scénario (0x10…)",
                             "use a slot between 0x03 and 0x1f, above the scenario's NICs (0x10…)"))
    digest = hashlib.sha256(raw + vm.digest.encode() + f"box-format-{BOX_FORMAT}".encode()).hexdigest()[:16]
    recipe_name = data.get("name", f"{base}-vagrant")
    return VagrantRecipe(
        name=recipe_name, box=data.get("box", f"tai-lab/{base}"), user=data.get("user", "vagrant"),
        management_pci_slot=slot,
        vm=replace(vm, name=recipe_name, packages=vm.packages + tuple(data.get("packages", [])), digest=digest),
        digest=digest,
    )


# ------------------------------------------------------------------ rendered files (pure)
def box_metadata(virtual_size_gib: int) -> dict:
    """metadata.json of a vagrant-libvirt box (format v1: one qcow2 disk named box.img)."""
    return {"provider": "libvirt", "format": "qcow2", "virtual_size": int(virtual_size_gib)}


def box_vagrantfile(recipe: VagrantRecipe, cmdline: str, tcg_cmdline: str) -> str:
    """The Vagrantfile inside the box: direct kernel boot, SSH user and key, management NIC."""
    slot = f"0x{recipe.management_pci_slot:02x}"
    return f"""# -*- mode: ruby -*-
# Box {recipe.box}, built by `tai-lab image build {recipe.name}` from tai-lab's own VM image.
# Direct kernel boot: the kernel and initramfs travel in the box beside box.img (no
# bootloader in the disk). Vagrant logs in as "{recipe.user}" with the key pair generated for
# this box (beside this file), never with Vagrant's public insecure key.
# The management NIC sits at PCI slot {slot}, after the scenario's NICs (eth0, eth1… keep the
# scenario's order); it is the only NIC that takes an address by DHCP.
Vagrant.configure("2") do |config|
  config.ssh.username = {json.dumps(recipe.user)}
  config.ssh.private_key_path = [File.join(__dir__, {json.dumps(KEY)})]
  config.ssh.insert_key = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(__dir__, "vmlinuz")
    lv.initrd = File.join(__dir__, "initrd.img")
    # Under TCG ({TCG_ENV}=qemu) the kernel options tai-lab's own VMs get there.
    lv.cmd_line = {json.dumps(cmdline)} + (ENV[{json.dumps(TCG_ENV)}] == "qemu" ? {json.dumps(tcg_cmdline)} : "")
    lv.management_network_pci_bus = "0x00"
    lv.management_network_pci_slot = {json.dumps(slot)}
    lv.graphics_type = "none"    # serial console, as tai-lab's VMs
    lv.random model: "random"    # virtio-rng, as tai-lab's VMs: no wait for entropy at boot
  end
end
"""


def networkd_unit(recipe: VagrantRecipe) -> str:
    return f"""# tai-lab Vagrant box: vagrant-libvirt's management NIC (PCI slot 0x{recipe.management_pci_slot:02x})
# takes its address by DHCP from the management network; the scenario's NICs are the lab's.
[Match]
Path=pci-0000:00:{recipe.management_pci_slot:02x}.*

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
ClientIdentifier=mac
# SSH from the host is all this NIC is for: no default route, resolver or time server from it,
# so nothing of the guest leaves through the management network (its dnsmasq forwards DNS
# to the host's resolvers).
UseDNS=no
UseRoutes=no
UseNTP=no
UseDomains=no
"""


def catalog(recipe: VagrantRecipe, version: str, box_path: Path, sha256: str) -> dict:
    """A local box catalog: what `vagrant box add box.json` and config.vm.box_url read."""
    return {
        "name": recipe.box,
        "description": f"Debian 12 of tai-lab ({recipe.name}), provider libvirt, direct kernel boot",
        "versions": [{"version": version, "providers": [{
            "name": "libvirt", "url": box_path.resolve().as_uri(),
            "checksum_type": "sha256", "checksum": sha256}]}],
    }


SSHD_CONF = """# tai-lab Vagrant box: keys only, no reverse DNS (the management network has no resolver
# worth waiting for), one host key made at first boot (not shared by every box).
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
"""
SSH_HOSTKEY_DROPIN = """# tai-lab Vagrant box: this machine's own host key, made at its first boot (ed25519: quick
# even under emulation), then the usual configuration check.
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
"""


# ------------------------------------------------------------------ build
def _keypair(work: Path, recipe: VagrantRecipe) -> str:
    require_tools("ssh-keygen")
    key = work / KEY
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"tai-lab {recipe.box}",
                 "-f", str(key)], work / "build.log")
    key.chmod(0o600)
    return (work / f"{KEY}.pub").read_text()


def _customize(root: Path, work: Path, recipe: VagrantRecipe, pubkey: str) -> None:
    """In the chroot tree, after the packages: the user, its key, sudo, sshd, the management NIC."""
    log = work / "build.log"
    user = recipe.user
    run(["chroot", str(root), "useradd", "--create-home", "--user-group", "--shell", "/bin/bash", user], log)
    # "*": no password at all (a locked "!" account may be refused even with a key).
    run(["chroot", str(root), "usermod", "-p", "*", user], log)
    ssh_dir = root / "home" / user / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(pubkey)
    (ssh_dir / "authorized_keys").chmod(0o600)
    run(["chroot", str(root), "chown", "-R", f"{user}:{user}", f"/home/{user}/.ssh"], log)
    sudoers = root / "etc/sudoers.d" / user
    sudoers.write_text(f"# tai-lab Vagrant box: Vagrant runs its guest commands through sudo\n"
                       f"{user} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    (root / "etc/ssh/sshd_config.d/tai-lab-vagrant.conf").write_text(SSHD_CONF)
    for f in (root / "etc/ssh").glob("ssh_host_*"):
        f.unlink()          # made at first boot, one per machine
    dropin = root / "etc/systemd/system/ssh.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "tai-lab-hostkey.conf").write_text(SSH_HOSTKEY_DROPIN)
    (root / "etc/systemd/network/10-tai-lab-vagrant-mgmt.network").write_text(networkd_unit(recipe))
    run(["chroot", str(root), "systemctl", "enable", "ssh.service", "systemd-networkd.service"], log)
    # Nothing waits for "online": a machine without the management NIC boots as fast as before.
    run(["chroot", str(root), "systemctl", "mask", "systemd-networkd-wait-online.service"], log)
    if not (root / "etc/systemd/system/multi-user.target.wants/ssh.service").exists():
        raise CommandFailed(tr("le serveur SSH de la box Vagrant n'est pas activé après la construction",
                               "the Vagrant box's SSH server is not enabled after the build"),
                            tr(f"voir {log}", f"see {log}"))


def _package(work: Path, recipe: VagrantRecipe, data: dict, tcg_cmdline: str) -> dict:
    """The box (a tar, not compressed: qcow2 is already sparse) and its catalog."""
    (work / "metadata.json").write_text(json.dumps(box_metadata(recipe.vm.disk_size_gib)))
    (work / "Vagrantfile").write_text(box_vagrantfile(recipe, data["cmdline"], tcg_cmdline))
    box = work / f"{recipe.name}.box"
    members = [("metadata.json", "metadata.json"), ("Vagrantfile", "Vagrantfile"), ("disk.qcow2", "box.img"),
               ("vmlinuz", "vmlinuz"), ("initrd.img", "initrd.img"), (KEY, KEY), (f"{KEY}.pub", f"{KEY}.pub")]
    with tarfile.open(box, "w") as tar:
        for src, arc in members:
            tar.add(work / src, arcname=arc)
    for f in ("disk.qcow2", "vmlinuz", "initrd.img", "metadata.json", "Vagrantfile"):
        (work / f).unlink()          # all in the box now
    h = hashlib.sha256()
    with box.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            h.update(chunk)
    version = time.strftime("%Y%m%d.%H%M%S")
    target = artifact.image_dir(recipe.name)
    (work / CATALOG).write_text(json.dumps(catalog(recipe, version, target / box.name, h.hexdigest()), indent=2))
    data.update(box=box.name, box_name=recipe.box, box_version=version, box_sha256=h.hexdigest(),
                catalog=CATALOG, key=KEY, user=recipe.user,
                management_pci_slot=f"0x{recipe.management_pci_slot:02x}")
    (work / "manifest.json").write_text(json.dumps(data, indent=2))
    return data


@dataclass(frozen=True)
class VagrantBox:
    name: str           # tai-lab/debian-12
    version: str
    box: Path
    catalog: Path
    key: Path


def box(name: str) -> VagrantBox:
    """The built box of image ``name``; raises with the build command if absent."""
    d = artifact.image_dir(name)
    man = artifact.manifest(name)
    if not man or "box" not in man or not (d / man["box"]).is_file():
        raise PrerequisiteError(tr(f"la box Vagrant {name!r} n'est pas construite", f"Vagrant box {name!r} is not built"),
                                tr(f"la construire une fois avec : tai-lab image build {name} (quelques minutes)",
                                   f"build it once with: tai-lab image build {name} (a few minutes)"))
    return VagrantBox(man["box_name"], man["box_version"], d / man["box"], d / man["catalog"], d / man["key"])


@artifact.locked("box")
def build(name: str, *, force: bool = False, progress: Progress = lambda _m: None) -> VagrantBox:
    require_root(tr("la construction d'une box Vagrant", "building a Vagrant box"))
    from ..backends.libvirt.machines import TCG_CMDLINE
    recipe = load_vagrant_recipe(name)
    if artifact.already_built(recipe.name, recipe.digest, what="Vagrant box", force=force, progress=progress):
        return box(recipe.name)
    container.rootfs(recipe.vm.base)      # raises with its own build command, before anything changes
    work = artifact.new_work_dir(recipe.name)
    pubkey = _keypair(work, recipe)
    data = images_vm.make_disk(recipe.vm, work, progress=progress,
                               customize=lambda root, w: _customize(root, w, recipe, pubkey))
    progress(tr("mise en paquet de la box", "packaging the box"))
    data = _package(work, recipe, data, TCG_CMDLINE)
    artifact.publish(work, recipe.name)
    add = f"vagrant box add {artifact.image_dir(recipe.name) / CATALOG}"
    progress(tr(f"box Vagrant {recipe.box} ({recipe.name}) construite en {data['build_seconds']} s : {add}",
                f"Vagrant box {recipe.box} ({recipe.name}) built in {data['build_seconds']} s: {add}"))
    return box(recipe.name)

