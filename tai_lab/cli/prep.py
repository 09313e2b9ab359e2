"""`tai-lab prep …`: the prep phase (a thin face over :mod:`tai_lab.prep`)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..lang import tr
from .common import _json, _lab, _progress, json_option, lab_option, needs_root, out


@click.group()
def prep() -> None:
    """Prep phase: start state, cahier des charges, depot, check, seal."""


@prep.command("start")
@click.option("--pod", type=int, help="Only this pod (default: all).")
@click.option("--yes", is_flag=True, help="Do not ask, even if a candidate's session is open on a pod.")
@lab_option
@json_option
@click.pass_context
@needs_root
def prep_start(ctx: click.Context, pod: int | None, yes: bool) -> None:
    """Pods to the prep start state; Internet cut except the package depot; start time recorded."""
    from .lab import confirm_open_sessions
    from ..evidence import default_actor
    from ..prep import phase
    lab = _lab(ctx)
    ok = confirm_open_sessions(lab, pod, ("Le démarrage de la préparation", "starting the prep phase"), yes)
    started = phase.start(lab, pod, actor=default_actor(), confirm_open_session=ok)
    if ctx.obj["json"]:
        _json({"started": started})
        return
    for n, at in started.items():
        out.print(f"[green]✓[/green] pod {n} : " + tr(
            f"phase de préparation démarrée à {at} (Internet coupé, seul le dépôt de paquets est joignable)",
            f"prep phase started at {at} (Internet cut, only the package depot is reachable)"))


@prep.command("check")
@click.option("--pod", type=int, help="Only this pod (default: all).")
@lab_option
@json_option
@click.pass_context
@needs_root
def prep_check(ctx: click.Context, pod: int | None) -> None:
    """Each requirement of the cahier des charges: met or not, with the evidence (exit 1 if one is not)."""
    from ..prep import phase
    results = phase.check(_lab(ctx), pod)
    if ctx.obj["json"]:
        _json([r.as_dict() for r in results])
    else:
        t = Table(title=tr("Cahier des charges — vérification", "Cahier des charges — check"))
        for col in ("pod", tr("exigence", "requirement"), tr("résultat", "result"), tr("preuves", "evidence")):
            t.add_column(col, overflow="fold")
        for r in results:
            mark = "[green]OK[/green]" if r.passed else "[red]" + tr("NON", "NO") + "[/red]"
            # The output the user would see, not the command line (that is in --json).
            evidence = "\n".join(f"{'✓' if c.passed else '✗'} {escape(c.probe.title)} — "
                                 f"{escape(c.evidence.split(' → ', 1)[-1][:160])}" for c in r.results)
            t.add_row(str(r.pod), f"{escape(r.id)}\n{escape(r.title)}", mark, evidence)
        out.print(t)
        met = sum(r.passed for r in results)
        out.print(f"{met}/{len(results)} " + tr("exigences satisfaites", "requirements met"))
    if any(not r.passed for r in results):
        ctx.exit(1)


@prep.command("seal")
@click.option("--pod", type=int, help="Only this pod (default: all).")
@lab_option
@json_option
@click.pass_context
@needs_root
def prep_seal(ctx: click.Context, pod: int | None) -> None:
    """Machines off, snapshot, manifest of content hashes: nothing may change before the jury."""
    from ..prep import seal
    done = seal.seal(_lab(ctx), pod)
    if ctx.obj["json"]:
        _json({"sealed": done})
        return
    for n, s in done.items():
        out.print(f"[green]✓[/green] pod {n} : " + tr(
            f"scellé à {s['sealed_at']} ({s['files']} éléments, empreinte {s['digest'][:16]}…, {s['seconds']} s)",
            f"sealed at {s['sealed_at']} ({s['files']} items, digest {s['digest'][:16]}…, {s['seconds']} s)"))


@prep.command("verify-seal")
@click.option("--pod", type=int, required=True, help="The sealed pod.")
@lab_option
@json_option
@click.pass_context
@needs_root
def prep_verify_seal(ctx: click.Context, pod: int) -> None:
    """Compare a sealed pod with its manifest, without changing anything (exit 1 if it changed)."""
    from ..prep import seal
    changes = seal.verify(_lab(ctx), pod)
    if ctx.obj["json"]:
        _json({"pod": pod, "intact": not changes, "changes": changes})
    elif changes:
        out.print(escape(seal.describe({pod: changes})))
    else:
        out.print(f"[green]✓[/green] pod {pod} : " + tr("scellé intact", "seal intact"))
    if changes:
        ctx.exit(1)


@prep.command("document")
@click.option("--pod", type=int, help="The candidate's pod (default: the only one).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: cahier-pod<N>.<format>).")
@click.option("--scenario", type=click.Path(dir_okay=False, exists=True),
              help="Render from a scenario file instead of a running lab.")
@lab_option
@json_option
@click.pass_context
def prep_document(ctx: click.Context, pod: int | None, fmt: str, output: str | None, scenario: str | None) -> None:
    """The candidate's cahier des charges in French, with the pod's own values."""
    from ..prep import document
    if scenario:
        from ..scenario import load_plan
        plan = load_plan(scenario)
        numbers = [p.number for p in plan.pods]
        if pod is None:
            pod = numbers[0] if len(numbers) == 1 else None
        if pod not in numbers:
            from ..errors import NotFoundError
            listed = ", ".join(map(str, numbers))
            raise NotFoundError(tr(f"pas de pod {pod} dans le scénario", f"no pod {pod} in the scenario") if pod
                                else tr("quel pod ? le scénario en a plusieurs", "which pod? the scenario has several"),
                                tr(f"ajouter --pod N (pods : {listed})", f"add --pod N (pods: {listed})"))
    else:
        lab = _lab(ctx)
        plan, pod = lab.plan, lab.default_pod(pod)
    path = Path(output or f"cahier-pod{pod}.{fmt}")
    if fmt == "html":
        path.write_text(document.render_html(plan, pod), encoding="utf-8")
    else:
        path.write_bytes(document.render_pdf(plan, pod))
    if ctx.obj["json"]:
        _json({"pod": pod, "format": fmt, "file": str(path)})
    else:
        out.print("[green]✓[/green] " + tr(f"cahier des charges du pod {pod} : {path}",
                                            f"cahier des charges of pod {pod}: {path}"))


@prep.group("depot")
def prep_depot() -> None:
    """The offline package depot served inside the lab."""


@prep_depot.command("build")
@click.argument("name", default="depot-bookworm")
@click.option("--force", is_flag=True, help="Rebuild even if the recipe did not change.")
def prep_depot_build(name: str, force: bool) -> None:
    """Fetch the depot's packages and dependencies once (uses the host's apt sources)."""
    from ..prep import depot
    path = depot.build(name, force=force, progress=_progress)
    out.print("[green]✓[/green] " + tr(f"dépôt {name} : {path}", f"depot {name}: {path}"))
