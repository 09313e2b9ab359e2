"""The `tai-lab` group and its commands on scenarios and on a lab: a thin face over :mod:`tai_lab.lab`.

No business logic here: parse, call the library, print. One place (``main``) turns
library errors into one screen of text and an exit code (traceback with --debug).
The other groups of commands live beside this module; ``tai_lab.cli`` registers them all.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from .. import __version__, lang
from ..lang import tr
from ..backends import registry as backend_registry

from .common import _json, _lab, _progress, err, json_option, lab_option, needs_root, out, pods_option
from .i18n import lang_option, localize


def _probe_lines(results, verbose: bool) -> None:
    """One line per check (✓/✗ and what the user sees); the proof (command and output) under
    a failed check, or under every check with --verbose."""
    pods = sorted({r.pod for r in results})
    for pod in pods:
        mine = [r for r in results if r.pod == pod]
        ok = sum(r.passed for r in mine)
        colour = "green" if ok == len(mine) else "red"
        out.print(f"[bold]pod {pod}[/bold] — [{colour}]{ok}/{len(mine)}[/{colour}]")
        for r in mine:
            mark = "[green]✓[/green]" if r.passed else "[red]✗[/red]"
            out.print(f"  {mark} {escape(r.probe.title)}", soft_wrap=True)
            if verbose or not r.passed:
                out.print(f"      [dim]{escape(r.evidence)}[/dim]", soft_wrap=True)


def verbose_option(f):
    return click.option("-v", "--verbose", is_flag=True,
                        help="Show every check's proof (the command and its output), not only the failed ones'.")(f)


def _report_probes(ctx: click.Context, results, title: str, verbose: bool = False) -> None:
    if ctx.obj["json"]:
        _json([r.as_dict() for r in results])
    else:
        _probe_lines(results, verbose)
        failed = [r for r in results if not r.passed]
        colour = "green" if not failed else "red"
        n_ok = f"{len(results) - len(failed)}/{len(results)}"
        out.print(f"[{colour}]{n_ok} " + tr("vérifications réussies", "checks passed") + f"[/{colour}] — {title}")
    if any(not r.passed for r in results):
        ctx.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lab", "lab", metavar="NAME", help="Lab to act on (default: the only one up).")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@lang_option
@click.version_option(__version__, prog_name="tai-lab")
@click.pass_context
def cli(ctx: click.Context, lab: str | None, as_json: bool, debug: bool) -> None:
    """Plateau technique TAI: build pods, cut the Internet, reset, verify."""
    localize(ctx.command, lang.current())   # the subcommands' help (main did it for the whole run)
    ctx.ensure_object(dict)
    ctx.obj.update(lab=lab, json=as_json, debug=debug)


# ---------------------------------------------------------------- scenarios
@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@pods_option
@json_option
@click.pass_context
def validate(ctx: click.Context, scenario: str, pods: int | None) -> None:
    """Check a scenario file; print every problem with file:line and a hint."""
    from ..scenario import load_plan
    plan = load_plan(scenario, pods=pods)
    if ctx.obj["json"]:
        _json({"valid": True, "lab": plan.lab, "pods": len(plan.pods)})
    else:
        out.print(f"[green]✓[/green] {scenario} : " + tr(
            f"lab {plan.lab!r}, {len(plan.pods)} pod(s), {len(plan.pods[0].nodes)} machines par pod",
            f"lab {plan.lab!r}, {len(plan.pods)} pod(s), {len(plan.pods[0].nodes)} nodes per pod"))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Write a starting scenario into DIRECTORY: the standard plateau, commented in French,
    and a folder for your own interventions (nothing is overwritten)."""
    from .. import starter
    written = starter.init(directory)
    for f in written:
        out.print(f"[green]✓[/green] {escape(str(f))}")
    scenario = Path(directory) / starter.SCENARIO_FILE
    out.print(tr("À modifier, puis : ", "Edit it, then: ") + f"tai-lab validate {escape(str(scenario))}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors)."""
    from ..scenario import scenario_json_schema
    _json(scenario_json_schema())


# ---------------------------------------------------------------- images
@cli.group()
def image() -> None:
    """Root filesystem images (built once, shared copy-on-write)."""


@image.command("build")
@click.argument("name")
@click.option("--force", is_flag=True, help="Rebuild even if the recipe did not change.")
def image_build(name: str, force: bool) -> None:
    """Build image NAME from images/NAME/recipe.yaml with debootstrap."""
    from .. import images
    path = images.build(name, force=force, progress=_progress)
    out.print(f"[green]✓[/green] image {name}: {path}")


@image.command("list")
@json_option
@click.pass_context
def image_list(ctx: click.Context) -> None:
    """Known recipes and whether they are built."""
    from .. import images
    rows: list[dict] = [{"name": n, "built": (m := images.manifest(n)) is not None,
                         "built_at": (m or {}).get("built_at")} for n in images.recipe_names()]
    if ctx.obj["json"]:
        _json(rows)
        return
    t = Table("image", tr("construite", "built"))
    for r in rows:
        t.add_row(r["name"], r["built_at"] or "[yellow]" + tr("non construite", "not built")
                  + "[/yellow] (tai-lab image build " + r["name"] + ")")
    out.print(t)


# ---------------------------------------------------------------- lifecycle
@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@pods_option
@click.option("--backend", default=backend_registry.DEFAULT, show_default=True,
              type=click.Choice(backend_registry.names()), help="nspawn (containers) or libvirt (VMs).")
@click.option("--connect", metavar="URI", help="libvirt: hypervisor URI (default qemu:///system).")
@click.option("--inventory", type=click.Path(dir_okay=False),
              help="libvirt: several hypervisors (inventories/*.yaml); pods are placed by capacity.")
@lab_option
@json_option
@click.pass_context
def up(ctx: click.Context, scenario: str, pods: int | None, backend: str, connect: str | None,
       inventory: str | None) -> None:
    """Build the plateau of SCENARIO: ISP, pods, provisioning, baseline snapshot.

    --lab, as every command accepts it, must be the scenario's own `lab:` name."""
    from ..lab import Lab
    if ctx.obj.get("lab"):
        from ..scenario import load_plan
        named = load_plan(scenario, pods=pods).lab
        if named != ctx.obj["lab"]:
            raise click.UsageError(tr(
                f"--lab {ctx.obj['lab']} : le scénario {scenario} construit le lab {named!r} (sa ligne `lab:`) ; "
                "changer cette ligne pour le construire sous un autre nom",
                f"--lab {ctx.obj['lab']}: the scenario {scenario} builds the lab {named!r} "
                f"(its `lab:` line); change that line to build it under another name"))
    if (connect or inventory) and backend != "libvirt":
        raise click.UsageError(tr("--connect et --inventory vont avec --backend libvirt",
                                  "--connect and --inventory are for --backend libvirt"))
    if connect and inventory:
        raise click.UsageError(tr("--connect ou --inventory, pas les deux (l'inventaire donne les URI)",
                                  "--connect or --inventory, not both (the inventory lists the URIs)"))
    opts = {"connect": connect, "inventory": str(Path(inventory).resolve()) if inventory else None}
    with err.status(tr("construction du plateau (plusieurs minutes)…", "building the plateau (several minutes)…")):
        lab = Lab.up(scenario, pods=pods, backend=backend, progress=_progress, backend_options=opts)
    if ctx.obj["json"]:
        _json({"lab": lab.name, "pods": [s.as_dict() for s in lab.status()]})
    else:
        secs = lab.state.data.get("up_seconds")
        out.print("[green]✓[/green] " + tr(
            f"lab {lab.name!r} démarré : {len(lab.plan.pods)} pod(s) en {secs} s. Ensuite : tai-lab verify",
            f"lab {lab.name!r} is up: {len(lab.plan.pods)} pod(s) in {secs} s. Next: tai-lab verify"))


@cli.command()
@lab_option
@json_option
@click.option("--orphans", is_flag=True,
              help="The lab has no record here any more (its home was deleted, a run was killed): find what "
                   "still bears its name (libvirt domains, networks and pools, namespaces, container processes, "
                   "mounts) and remove it. Needs --lab.")
@click.option("--connect", "uris", multiple=True, metavar="URI",
              help="With --orphans: the libvirt URIs to search (default qemu:///system).")
@click.pass_context
def down(ctx: click.Context, orphans: bool, uris: tuple[str, ...]) -> None:
    """Remove everything the lab created (and nothing else)."""
    from ..lab import Lab
    if orphans:
        _down_orphans(ctx, list(uris))
        return
    with err.status(tr("suppression du lab et archivage des preuves…", "removing the lab, archiving the evidence…")):
        done = Lab.down(ctx.obj.get("lab"), progress=_progress)
    if ctx.obj["json"]:
        _json({"removed": done.removed, "archive": str(done.archive) if done.archive else None})
        return
    out.print("[green]✓[/green] " + tr(f"{len(done.removed)} ressource(s) supprimée(s)",
                                        f"removed {len(done.removed)} resource(s)"))
    if done.archive:
        out.print("[green]✓[/green] " + tr(
            f"preuves archivées dans {done.archive} — rapport : tai-lab report --archive {done.archive.name} "
            "--pod N ; lister/supprimer : tai-lab archives list|remove",
            f"evidence archived in {done.archive} — report: tai-lab report --archive {done.archive.name} "
            "--pod N; list/remove: tai-lab archives list|remove"))
    else:
        out.print(tr("aucune preuve consignée sur ce lab : rien à archiver",
                     "no evidence recorded on this lab: nothing to archive"))


def _down_orphans(ctx: click.Context, uris: list[str]) -> None:
    from .. import orphans
    from ..errors import LabStateError
    from ..hostcheck import require_root
    lab = ctx.obj.get("lab")
    if not lab:
        raise click.UsageError(tr("--orphans demande le nom du lab : tai-lab down --lab NOM --orphans",
                                  "--orphans needs the lab's name: tai-lab down --lab NAME --orphans"))
    require_root("tai-lab down --orphans")
    found = orphans.find(lab, uris or None)
    removed, failed = orphans.remove(lab, found, progress=_progress) if found else ([], [])
    if ctx.obj["json"]:
        _json({"removed": removed, "failed": failed})
    elif not found:
        out.print(tr(f"rien ne porte plus le nom du lab {lab!r} sur cet hôte",
                     f"nothing bearing the name of lab {lab!r} is left on this host"))
    else:
        for line in removed:
            out.print("[green]✓[/green] " + tr("supprimé : ", "removed ") + line)
    if failed:
        raise LabStateError(tr("suppression impossible : ", "could not remove: ") + "; ".join(failed),
                            tr("relancer la commande ; voir les erreurs ci-dessus",
                               "run the command again; see the errors above"))


@cli.command()
@lab_option
@json_option
@click.pass_context
def status(ctx: click.Context) -> None:
    """Pods, their phase and which nodes run."""
    lab = _lab(ctx)
    st = lab.status()
    if ctx.obj["json"]:
        _json({"lab": lab.name, "title": lab.plan.title, "pods": [s.as_dict() for s in st]})
        return
    t = Table(title=f"{lab.plan.title} — lab {lab.name}")
    for col in ("pod", "phase", "Internet", "machines", tr("instantanés", "snapshots")):
        t.add_column(col)
    for s in st:
        nodes = " ".join(f"[green]{n}[/green]" if ok else f"[red]{n}✗[/red]" for n, ok in s.nodes.items())
        phase = s.phase if not s.pending else \
            f"{s.phase} [yellow]→ {s.pending} " + tr("interrompu", "interrupted") + "[/yellow]"
        if s.reset_pending:
            phase += " [red]" + tr("remise à zéro interrompue", "reset interrupted") + "[/red]"
        t.add_row(str(s.number), phase, tr("oui", "yes") if s.internet else "[yellow]" + tr("coupé", "cut") + "[/yellow]",
                  nodes,
                  ", ".join(s.snapshots))
    out.print(t)
    for s in st:
        if s.reset_pending:
            again = "rebuild" if s.reset_pending == "rebuild" else f"reset --to {s.reset_pending}"
            out.print(tr(f"[red]pod {s.number} : sa remise à zéro a été interrompue[/red] : "
                         f"relancer `tai-lab {again} --pod {s.number}`",
                         f"[red]pod {s.number}: its {again.split()[0]} was interrupted[/red]: "
                         f"run `tai-lab {again} --pod {s.number}` again"))
    for pending in sorted({s.pending for s in st if s.pending}):
        out.print(tr(f"[yellow]le passage à la phase {pending} a été interrompu[/yellow] : "
                     f"relancer `tai-lab phase {pending}` pour le terminer",
                     f"[yellow]a change to phase {pending} was interrupted[/yellow]: "
                     f"run `tai-lab phase {pending}` again to finish it"))


@cli.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod", type=int)
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds before the command is stopped.")
@lab_option
@json_option
@click.pass_context
@needs_root
def exec_(ctx: click.Context, pod: int, node: str, command: tuple[str, ...], timeout: float) -> None:
    """Run COMMAND on NODE of POD, out of band: tai-lab exec 1 pc1 -- ip addr."""
    res = _lab(ctx).exec(pod, node, command, timeout=timeout,
                         input=None if sys.stdin.isatty() else sys.stdin.read())
    if ctx.obj["json"]:
        _json({"exit_status": res.exit_status, "stdout": res.stdout, "stderr": res.stderr})
    else:
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
    ctx.exit(res.exit_status)


@cli.command()
@click.argument("phase", type=click.Choice(["prep", "jury", "setup"]))
@click.option("--pod", type=int, help="Only this pod (default: all).")
@click.option("--no-verify", is_flag=True, help="Do not prove the change with the health probes.")
@click.option("--override-seal", is_flag=True, help="jury: go on even if a sealed pod changed (journaled).")
@verbose_option
@lab_option
@json_option
@click.pass_context
@needs_root
def phase(ctx: click.Context, phase: str, pod: int | None, no_verify: bool, override_seal: bool,
          verbose: bool) -> None:
    """prep: cut the Internet, isolate the pods; jury: give the Internet back. Then prove it."""
    lab = _lab(ctx)
    lab.set_phase(phase, pod, override_seal=override_seal)
    what = tr("Internet coupé, pods isolés", "Internet cut, pods isolated") if phase == "prep" \
        else tr("Internet rétabli", "Internet back")
    if no_verify:
        if ctx.obj["json"]:
            _json({"phase": phase, "pods": [s.as_dict() for s in lab.status()]})
        else:
            out.print(f"[green]✓[/green] phase {phase}: {what}")
        return
    if not ctx.obj["json"]:
        out.print(f"[green]✓[/green] phase {phase}: {what} — " + tr("preuve :", "proof:"))
    with err.status(tr("vérification depuis les postes des utilisateurs…", "checking from the users' machines…")):
        results = lab.verify(pod)
    _report_probes(ctx, results, f"phase {phase}", verbose)


@cli.command()
@click.option("--pod", type=int, help="Only this pod (default: all).")
@verbose_option
@lab_option
@json_option
@click.pass_context
@needs_root
def verify(ctx: click.Context, pod: int | None, verbose: bool) -> None:
    """Health probes from the users' point of view; exit 1 if one fails."""
    lab = _lab(ctx)
    with err.status(tr("vérification depuis les postes des utilisateurs…", "checking from the users' machines…")):
        results = lab.verify(pod)
    _report_probes(ctx, results, tr(f"vérification du plateau, lab {lab.name}", f"plateau check, lab {lab.name}"),
                   verbose)


@cli.command()
@click.argument("name")
@click.option("--pod", type=int, help="Only this pod (default: all).")
@lab_option
@click.pass_context
@needs_root
def snapshot(ctx: click.Context, name: str, pod: int | None) -> None:
    """Save the state of pods under NAME (nodes restart briefly)."""
    _lab(ctx).snapshot(name, pod)
    out.print("[green]✓[/green] " + tr(f"instantané {name} enregistré", f"snapshot {name} taken"))


def confirm_open_sessions(lab, pod: int | None, what: tuple[str, str], yes: bool) -> bool:
    """Whether the command may wipe pods where a candidate's session is open: --yes, or the
    trainer's answer on a terminal. Without a terminal and without --yes: refused (the
    library refuses too, so the web console or a script must say it explicitly)."""
    sessions = lab.open_sessions(pod)
    if not sessions or yes:
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False                 # Lab refuses with the whole message and the hint
    err.print(tr(f"[bold yellow]Attention[/bold yellow] : {what[0]} efface les machines d'un candidat dont la "
                 "session est ouverte.", f"[bold yellow]Warning[/bold yellow]: {what[1]} wipes the machines of a "
                 "candidate whose session is open."))
    err.print(escape(lab.describe_open_sessions(sessions)), highlight=False)
    err.print(tr("Les interventions actives seront consignées « effacée par remise à zéro — non réparée » "
                 "et la session close.", "The active interventions will be recorded as “cleared by reset — "
                 "not repaired” and the session closed."))
    if not click.confirm(tr(f"{what[0]} quand même ?", f"{what[1].capitalize()} anyway?"), default=False, err=True):
        raise click.exceptions.Abort()
    return True


@cli.command()
@click.option("--pod", type=int, help="Only this pod (default: all).")
@click.option("--to", "to", default="baseline", show_default=True, help="Snapshot to go back to.")
@click.option("--yes", is_flag=True, help="Do not ask, even if a candidate's session is open on the pod.")
@lab_option
@json_option
@click.pass_context
@needs_root
def reset(ctx: click.Context, pod: int | None, to: str, yes: bool) -> None:
    """Put pods back to a snapshot, then verify them (asks first if a candidate's session is open)."""
    from ..evidence import default_actor
    lab = _lab(ctx)
    ok = confirm_open_sessions(lab, pod, ("La remise à zéro", "the reset"), yes)
    with err.status(tr("remise à zéro, puis vérification…", "resetting, then checking…")):
        results = lab.reset(pod, to, actor=default_actor(), confirm_open_session=ok)
    _report_probes(ctx, results, tr(f"après remise à zéro ({to})", f"after the reset ({to})"))


@cli.command()
@click.option("--pod", type=int, required=True, help="The pod to rebuild from scratch.")
@click.option("--yes", is_flag=True, help="Do not ask, even if a candidate's session is open on the pod.")
@lab_option
@json_option
@click.pass_context
@needs_root
def rebuild(ctx: click.Context, pod: int, yes: bool) -> None:
    """Destroy a pod and build it again from the scenario (slow; prefer reset)."""
    from ..evidence import default_actor
    lab = _lab(ctx)
    ok = confirm_open_sessions(lab, pod, ("La reconstruction", "the rebuild"), yes)
    _report_probes(ctx, lab.rebuild(pod, actor=default_actor(), confirm_open_session=ok),
                   tr(f"après reconstruction du pod {pod}", f"after rebuilding pod {pod}"))
