"""The Vagrant box made from tai-lab's VM image: recipe, rendered files, packaging, catalog,
and the box + the project's Vagrantfile accepted by Vagrant itself (no VM is started)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tai_lab import paths
from tai_lab.images import artifact, vagrant as images_vagrant, vm as images_vm
from tai_lab.backends.libvirt.machines import TCG_CMDLINE
from tai_lab.errors import NotFoundError, PrerequisiteError, TaiLabError

ROOT = Path(__file__).resolve().parents[2]
needs_vagrant = pytest.mark.skipif(shutil.which("vagrant") is None,
                                   reason="vagrant is not installed (scripts/install-host-deps.sh installs it)")


def test_recipe_extends_the_vm_recipe():
    r = images_vagrant.load_vagrant_recipe("debian-12-vagrant")
    vm = images_vm.load_vm_recipe("debian-12")
    assert r.name == "debian-12-vagrant" and r.box == "tai-lab/debian-12" and r.user == "vagrant"
    # Same packages as the VM image (same kernel, same agent) plus SSH and sudo.
    assert r.vm.packages[:len(vm.packages)] == vm.packages
    assert {"openssh-server", "sudo"} <= set(r.vm.packages)
    assert r.vm.cmdline == vm.cmdline and r.vm.base == "debian-12" and r.vm.name == "debian-12-vagrant"
    # A change of the VM recipe is a change of the box.
    assert r.digest != vm.digest and r.vm.digest == r.digest
    assert r.management_pci_slot == 0x1f
    assert images_vagrant.is_vagrant("debian-12-vagrant") and not images_vagrant.is_vagrant("debian-12-vm")


def test_unknown_vagrant_recipe_says_which_exist():
    with pytest.raises(NotFoundError, match="n'a pas de recette Vagrant") as exc:
        images_vagrant.load_vagrant_recipe("nope-vagrant")
    assert "no Vagrant recipe" in exc.value.message.en
    assert "debian-12-vagrant" in str(exc.value)


def test_bad_management_slot_is_refused(tmp_path, monkeypatch):
    data = tmp_path / "images"
    shutil.copytree(ROOT / "images/debian-12", data / "debian-12")
    text = (data / "debian-12/vagrant.yaml").read_text().replace("management_pci_slot: 0x1f",
                                                                   "management_pci_slot: 0x40")
    (data / "debian-12/vagrant.yaml").write_text(text)
    monkeypatch.setattr(paths, "data_dir", lambda name: data)   # the one paths module
    with pytest.raises(TaiLabError, match="0x40"):
        images_vagrant.load_vagrant_recipe("debian-12-vagrant")


def test_box_metadata_and_vagrantfile():
    r = images_vagrant.load_vagrant_recipe("debian-12-vagrant")
    assert images_vagrant.box_metadata(3) == {"provider": "libvirt", "format": "qcow2", "virtual_size": 3}
    vf = images_vagrant.box_vagrantfile(r, r.vm.cmdline, TCG_CMDLINE)
    assert 'lv.kernel = File.join(__dir__, "vmlinuz")' in vf
    assert 'lv.initrd = File.join(__dir__, "initrd.img")' in vf
    assert f'lv.cmd_line = "{r.vm.cmdline}" + (ENV["TAI_LAB_VAGRANT_DRIVER"] == "qemu" ? "{TCG_CMDLINE}" : "")' in vf
    assert 'config.ssh.private_key_path = [File.join(__dir__, "vagrant_key")]' in vf
    assert "config.ssh.insert_key = false" in vf and 'config.ssh.username = "vagrant"' in vf
    assert 'lv.management_network_pci_slot = "0x1f"' in vf
    assert "insecure" not in vf.replace("never with Vagrant's public insecure key", "")
    # The NIC that takes DHCP is the management NIC, found by the same slot.
    unit = images_vagrant.networkd_unit(r)
    assert "Path=pci-0000:00:1f.*" in unit and "DHCP=ipv4" in unit
    # … and takes nothing else from it: no default route, no resolver (network rule)
    assert all(f"{k}=no" in unit for k in ("UseDNS", "UseRoutes", "UseNTP", "UseDomains"))
    if shutil.which("ruby"):
        proc = subprocess.run(["ruby", "-c", "-e", vf], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def _fake_box(tmp_path: Path, monkeypatch) -> images_vagrant.VagrantBox:
    """Package a box the way the build does, from a tiny disk and dummy kernel files."""
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path / "images"))
    r = images_vagrant.load_vagrant_recipe("debian-12-vagrant")
    work = artifact.new_work_dir(r.name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "disk.qcow2"), "16M"], check=True)
    (work / "vmlinuz").write_bytes(b"kernel")
    (work / "initrd.img").write_bytes(b"initrd")
    (work / "vagrant_key").write_text("private")
    (work / "vagrant_key").chmod(0o600)
    (work / "vagrant_key.pub").write_text("ssh-ed25519 AAAA tai-lab\n")
    data = {"name": r.name, "cmdline": r.vm.cmdline, "built_at": "now", "build_seconds": 1.0,
            "recipe_digest": r.digest}
    images_vagrant._package(work, r, data, TCG_CMDLINE)
    artifact.publish(work, r.name)
    return images_vagrant.box(r.name)


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed (qemu-utils)")
def test_package_writes_box_and_catalog(tmp_path, monkeypatch):
    box = _fake_box(tmp_path, monkeypatch)
    assert box.name == "tai-lab/debian-12" and box.box.name == "debian-12-vagrant.box"
    with tarfile.open(box.box) as tar:
        names = set(tar.getnames())
        meta = json.load(tar.extractfile("metadata.json"))
        vf = tar.extractfile("Vagrantfile").read().decode()
        key_mode = tar.getmember("vagrant_key").mode
    assert names == {"metadata.json", "Vagrantfile", "box.img", "vmlinuz", "initrd.img",
                     "vagrant_key", "vagrant_key.pub"}
    assert meta == {"provider": "libvirt", "format": "qcow2", "virtual_size": 3}
    assert "lv.kernel" in vf and key_mode & 0o077 == 0
    cat = json.loads(box.catalog.read_text())
    prov = cat["versions"][0]["providers"][0]
    assert cat["name"] == "tai-lab/debian-12" and prov["name"] == "libvirt"
    assert prov["url"] == box.box.resolve().as_uri()
    assert prov["checksum"] == hashlib.sha256(box.box.read_bytes()).hexdigest()
    # The disk, kernel and initramfs live in the box only; the key pair stays beside it.
    left = {p.name for p in box.box.parent.iterdir()}
    assert left == {"debian-12-vagrant.box", "box.json", "vagrant_key", "vagrant_key.pub", "manifest.json"}


def test_box_not_built_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="tai-lab image build debian-12-vagrant"):
        images_vagrant.box("debian-12-vagrant")


@needs_vagrant
@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed (qemu-utils)")
def test_vagrant_adds_the_box_and_validates_the_projects_vagrantfile(tmp_path, monkeypatch):
    box = _fake_box(tmp_path, monkeypatch)
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_CHECKPOINT_DISABLE="1",
               TAI_LAB_IMAGES=str(tmp_path / "images"), TAI_LAB_VAGRANT_DRIVER="qemu",
               TAI_LAB_SCENARIO=str(ROOT / "scenarios/tai-mini-vm.yaml"), TAI_LAB_PODS="1",
               TAI_LAB_CMD=f"env PYTHONPATH={ROOT} {sys.executable} -m tai_lab.cli")
    # The catalog is what `vagrant box add` (and config.vm.box_url) reads: file URL, checksum.
    # Vagrant keeps data beside the Vagrantfile of its working directory: the test's, not the project's.
    proc = subprocess.run(["vagrant", "box", "add", str(box.catalog)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(["vagrant", "box", "list"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert f"tai-lab/debian-12 (libvirt, {box.version})" in proc.stdout, proc.stdout
    added = next((tmp_path / "vagrant.d/boxes").glob(f"tai-lab-VAGRANTSLASH-debian-12/{box.version}/libvirt"))
    assert (added / "vagrant_key").stat().st_mode & 0o077 == 0 and (added / "vmlinuz").is_file()
    # The project's Vagrantfile with tai-lab's box (its own Vagrantfile merged in) validates.
    shutil.copy(ROOT / "Vagrantfile", tmp_path / "Vagrantfile")
    proc = subprocess.run(["vagrant", "validate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "validated successfully" in proc.stdout, proc.stdout + proc.stderr
