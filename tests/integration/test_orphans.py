"""A lab whose record is gone: `tai-lab down --lab NAME --orphans` finds what bears its name and
removes exactly that; it refuses a lab that still has its record.

The record is lost the way it happens: `up` killed with SIGKILL under one lab home, the next
command run with another home (a test run's temporary home, a host set up again). libvirt
objects are made by hand with the lab's prefix, and with the prefix of a longer lab name that
must not be touched.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, host_leftovers, lab_name

LAB = lab_name("torp")
OTHER = LAB + "x"            # a longer lab name: tai-<LAB>x-… is not tai-<LAB>-…


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TAI_LAB_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_killed_up_whose_home_is_gone_is_cleared_by_name(lab_home, tmp_path):
    lost_home = tmp_path / "lost-home"
    scenario = tmp_path / "orph.yaml"
    scenario.write_text((ROOT / "scenarios/tai-mini-vm.yaml").read_text().replace("lab: mini", f"lab: {LAB}", 1))
    env = dict(os.environ, TAI_LAB_HOME=str(lost_home))
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "up", str(scenario), "--pods", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if sum(1 for x in host_leftovers(LAB) if x.startswith("process")) >= 2 and \
                    any(x.startswith("mount") for x in host_leftovers(LAB)):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the containers never started: {host_leftovers(LAB)}")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        left = host_leftovers(LAB)
        assert any(x.startswith("netns") for x in left), left
        # systemd-nspawn's lock on each container's root, left by the kill (named after the root's inode)
        roots = [x.split(" ", 1)[1] for x in left if x.startswith("mount ") and x.endswith("/root")]
        locks = [Path(f"/run/systemd/nspawn/locks/inode-{os.stat(r).st_dev}:{os.stat(r).st_ino}") for r in roots]
        assert roots and any(lk.exists() for lk in locks), (roots, locks)

        # Where the record still is, --orphans refuses and changes nothing.
        res = _cli("down", "--lab", LAB, "--orphans", home=lost_home)
        assert res.returncode != 0 and "pas un orphelin" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
        kept = lambda items: {x for x in items if x.split()[0] in ("netns", "mount", "userns", "cgroup")}  # noqa: E731
        assert kept(host_leftovers(LAB)) == kept(left)      # (a container may end by itself meanwhile)

        # Another home: the lab is unknown there; plain `down` says so, --orphans clears it.
        res = _cli("down", "--lab", LAB, home=lab_home)
        assert res.returncode != 0 and "Traceback" not in res.stderr
        res = _cli("down", "--lab", LAB, "--orphans", home=lab_home)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "supprimé : netns tai-" in res.stdout and "container tai-" in res.stdout
        assert host_leftovers(LAB) == []
        assert not [lk for lk in locks if lk.exists()]
        # Nothing is mounted in the lost home any more: it can be deleted like any directory.
        shutil.rmtree(lost_home)
        res = _cli("down", "--lab", LAB, "--orphans", home=lab_home)
        assert res.returncode == 0 and "rien ne porte plus le nom" in res.stdout, res.stdout
        res = _cli("down", "--lab", LAB, "--orphans", "--lang", "en", home=lab_home)
        assert res.returncode == 0 and "nothing bearing the name" in res.stdout, res.stdout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        from tai_lab import orphans
        if lost_home.exists():          # the test failed half-way: the lab home is lab_home here
            orphans.remove(LAB, orphans.find(LAB))
            shutil.rmtree(lost_home, ignore_errors=True)


def _virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["virsh", "-c", "qemu:///system", "-q", *args], capture_output=True, text=True,
                          check=check)


def _libvirt_names(lab: str) -> list[str]:
    out = []
    for kind in ("list", "net-list", "pool-list"):
        out += [n for n in _virsh(kind, "--all", "--name").stdout.split() if n.startswith(f"tai-{lab}-")]
    return sorted(out)


@pytest.mark.skipif(shutil.which("virsh") is None or subprocess.run(
    ["virsh", "-c", "qemu:///system", "version"], capture_output=True).returncode != 0,
    reason="libvirtd is not running (scripts/libvirt-host.sh starts it)")
def test_libvirt_objects_of_the_name_only(lab_home, tmp_path):
    made: list[tuple[str, str]] = []

    def define(kind: str, xml: str, name: str, *then: str) -> None:
        f = tmp_path / f"{name}.xml"
        f.write_text(xml)
        _virsh(f"{kind}-define" if kind != "dom" else "define", str(f))
        made.append((kind, name))
        for cmd in then:
            _virsh(cmd, name)

    try:
        for lab in (LAB, OTHER):
            define("net", f"<network><name>tai-{lab}-p1-users</name><bridge stp='off'/></network>",
                   f"tai-{lab}-p1-users", "net-start")
            define("dom", f"<domain type='qemu'><name>tai-{lab}-p1-pc1</name><memory unit='MiB'>64</memory>"
                          "<os><type arch='x86_64'>hvm</type></os></domain>", f"tai-{lab}-p1-pc1")
            pool_dir = tmp_path / f"pool-{lab}"
            define("pool", f"<pool type='dir'><name>tai-{lab}-pool-x</name><target><path>{pool_dir}</path>"
                           "</target></pool>", f"tai-{lab}-pool-x", "pool-build", "pool-start")
            _virsh("vol-create-as", f"tai-{lab}-pool-x", "disk.qcow2", "1M", "--format", "qcow2")
        assert len(_libvirt_names(LAB)) == 3 and len(_libvirt_names(OTHER)) == 3

        res = _cli("down", "--lab", LAB, "--orphans", "--json", home=lab_home)
        assert res.returncode == 0, res.stdout + res.stderr
        assert _libvirt_names(LAB) == []
        assert len(_libvirt_names(OTHER)) == 3             # a longer name is another lab
        assert not (tmp_path / f"pool-{LAB}").exists()      # the pool's volumes and directory went with it
    finally:
        for kind, name in made:
            if kind == "dom":
                _virsh("undefine", name, check=False)
            elif kind == "net":
                _virsh("net-destroy", name, check=False)
                _virsh("net-undefine", name, check=False)
            else:
                _virsh("pool-destroy", name, check=False)
                _virsh("pool-delete", name, check=False)
                _virsh("pool-undefine", name, check=False)
        shutil.rmtree(tmp_path / f"pool-{OTHER}", ignore_errors=True)


def test_bad_names_are_refused(lab_home):
    res = _cli("down", "--lab", "../etc", "--orphans", home=lab_home)
    assert res.returncode != 0 and "pas un nom de lab" in res.stderr and "Traceback" not in res.stderr
    res = _cli("down", "--orphans", home=lab_home)
    assert res.returncode != 0 and "--lab" in res.stderr
