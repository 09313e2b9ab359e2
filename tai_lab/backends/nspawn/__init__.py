"""The embedded default backend: systemd-nspawn system containers in network namespaces.

Layout on the host, for lab ``std`` pod 1:

* one network namespace per node, ``tai-std-p1-<node>``; the switch is a namespace
  holding one bridge per VLAN (``vlan10``…) — this host kernel has neither bridge VLAN
  filtering nor 802.1Q, so an access port is the node's veth on its VLAN's bridge;
* the access point is a namespace holding ``br0``: its uplink to the users VLAN and the
  wireless clients' veths (radios cannot be emulated here);
* the upstream ISP is one container ``tai-std-isp`` shared by all pods, with one
  point-to-point veth ``pod<N>`` per pod router;
* every OS node is a container booting systemd on an overlay of the shared image
  (``pods/<N>/<node>/upper`` holds only what that node wrote);
* every container of a pod runs in its own user namespace (``userns.py``): its
  root is an unprivileged range of host IDs, the image is seen through an ID-mapped mount,
  and its network namespace is its own, created by systemd-nspawn at each boot. The node's
  named namespace ``tai-std-p1-<node>`` is where its cables stay plugged while it is off:
  systemd-nspawn moves them in at boot and puts them back when the node stops or reboots
  (addresses and routes are gone then, as on a real machine; the switch side keeps its state).

No lab interface ever sits in the host's root namespace. Every namespace, mount,
directory and process is recorded in the journal before it is created.

The package's modules: ``backend`` (the contract: build, tear down, reset, phases, access),
``layout`` (names and directories), ``wiring`` (namespaces, bridges, veth pairs),
``machines`` (starting, supervising, waiting for and stopping the containers), ``storage``
(overlay layers, snapshots), and the kernel pieces ``userns``, ``cgroups`` and ``mounts``.
"""
from .backend import NspawnBackend

__all__ = ["NspawnBackend"]
