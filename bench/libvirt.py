"""Benchmarks of the libvirt backend (issue 4): reset by revert vs rebuild, boot, disk.

On one small plateau of VMs (tai-mini-vm, ``--pods`` pods, TCG where KVM cannot run):
time of ``up``; boot of a VM to its guest agent; a pod reset by live snapshot revert
(``reset --pod 1``, verification included) against destroying and building the same pod
again (``rebuild --pod 1``, provisioning and verification included); disk used per pod
(its qcow2 volumes in the lab's pool, baseline snapshot inside). In the same run, when Vagrant and
vagrant-libvirt are installed and the box is built (``tai-lab image build debian-12-vagrant``:
the same Debian 12 VM image), the same pod's machines under Vagrant (``bench/vagrant.py``):
``vagrant up``, boot to SSH, ``vagrant snapshot restore`` against tai-lab's reset. Medians go
to docs/benchmarks.md (the section of the same name is replaced).

    sudo python3 bench/libvirt.py [--pods 1] [--rounds 2] [--lab bvirt] [--vagrant auto|yes|no]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import write_section  # noqa: E402
import vagrant as vagrant_bench  # noqa: E402  (bench/vagrant.py)
# This file is named like the libvirt module: its own directory must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from tai_lab.lab import Lab  # noqa: E402
from tai_lab.state import existing_labs  # noqa: E402

LAB = "bvirt"
TITLE = "## Plateau on the libvirt backend (issue 4)"


def pod_disk_mib(lab: Lab, pod: int) -> float:
    """What the pod's disk volumes (in the lab's pool on its host) occupy there."""
    from tai_lab.backends.libvirt import xml as lx
    uri = lab.backend.uri_of(pod)
    pool = lab.backend.conn(uri).storagePoolLookupByName(lx.pool_name(lab.name, uri))
    vols = [f"{lx.domain_name(lab.name, pod, n.name)}.qcow2" for n in lab.backend.vm_nodes(lab.plan.pod(pod))]
    return sum(pool.storageVolLookupByName(v).info()[2] for v in vols) / 2 ** 20    # allocation


def boot_to_agent(lab: Lab) -> float:
    """Power-cycle pod 1's client and time until its guest agent answers."""
    b = lab.backend
    dom = b.domain(1, "pc1")
    dom.destroy()
    t = time.monotonic()
    dom.create()
    tr = b.transport(1, "pc1")
    while not tr.ping():
        time.sleep(0.5)
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lab", default=LAB, help="lab name (Vagrant's machines use <lab>v)")
    ap.add_argument("--vagrant", choices=["auto", "yes", "no"], default="auto",
                    help="measure Vagrant too (auto: when vagrant-libvirt and the box are there)")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tai-bench-virt-"))
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    os.environ["TAI_LAB_HOME"] = str(home)
    scenario = home / f"{args.lab}.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {args.lab}", (ROOT / "scenarios/tai-mini-vm.yaml").read_text(),
                               count=1, flags=re.M))
    res: dict[str, list[float]] = {"up": [], "reset": [], "revert": [], "rebuild": [], "boot": [], "disk": []}
    vres: dict | None = None
    vnote = None
    if args.vagrant != "no":
        vnote = vagrant_bench.unavailable()
        if vnote and args.vagrant == "yes":
            sys.exit(f"Vagrant cannot be measured: {vnote}")
    # Vagrant first when the domain type is known (it fails fast), else after tai-lab's up.
    dtype = vagrant_bench.known_domain_type()
    if args.vagrant != "no" and not vnote and dtype:
        vres = vagrant_bench.measure(args.lab, dtype, args.rounds)
    try:
        t = time.monotonic()
        lab = Lab.up(scenario, pods=args.pods, backend="libvirt", progress=print)
        res["up"].append(time.monotonic() - t)
        dtype = lab.backend.domain_type(lab.backend.uri)
        res["disk"].append(pod_disk_mib(lab, 1))
        for _ in range(args.rounds):
            lab.exec(1, "pc1", ["sh", "-c", "echo bench > /root/change"])
            t = time.monotonic()
            results = lab.reset(pod=1)
            res["reset"].append(time.monotonic() - t)
            res["revert"].append(lab.backend.last_timings["revert"])
            assert all(r.passed for r in results), [r.evidence for r in results if not r.passed]
        t = time.monotonic()
        results = lab.rebuild(1)
        res["rebuild"].append(time.monotonic() - t)
        assert all(r.passed for r in results), [r.evidence for r in results if not r.passed]
        res["boot"].append(boot_to_agent(lab))
    finally:
        if args.lab in existing_labs():
            Lab.down(args.lab)
    if args.vagrant != "no" and not vnote and vres is None:
        vres = vagrant_bench.measure(args.lab, dtype, args.rounds)
    write(args, res, dtype, vres, vnote)


