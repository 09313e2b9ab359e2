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

from .. import __version__
from ..backends import registry as backend_registry

from .common import _json, _lab, _progress, err, json_option, lab_option, needs_root, out, pods_option


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
        out.print(f"[{colour}]{len(results) - len(failed)}/{len(results)} vérifications réussies[/{colour}] — {title}")
    if any(not r.passed for r in results):
        ctx.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lab", "lab", metavar="NAME", help="Lab to act on (default: the only one up).")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="tai-lab")
@click.pass_context
def cli(ctx: click.Context, lab: str | None, as_json: bool, debug: bool) -> None:
    """Plateau technique TAI: build pods, cut the Internet, reset, verify."""
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
        out.print(f"[green]✓[/green] {scenario}: lab {plan.lab!r}, {len(plan.pods)} pod(s), "
                  f"{len(plan.pods[0].nodes)} nodes per pod")


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
    out.print(f"À modifier, puis : tai-lab validate {escape(str(scenario))}")


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
    t = Table("image", "built")
    for r in rows:
        t.add_row(r["name"], r["built_at"] or "[yellow]not built[/yellow] (tai-lab image build " + r["name"] + ")")
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
            raise click.UsageError(f"--lab {ctx.obj['lab']}: the scenario {scenario} builds the lab {named!r} "
                                   f"(its `lab:` line); change that line to build it under another name")
    if (connect or inventory) and backend != "libvirt":
        raise click.UsageError("--connect and --inventory are for --backend libvirt")
    if connect and inventory:
        raise click.UsageError("--connect or --inventory, not both (the inventory lists the URIs)")
    opts = {"connect": connect, "inventory": str(Path(inventory).resolve()) if inventory else None}
    with err.status("construction du plateau (plusieurs minutes)…"):
        lab = Lab.up(scenario, pods=pods, backend=backend, progress=_progress, backend_options=opts)
    if ctx.obj["json"]:
        _json({"lab": lab.name, "pods": [s.as_dict() for s in lab.status()]})
    else:
        out.print(f"[green]✓[/green] lab {lab.name!r} is up: {len(lab.plan.pods)} pod(s) "
                  f"in {lab.state.data.get('up_seconds')} s. Next: tai-lab verify")


@cli.command()
@lab_option
@json_option
@click.pass_context
def down(ctx: click.Context) -> None:
    """Remove everything the lab created (and nothing else)."""
    from ..lab import Lab
    with err.status("suppression du lab et archivage des preuves…"):
        done = Lab.down(ctx.obj.get("lab"), progress=_progress)
    if ctx.obj["json"]:
        _json({"removed": done.removed, "archive": str(done.archive) if done.archive else None})
        return
    out.print(f"[green]✓[/green] removed {len(done.removed)} resource(s)")
    if done.archive:
        out.print(f"[green]✓[/green] evidence archived in {done.archive} — report: "
                  f"tai-lab report --archive {done.archive.name} --pod N; "
                  "list/remove: tai-lab archives list|remove")
    else:
        out.print("no evidence recorded on this lab: nothing to archive")


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
    for col in ("pod", "phase", "Internet", "machines", "instantanés"):
        t.add_column(col)
    for s in st:
        nodes = " ".join(f"[green]{n}[/green]" if ok else f"[red]{n}✗[/red]" for n, ok in s.nodes.items())
        phase = s.phase if not s.pending else \
            f"{s.phase} [yellow]→ {s.pending} interrompu[/yellow]"
        t.add_row(str(s.number), phase, "oui" if s.internet else "[yellow]coupé[/yellow]", nodes,
                  ", ".join(s.snapshots))
    out.print(t)
    for pending in sorted({s.pending for s in st if s.pending}):
        out.print(f"[yellow]a change to phase {pending} was interrupted[/yellow]: "
                  f"run `tai-lab phase {pending}` again to finish it")


@cli.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod", type=int)
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", type=float, default=300.0, show_default=True)
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
    what = "Internet coupé, pods isolés" if phase == "prep" else "Internet rétabli"
    if no_verify:
        if ctx.obj["json"]:
            _json({"phase": phase, "pods": [s.as_dict() for s in lab.status()]})
        else:
            out.print(f"[green]✓[/green] phase {phase}: {what}")
        return
    if not ctx.obj["json"]:
        out.print(f"[green]✓[/green] phase {phase}: {what} — preuve :")
    with err.status("vérification depuis les postes des utilisateurs…"):
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
    with err.status("vérification depuis les postes des utilisateurs…"):
        results = lab.verify(pod)
    _report_probes(ctx, results, f"vérification du plateau, lab {lab.name}", verbose)


