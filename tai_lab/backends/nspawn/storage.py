"""The containers' disks: an overlay per node over the shared image (seen through an ID-mapped
mount in the node's user namespace), its upper layer, and the pods' snapshots of those layers."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from ... import images
from ...errors import LabStateError
from ...plan import NodePlan, PodPlan
from ...state import Resource
from ..base import Layer
from . import mounts, userns
from .layout import Layout


class Storage(Layout):
    """Overlay roots, upper layers and snapshots."""

    def userns_base(self, pod: int, node: str) -> int:
        """The first host ID of the node's user namespace (its root), allocated once per node."""
        owner = f"{self.state.dir}:{pod}/{node}"
        for res in self.state.journal.live():
            if res.kind == "userns" and (res.data or {}).get("owner") == owner:
                return int((res.data or {})["base"])
        return userns.allocate(owner, lambda path, base: self.state.journal.will_create(
            Resource("userns", path, pod, {"owner": owner, "base": base})))

    def _mount_root(self, pod: int | None, node: str, image: str) -> Path:
        d = self.node_dir(pod, node)
        if not d.exists():
            self.state.journal.will_create(Resource("dir", str(d), pod))
        base = self.userns_base(pod, node) if pod is not None else None
        for sub in ("upper", "work", "root") + (("lower",) if base is not None else ()):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if base is not None and (d / "upper").stat().st_uid < userns.RANGE:
            # A new node, or a layer the host wrote (prep's bare layers): never a layer the node
            # wrote, whatever its root did to the ownership of its own / (those IDs are ≥ base).
            userns.shift_tree(d / "upper", base)
        root = d / "root"
        if not mounts.mounted(root):
            lower = images.rootfs(image)
            if base is not None:
                # The shared image, owned by the host's root, seen by this node as its own.
                if not mounts.mounted(d / "lower"):
                    self.state.journal.will_create(Resource("mount", str(d / "lower"), pod))
                    userns.idmapped_bind(lower, d / "lower", base)
                lower = d / "lower"
            self.state.journal.will_create(Resource("mount", str(root), pod))
            opts = f"lowerdir={lower},upperdir={d / 'upper'},workdir={d / 'work'}"
            mounts.mount_overlay(self.netns(pod, node), root, opts)
        return root

    def _prepare_root(self, pod: int, node: NodePlan) -> None:
        """The node's identity, written before its first boot (what cloud-init does for a VM)."""
        root = self._mount_root(pod, node.name, node.image or "")
        pod_plan = self.plan.pod(pod)
        (root / "etc/hostname").write_text(f"{node.name}\n")
        (root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.fqdn or node.name} {node.name}\n"
            f"# pod {pod} of lab {self.plan.lab}, domain {pod_plan.domain}\n")

    def snapshots(self, pod: int) -> list[str]:
        d = self.state.dir / f"pods/{pod}/snapshots"
        return sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if d.is_dir() else []

    def written_layer(self, pod: int, node: str) -> Path:
        return self.node_dir(pod, node) / "upper"

    def snapshot_stopped(self, pod: PodPlan, name: str) -> None:
        """Copy the upper layers of a pod whose containers are off; they stay off."""
        self.compose_snapshot(pod, name, {})

    def compose_snapshot(self, pod: PodPlan, name: str, layers: Mapping[str, Layer]) -> None:
        """Each container's layer from ``layers`` (a snapshot's name, or a function writing a
        fresh one), or, for a container not named there, its current upper layer."""
        n = pod.number
        dest = self.snapshot_dir(n, name)
        tmp = dest.with_name(f".{name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for node in (x for x in pod.nodes if x.is_container):
            layer = layers.get(node.name)
            if callable(layer):
                (tmp / node.name).mkdir()
                layer(tmp / node.name)
                continue
            src = self.snapshot_dir(n, layer) / node.name if layer else self.node_dir(n, node.name) / "upper"
            subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(tmp / node.name)],
                           check=True, capture_output=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)

    def copy_to_node(self, pod: int | None, node: str, source: Path, dest: str) -> None:
        """Copied into the container's root (reflinks where possible); a pod's node gets it
        owned by its own root (its user namespace)."""
        target = self.node_dir(pod, node) / "root" / dest.lstrip("/")
        if not mounts.mounted(self.node_dir(pod, node) / "root"):
            raise LabStateError(f"{node} has no mounted root to copy {source.name} into",
                                "see `tai-lab status`; `tai-lab reset --pod N` restarts a pod")
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)], check=True, capture_output=True)
        if pod is not None:
            userns.shift_tree(target, self.userns_base(pod, node))