def vagrant_lines(res: dict, vres: dict | None, vnote: str | None) -> list[str]:
    if vres is None:
        return [f"Vagrant (`vagrant snapshot restore`) was not measured: {vnote or 'disabled (--vagrant no)'}.", ""]
    reset, restore = statistics.median(res["reset"]), statistics.median(vres["restore"])
    boots = [v for k, v in vres.items() if k.startswith("boot:")]
    n = len(vres["machines"])
    return [
        f"**Against Vagrant**, same run, same image: the box `tai-lab/debian-12` is tai-lab's Debian 12 VM "
        "image (`tai-lab image build debian-12-vagrant`: same packages and kernel, direct kernel boot, plus "
        "SSH), brought up by the project's `Vagrantfile` (vagrant-libvirt, same domain type, isolated "
        f"networks) for the same pod's {n} VMs ({', '.join(m.split('-p1-')[-1] for m in vres['machines'])}).",
        "",
        "| measure (Vagrant) | median |", "|---|---|",
        f"| `vagrant up` of the pod's {n} VMs (box volume upload into the pool included: "
        f"{vres['upload']:.0f} s, once per host) | {vres['up']:.0f} s |",
        (f"| boot of a VM to SSH (from \"Starting domain\" to \"Machine booted and ready\") | "
         f"{statistics.median(boots):.0f} s |" if boots else "| boot of a VM to SSH | not read |"),
        f"| `vagrant snapshot save` of the pod (running VMs, RAM included) | {vres['save']:.1f} s |",
        f"| **pod restore (`vagrant snapshot restore --no-provision`, {n} VMs, live revert; nothing verified)** | "
        f"**{restore:.1f} s** |",
        f"| of which Vagrant's fixed cost (`vagrant status` of the pod: Ruby, Vagrantfile with `tai-lab export`, "
        f"state) | {vres['status']:.1f} s |",
        f"| disk per pod (the {n} overlays with the snapshot, RAM included) | {vres['disk']:.0f} MiB |",
        f"| **Vagrant restore / tai-lab reset** | **{restore / reset:.2f}×** (target ≥ 1: a reset no slower "
        "than Vagrant's restore) |",
        "",
        "Both restore the running VMs from libvirt internal snapshots (RAM included, no boot). tai-lab's reset "
        "also sets the guests' clocks, re-applies the phase's link state and verifies the pod through the guest "
        "agent; Vagrant's restore reverts each VM in turn and checks nothing (the bench checks afterwards, over "
        "SSH, that the change made in the client is gone).",
        "",
    ]


def write(args, res, dtype: str, vres: dict | None = None, vnote: str | None = None) -> None:
    med = {k: statistics.median(v) for k, v in res.items() if v}
    lines = [
        TITLE, "",
        f"`sudo python3 bench/libvirt.py --pods {args.pods} --rounds {args.rounds}"
        f"{'' if args.lab == LAB else ' --lab ' + args.lab}` — "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({platform.machine()}), domain type "
        f"`{dtype}`{' (TCG: this host cannot run guests with KVM)' if dtype == 'qemu' else ''}, "
        "scenario tai-mini-vm (per pod a router and a client VM, plus the ISP VM). "
        f"Load average at the end: {os.getloadavg()[0]:.1f}. TCG times move with the host's load: "
        "take the ratios, not the absolute times.", "",
        "| measure | median |", "|---|---|",
        f"| `up` ({args.pods} pod(s), provisioning and baseline included) | {med['up']:.0f} s |",
        f"| boot of a VM to its guest agent | {med['boot']:.0f} s |",
        f"| pod reset (`reset --pod 1`: live revert + clock + verify) | {med['reset']:.1f} s |",
        f"| of which the revert of the pod's VMs | {med['revert']:.1f} s |",
        f"| pod rebuild (`rebuild --pod 1`: destroy, create, boot, provision, snapshot, verify) | {med['rebuild']:.0f} s |",
        f"| **rebuild / reset** | **{med['rebuild'] / med['reset']:.1f}×** (target ≥ 5×) |",
        f"| disk per pod (its qcow2 volumes in the lab's pool, baseline snapshot with RAM included) | {med['disk']:.0f} MiB |",
        "",
        *vagrant_lines(res, vres, vnote),
    ]
    out = Path(args.out)
    section = write_section(out, TITLE, lines)
    print(section)


if __name__ == "__main__":
    main()