@cli.command()
@click.argument("name")
@click.option("--pod", type=int, help="Only this pod (default: all).")
@lab_option
@click.pass_context
@needs_root
def snapshot(ctx: click.Context, name: str, pod: int | None) -> None:
    """Save the state of pods under NAME (nodes restart briefly)."""
    _lab(ctx).snapshot(name, pod)
    out.print(f"[green]✓[/green] snapshot {name} taken")


def confirm_open_sessions(lab, pod: int | None, what: str, yes: bool) -> bool:
    """Whether the command may wipe pods where a candidate's session is open: --yes, or the
    trainer's answer on a terminal. Without a terminal and without --yes: refused (the
    library refuses too, so the web console or a script must say it explicitly)."""
    sessions = lab.open_sessions(pod)
    if not sessions or yes:
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False                 # Lab refuses with the whole message and the hint
    err.print(f"[bold yellow]Attention[/bold yellow] : {what} efface les machines d'un candidat dont la "
              "session est ouverte.")
    err.print(escape(lab.describe_open_sessions(sessions)), highlight=False)
    err.print("Les interventions actives seront consignées « effacée par remise à zéro — non réparée » "
              "et la session close.")
    if not click.confirm(f"{what} quand même ?", default=False, err=True):
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
    ok = confirm_open_sessions(lab, pod, "La remise à zéro", yes)
    with err.status("remise à zéro, puis vérification…"):
        results = lab.reset(pod, to, actor=default_actor(), confirm_open_session=ok)
    _report_probes(ctx, results, f"après remise à zéro ({to})")


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
    ok = confirm_open_sessions(lab, pod, "La reconstruction", yes)
    _report_probes(ctx, lab.rebuild(pod, actor=default_actor(), confirm_open_session=ok),
                   f"Après reconstruction du pod {pod}")


# ---------------------------------------------------------------- interventions
@cli.command()
@click.option("--ccp", help="Only those evaluating this CCP (ccp1, ccp2, ccp3).")
@click.option("--competency", help="Only those evaluating this competency (c14…).")
@click.option("--coverage", is_flag=True, help="The référentiel's competencies against the interventions.")
@click.option("--scenario", type=click.Path(dir_okay=False),
              help="With this scenario's own interventions (its interventions_dir).")
@click.option("--export", nargs=2, metavar="ID DIR",
              help="Copy intervention ID's file into DIR (a scenario's interventions_dir) to change it there.")
