"""The commands on interventions: the catalogue (`interventions`), and on a running lab
`inject`, `check` and `restore` — a thin face over :mod:`tai_lab.lab` and :mod:`tai_lab.interventions`."""
from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from .. import lang
from ..lang import tr
from .common import _json, _lab, json_option, lab_option, needs_root, out


@click.command()
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
        out.print(f"[green]✓[/green] {escape(str(dest))} " + tr("(le playbook reste celui du catalogue)",
                                                                 "(the playbook stays the catalogue's)"))
        return
    if coverage:
        rows = cat.coverage()
        if ctx.obj["json"]:
            _json(rows)
            return
        t = Table(title=tr("Couverture du référentiel", "Coverage of the référentiel"))
        for heading in (tr("compétence", "competency"), tr("intitulé", "title"),
                        tr("évaluée d'abord par", "primary in"), tr("évaluée aussi par", "also evaluated by")):
            t.add_column(heading, overflow="fold")
        for r in rows:
            if not r["interventions"]:
                t.add_row(r["competency"], r["title"], f"[yellow]— {r['not_covered_because']}[/yellow]", "")
                continue
            t.add_row(r["competency"], r["title"], ", ".join(r["primary"]) or "—", ", ".join(r["secondary"]) or "—")
        out.print(t)
        return
    items = cat.select(ccp=ccp, competency=competency)
    if ctx.obj["json"]:
        _json([{"id": i.id, "title": i.title.model_dump(), "symptom": i.symptom, "category": i.category,
                "competencies": list(i.competencies), "difficulty": i.difficulty,
                "variants": [{"id": v.id, "title": v.title.model_dump()} for v in i.variants]} for i in items])
        return
    t = Table(title="Interventions")
    for col in ("id", tr("intitulé", "title"), tr("compétences", "competencies"), tr("niv.", "level"),
                tr("variantes", "variants")):
        t.add_column(col, overflow="fold")
    for i in items:
        t.add_row(i.id, f"{getattr(i.title, lang.current(), i.title.fr)}\n[dim]{i.symptom}[/dim]",
                  " ".join(i.competencies), str(i.difficulty),
                  "\n".join(v.id for v in i.variants))
    out.print(t)


def _check_table(results) -> Table:
    t = Table(title=tr("État des interventions", "Interventions"))
    for col in ("pod", "intervention", tr("variante", "variant"), tr("état", "state"), tr("preuve", "evidence")):
        t.add_column(col, overflow="fold")
    for c in results:
        if c.interrupted:
            t.add_row(str(c.pod), c.id, c.variant, "[yellow]" + tr("INJECTION INTERROMPUE", "INJECT INTERRUPTED")
                      + "[/yellow]", tr("l'injection n'a pas abouti : rien à juger", "the inject did not finish: "
                                        "nothing to judge") + f" — tai-lab restore {c.id} --pod {c.pod}")
            continue
        colour = {"fixed": "green", "broken": "red"}.get(c.state, "yellow")
        state = f"[{colour}]{escape(c.label(lang.current()))}[/{colour}]"
        if c.reboot:
            state += "\n[dim]" + tr("redémarré : ", "rebooted: ") + escape(", ".join(c.reboot)) + "[/dim]"
        if getattr(c, "ticket", None):        # the user's ticket in the service desk, as read now
            from ..jury.sentences import ticket_label
            state += "\n" + escape(ticket_label(c.ticket, lang.current()) or "")
        t.add_row(str(c.pod), c.id, c.variant, state, "\n".join(
            ("✓ " if r.passed else "✗ ") + escape(f"{r.probe.title} ({r.probe.node}) : {r.evidence}") for r in c.results))
    return t


@click.command()
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
    here = lang.current()
    out.print(f"[bold]{getattr(res.intervention.title, here, res.intervention.title.fr)}[/bold] — pod {res.pod}, "
              + tr("variante", "variant") + f" « {getattr(res.variant.title, here, res.variant.title.fr)} » "
              f"({res.variant.id}, {res.seconds} s)")
    out.print("[dim]" + tr("Panne prouvée : ", "Fault proven: ")
              + escape("; ".join(r.evidence for r in res.evidence if not r.passed)) + "[/dim]")
    out.print("\n[bold]" + tr("À lire à l'utilisateur :", "To read out to the user:")
              + f"[/bold]\n{res.intervention.symptom}")
    if getattr(res, "ticket", None):
        from ..jury.sentences import ticket_label
        out.print("\n" + escape(ticket_label(res.ticket, lang.current()) or ""))


@click.command()
@click.argument("intervention", required=False)
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@click.option("--watch", is_flag=True, help="Refresh until fixed (Ctrl-C to stop).")
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="Seconds between two checks with --watch.")
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
            raise click.UsageError(tr("--reboot et --watch ne vont pas ensemble", "--reboot and --watch do not go together"))
        ids = [intervention] if intervention else [a.id for a in lab.active_interventions(pod)]
        results = [lab.check_reboot(pod, iid) for iid in ids]
    else:
        results = lab.check(pod, intervention)
    if ctx.obj["json"] and not watch:
        _json([c.as_dict() for c in results])
        return
    if not watch:
        out.print(_check_table(results) if results else tr("Aucune intervention active.", "No active intervention."))
        ctx.exit(0 if all(c.fixed for c in results) else 1)
    with Live(_check_table(results), console=out, refresh_per_second=4) as live:
        # an interrupted inject waits for a restore, not for the candidate: not watched
        while any(not c.fixed and not c.interrupted for c in results):
            _time.sleep(interval)
            results = lab.check(pod, intervention, record="changes")   # the log keeps verdict changes
            live.update(_check_table(results))
    if any(c.interrupted for c in results):
        out.print("[yellow]" + tr("Injection interrompue : restaurez-la", "Inject interrupted: restore it")
                  + " (tai-lab restore --all).[/yellow]")
        ctx.exit(1)
    out.print("[green]" + tr("Tout est réparé.", "Everything is fixed.") + "[/green]")


@click.command()
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
        raise click.UsageError(tr("donner une INTERVENTION ou --all", "give an INTERVENTION or --all"))
    done = _lab(ctx).restore(pod, None if everything else intervention)
    if ctx.obj["json"]:
        _json({"restored": done})
    else:
        out.print("[green]✓[/green] " + tr(f"restauré : {', '.join(done) or '(rien d’actif)'}",
                                            f"restored: {', '.join(done) or '(nothing active)'}"))


def register(group: click.Group) -> None:
    for cmd in (interventions, inject, check, restore):
        group.add_command(cmd)
