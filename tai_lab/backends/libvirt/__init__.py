"""Backend ``libvirt``: every OS node a VM (KVM, else TCG), every segment an isolated network.

For lab ``mini`` (see ``xml`` for the names):

* each VLAN of a pod is an isolated libvirt network (no forward, no host address): the
  pod's switch; the switch and access-point nodes are not VMs;
* the upstream ISP is one small VM ``tai-mini-isp`` with one interface per pod, each on
  the pod's isolated ``…-wan`` network: the only thing pods share, and its firewall drops
  forwarding between pods;
* storage through libvirt (``storage``), no shared storage: one ``dir`` pool per
  lab and hypervisor, the image's disk, kernel and initramfs uploaded into it once; disks
  are linked clones there (a qcow2 volume per node backed by the uploaded disk), and the
  domains use the paths of those volumes on their host;
* the prep-phase cut is the link state of the router's WAN interface, set at the
  hypervisor (``updateDeviceFlags``): root inside the guest cannot undo it;
* snapshots are libvirt internal snapshots of running domains (disk + memory in the
  overlay): a revert resumes the pod where it was, no boot;
* out-of-band access is the QEMU guest agent (``QgaTransport``; Ansible through the
  ``community.libvirt.libvirt_qemu`` connection).

Every domain, network, pool and volume is recorded in the lab journal before it is created,
with the libvirt URI it lives on; ``down`` removes exactly those.

The package's modules: ``backend`` (the contract: build, tear down, snapshots, access),
``connection`` (libvirt-python, loaded when needed; one connection per URI), ``placement``
(which hypervisor each pod lives on), ``machines`` (domains: definition, KVM or TCG, boot, guest
agent, power), ``wiring`` (networks, the ISP's addresses, the WAN link's state), ``storage``
(pools and volumes), ``removal`` (one object removed by its name, for ``down`` and
``down --orphans``), ``xml`` (the objects as XML, from ``templates/``; pure) and ``export``
(the VM plan of a scenario as plain data for `tai-lab export` and the Vagrantfile).
"""
from .backend import LibvirtBackend

__all__ = ["LibvirtBackend"]