@json_option
@click.pass_context
def interventions(ctx: click.Context, ccp: str | None, competency: str | None, coverage: bool,
                  scenario: str | None, export: tuple[str, str] | None) -> None:
    """What the jury can pick: title, symptom, competencies, variants."""
    from ..interventions import load_catalogue
    extra = None
    if scenario:
        from ..scenario import load_plan
        extra = load_plan(scenario).intervention_dir
    cat = load_catalogue(extra=extra)
    if export:
        from .. import starter
        dest = starter.export_intervention(export[0], export[1], catalogue=cat)
        out.print(f"[green]✓[/green] {escape(str(dest))} (le playbook reste celui du catalogue)")
        return
    if coverage:
        rows = cat.coverage()
        if ctx.obj["json"]:
            _json(rows)
            return
        t = Table(title="Couverture du référentiel")
        for col in ("compétence", "intitulé", "interventions"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(r["competency"], r["title"], ", ".join(r["interventions"])
                      or f"[yellow]— {r['not_covered_because']}[/yellow]")
        out.print(t)
        return
    items = cat.select(ccp=ccp, competency=competency)
    if ctx.obj["json"]:
        _json([{"id": i.id, "title": i.title.model_dump(), "symptom": i.symptom, "category": i.category,
                "competencies": list(i.competencies), "difficulty": i.difficulty,
                "variants": [{"id": v.id, "title": v.title.model_dump()} for v in i.variants]} for i in items])
        return
    t = Table(title="Interventions")
    for col in ("id", "intitulé", "compétences", "niv.", "variantes"):
        t.add_column(col, overflow="fold")
    for i in items:
        t.add_row(i.id, f"{i.title.fr}\n[dim]{i.symptom}[/dim]", " ".join(i.competencies), str(i.difficulty),
                  "\n".join(v.id for v in i.variants))
    out.print(t)


def _check_table(results) -> Table:
    t = Table(title="État des interventions")
    for col in ("pod", "intervention", "variante", "état", "preuve"):
        t.add_column(col, overflow="fold")
    for c in results:
        if c.interrupted:
            t.add_row(str(c.pod), c.id, c.variant, "[yellow]INJECTION INTERROMPUE[/yellow]",
                      f"l'injection n'a pas abouti : rien à juger — tai-lab restore {c.id} --pod {c.pod}")
            continue
        colour = {"fixed": "green", "broken": "red"}.get(c.state, "yellow")
        state = f"[{colour}]{escape(c.label('fr'))}[/{colour}]"
        if c.reboot:
            state += "\n[dim]redémarré : " + escape(", ".join(c.reboot)) + "[/dim]"
        if getattr(c, "ticket", None):        # the user's ticket in the service desk, as read now
            from ..jury.sentences import ticket_label
            state += "\n" + escape(ticket_label(c.ticket) or "")
        t.add_row(str(c.pod), c.id, c.variant, state, "\n".join(
            ("✓ " if r.passed else "✗ ") + escape(f"{r.probe.title} ({r.probe.node}) : {r.evidence}") for r in c.results))
    return t


@cli.command()
@click.argument("intervention")
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@click.option("--variant", help="Which cause (default: the first).")
@click.option("--random", "randomise", is_flag=True, help="Pick a variant at random.")
@click.option("--seed", type=int, help="Seed of --random (to replay a session).")
@lab_option
@json_option
@click.pass_context
@needs_root
def inject(ctx: click.Context, intervention: str, pod: int | None, variant: str | None,
           randomise: bool, seed: int | None) -> None:
    """Break something on a pod, prove it took, print the symptom to read out."""
    res = _lab(ctx).inject(intervention, pod, variant=variant, seed=seed, randomise=randomise)
    if ctx.obj["json"]:
        _json({"pod": res.pod, "id": res.intervention.id, "variant": res.variant.id,
               "symptom": res.intervention.symptom, "seconds": res.seconds,
               "evidence": [r.as_dict() for r in res.evidence], "ticket": getattr(res, "ticket", None)})
        return
    out.print(f"[bold]{res.intervention.title.fr}[/bold] — pod {res.pod}, variante {res.variant.id} "
              f"({res.seconds} s)")
    out.print("[dim]Panne prouvée : " + escape("; ".join(r.evidence for r in res.evidence if not r.passed))
              + "[/dim]")
    out.print(f"\n[bold]À lire à l'utilisateur :[/bold]\n{res.intervention.symptom}")
    if getattr(res, "ticket", None):
        from ..jury.sentences import ticket_label
        out.print("\n" + escape(ticket_label(res.ticket) or ""))


@cli.command()
@click.argument("intervention", required=False)
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@click.option("--watch", is_flag=True, help="Refresh until fixed (Ctrl-C to stop).")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--reboot", is_flag=True,
              help="Survives a reboot? When fixed, restart the machines the repair touched and check again.")
@lab_option
@json_option
@click.pass_context
@needs_root
def check(ctx: click.Context, intervention: str | None, pod: int | None, watch: bool, interval: float,
          reboot: bool) -> None:
    """Is each active intervention fixed (RÉPARÉ, NON RÉPARÉ, CONTOURNÉ)? With the probes' evidence."""
    import time as _time
    from rich.live import Live
    lab = _lab(ctx)
    if reboot:
        if watch:
            raise click.UsageError("--reboot and --watch do not go together")
        ids = [intervention] if intervention else [a.id for a in lab.active_interventions(pod)]
        results = [lab.check_reboot(pod, iid) for iid in ids]
    else:
        results = lab.check(pod, intervention)
    if ctx.obj["json"] and not watch:
        _json([c.as_dict() for c in results])
        return
    if not watch:
        out.print(_check_table(results) if results else "Aucune intervention active.")
        ctx.exit(0 if all(c.fixed for c in results) else 1)
    with Live(_check_table(results), console=out, refresh_per_second=4) as live:
        # an interrupted inject waits for a restore, not for the candidate: not watched
        while any(not c.fixed and not c.interrupted for c in results):
            _time.sleep(interval)
            results = lab.check(pod, intervention, record="changes")   # the log keeps verdict changes
            live.update(_check_table(results))
    if any(c.interrupted for c in results):
        out.print("[yellow]Injection interrompue : restaurez-la (tai-lab restore --all).[/yellow]")
        ctx.exit(1)
    out.print("[green]Tout est réparé.[/green]")


@cli.command()
@click.argument("intervention", required=False)
@click.option("--all", "everything", is_flag=True, help="Every active intervention of the pod.")
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@lab_option
@json_option
@click.pass_context
@needs_root
def restore(ctx: click.Context, intervention: str | None, everything: bool, pod: int | None) -> None:
    """Undo an intervention exactly as the journal recorded it."""
    if bool(intervention) == everything:
        raise click.UsageError("give an INTERVENTION or --all")
    done = _lab(ctx).restore(pod, None if everything else intervention)
    if ctx.obj["json"]:
        _json({"restored": done})
    else:
        out.print(f"[green]✓[/green] restauré : {', '.join(done) or '(rien d’actif)'}")
