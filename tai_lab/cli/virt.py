"""CLI commands of the VM side: export (for Vagrant), hosts (hypervisors and their use),
and the VM/Windows cases of ``image build``.

``register(cli)`` is called by ``tai_lab.cli`` (the package), after the ``image`` group exists.
"""
from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..lang import tr
from .common import _json, _progress, err, out, pods_option  # noqa: E402,F401


@click.command("export")
@click.argument("scenario", type=click.Path(dir_okay=False))
@pods_option
def export_cmd(scenario: str, pods: int | None) -> None:
    """Print the VM plan of SCENARIO as JSON (networks, machines, MACs, addresses).

    The Vagrantfile at the project's root reads it: TAI_LAB_SCENARIO=… vagrant up.
    """
    from ..scenario import load_plan
    from ..backends.libvirt.export import export
    _json(export(load_plan(scenario, pods=pods)))


@click.command("hosts")
@click.option("--inventory", type=click.Path(dir_okay=False), help="Inventory of hypervisors (inventories/*.yaml).")
@click.option("--connect", metavar="URI", help="One libvirt host (default qemu:///system).")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@click.pass_context
def hosts_cmd(ctx: click.Context, inventory: str | None, connect: str | None, as_json: bool) -> None:
    """Hypervisors: what tai-lab may use on each, what its VMs use now, what is free."""
    from ..hosts import Host, load_inventory, measure_uri
    hosts = load_inventory(inventory) if inventory else [Host("local", connect or "qemu:///system", 0, 0)]
    rows = [measure_uri(h) for h in hosts]
    if as_json or (ctx.find_root().obj or {}).get("json"):
        _json(rows)
        return
    t = Table(tr("hôte", "host"), "URI", tr("VM tai-lab", "tai-lab VMs"), tr("mémoire utilisée", "memory used"),
              tr("mémoire libre", "memory free"), tr("vCPU utilisés", "vCPUs used"), tr("vCPU libres", "vCPUs free"))
    for r in rows:
        t.add_row(r["name"], r["uri"], str(r["domains"]), f"{r['used_memory_mib']} MiB",
                  f"{r['free_memory_mib']} MiB", str(r["used_vcpus"]),
                  "—" if r["free_vcpus"] is None else str(r["free_vcpus"]))
    out.print(t)


@click.command("build")
@click.argument("name")
@click.option("--force", is_flag=True, help="Rebuild even if the recipe did not change.")
@click.option("--iso", type=click.Path(path_type=Path), help="Windows: the installation ISO.")
@click.option("--virtio-iso", type=click.Path(path_type=Path), help="Windows: the virtio-win drivers ISO.")
@click.option("--product-key", help="Windows: product key (evaluation media need none).")
def image_build(name: str, force: bool, iso: Path | None, virtio_iso: Path | None,
                product_key: str | None) -> None:
    """Build image NAME: a root filesystem (debian-12), its VM disk (debian-12-vm), its
    Vagrant box for vagrant-libvirt (debian-12-vagrant), or a Windows image from the
    trainer's ISOs (windows-server-2022, windows-11)."""
    from .. import images
    from ..images import vagrant as images_vagrant, vm as images_vm, windows as images_windows
    if images_windows.is_windows(name):
        path = images_windows.prepare(name, iso=iso, virtio_iso=virtio_iso, product_key=product_key,
                                      progress=_progress)
        out.print(f"[green]✓[/green] {name} : " + tr(
            f"entrées vérifiées, fichiers d'installation dans {path} (images Windows non essayées sur de vrais hôtes)",
            f"inputs checked, installation files in {path} (Windows images are untested on real hosts)"))
        return
    if iso or virtio_iso:
        raise click.UsageError(tr("--iso et --virtio-iso vont avec les images Windows",
                                  "--iso and --virtio-iso are for Windows images"))
    # Refused before a build takes its lock (a file under the images directory): nothing written.
    from ..hostcheck import require_root
    require_root(tr("la construction d'une image", "building an image"))
    if images_vagrant.is_vagrant(name):
        box = images_vagrant.build(name, force=force, progress=_progress)
        out.print("[green]✓[/green] " + tr(
            f"box Vagrant {box.name} (version {box.version}) : {box.box}\n  catalogue {box.catalog} — le "
            f"Vagrantfile du projet l'ajoute de lui-même, sinon : vagrant box add {box.catalog}",
            f"Vagrant box {box.name} (version {box.version}): {box.box}\n  catalog {box.catalog} — the "
            f"project's Vagrantfile adds it by itself, or: vagrant box add {box.catalog}"))
        return
    if name.endswith("-vm"):
        path = images_vm.build(name, force=force, progress=_progress).disk
    else:
        images.load_recipe(name)             # an unknown name: the known ones, before the lock
        path = images.build(name, force=force, progress=_progress)
    out.print("[green]✓[/green] " + tr(f"image {name} prête : {path}", f"image {name}: {path}"))


def register(cli: click.Group) -> None:
    cli.add_command(export_cmd)
    cli.add_command(hosts_cmd)
    image = cli.commands["image"]
    assert isinstance(image, click.Group)
    image.add_command(image_build)       # replaces the rootfs-only `image build`
