"""The jury's commands: ``serve`` (web console), ``jury`` (terminal console), ``report``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import PrerequisiteError
from ..lang import tr

from .common import err, face_notice, lab_option, needs_root, out  # noqa: E402,F401


def _lab(ctx: click.Context):
    from ..lab import Lab
    return Lab(ctx.obj.get("lab"), progress=lambda m: err.print(f"[dim]…[/dim] {m}"))


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(tr(f"{value!r} : attendu ADRESSE:PORT, par exemple 127.0.0.1:8765",
                                    f"{value!r}: expected ADDR:PORT, e.g. 127.0.0.1:8765"))
    return host.strip("[]"), int(port)


@click.command()
@click.option("--listen", default="127.0.0.1:8765", show_default=True, metavar="ADDR:PORT",
              help="Where the console listens (loopback by default; port 0: any free port).")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback address (jury network only).")
@click.option("--show-link", is_flag=True,
              help="Print the login link of the console already running (or last run), then exit.")
@click.option("--new-key", is_flag=True,
              help="Make a new login link: every jury browser signed in must use the new one.")
@lab_option
@click.pass_context
@needs_root
def serve(ctx: click.Context, listen: str, allow_remote: bool, show_link: bool, new_key: bool) -> None:
    """The jury's web console (French; English first with --lang en, and each jury member may switch).
    Its login link stays valid across restarts (kept in the lab's directory); --show-link prints it again."""
    from ..errors import NotFoundError
    from ..jury.web import serve as run
    from ..jury.web import show_link as link_of
    if show_link:
        link = link_of(ctx.obj.get("lab"))
        if link is None:
            raise NotFoundError(tr("la console du jury de ce lab n'a jamais été démarrée",
                                   "the jury console of this lab has never been started"),
                                tr("la démarrer : tai-lab serve (elle affiche le lien de connexion)",
                                   "start it: tai-lab serve (it prints the login link)"))
        out.print(link, soft_wrap=True)
        return
    host, port = _listen(listen)
    run(ctx.obj.get("lab"), host, port, allow_remote=allow_remote, new_key=new_key, echo=face_notice)


@click.command()
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@click.option("--session", "session", type=int, metavar="N",
              help="Which candidate of the pod: 1 = the first (default: the current one; see the history).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: a name "
              "from the lab, pod and candidate, in the current directory).")
@click.option("--archive", "archive_name", metavar="NAME",
              help="From an archive of a lab taken down (its name, or a lab's name: its latest archive).")
@click.option("--full-grid", is_flag=True, help="Add every criterion, ticked or not, as an appendix.")
@lab_option
@click.pass_context
def report(ctx: click.Context, pod: int | None, session: int | None, fmt: str, output: str | None,
           archive_name: str | None, full_grid: bool) -> None:
    """The candidate's session report, in French (HTML or PDF), from the evidence log
    (of a lab that is up, or of one taken down: see `tai-lab archives list`); --lang en: in English."""
    from ..jury import report as rep
    from ..lang import current as current_lang
    lab = _report_source(ctx, archive_name)
    pod = lab.default_pod(pod)
    html = rep.render_html(lab, pod, session, full_grid=full_grid, lang=current_lang())
    path = Path(output or f"{rep.filename(lab, pod, session)}.{fmt}")
    if path.parent and not path.parent.is_dir():
        raise PrerequisiteError(tr(f"pas de dossier {path.parent}", f"no directory {path.parent}"),
                                tr("le créer d'abord, ou choisir un autre -o", "create it first, or choose another -o"))
    if fmt == "pdf":
        path.write_bytes(rep.html_to_pdf(html))
    else:
        path.write_text(html, encoding="utf-8")
    out.print("[green]✓[/green] " + tr(f"rapport : {path}", f"report: {path}"))


def _report_source(ctx: click.Context, archive_name: str | None):
    """A live lab, or an archive: named with --archive, or the latest archive of the lab
    named with --lab when that lab is no longer up."""
    from .. import archive
    from ..errors import NotFoundError
    from ..state import existing_labs
    if archive_name:
        a = archive.find(archive_name)
    else:
        name = ctx.obj.get("lab")
        if not name and not existing_labs() and archive.list_archives():
            raise NotFoundError(tr("aucun lab n'est démarré sur cet hôte", "no lab is up on this host"),
                                tr("d'un lab arrêté : tai-lab report --archive NOM (voir `tai-lab archives list`)",
                                   "a lab taken down: tai-lab report --archive NAME (see `tai-lab archives list`)"))
        if not name or name in existing_labs() or not archive.list_archives(name):
            return _lab(ctx)
        found = archive.list_archives(name)
        a = found[-1]
        if len(found) > 1:
            err.print("[dim]…[/dim] " + tr(f"le lab {name} est arrêté : sa dernière archive, {a.archive_name} "
                                           f"({len(found)} archives ; --archive NOM pour une autre)",
                                           f"lab {name} is down: its latest archive, {a.archive_name} "
                                           f"({len(found)} archives; --archive NAME for another)"))
    if not a.pods:
        raise NotFoundError(tr(f"l'archive {a.archive_name} ne contient les preuves d'aucun pod",
                               f"archive {a.archive_name} holds no pod's evidence"),
                            tr("voir `tai-lab archives list`", "see `tai-lab archives list`"))
    damaged = a.damaged()
    if damaged:
        err.print(tr(f"[bold yellow]ATTENTION[/bold yellow] : l'archive {a.archive_name} a changé depuis "
                     f"qu'elle a été faite : {', '.join(damaged)}",
                     f"[bold yellow]WARNING[/bold yellow]: the archive {a.archive_name} changed since it was "
                     f"made: {', '.join(damaged)}"))
    err.print("[dim]…[/dim] " + tr(f"depuis l'archive {a.dir}", f"from the archive {a.dir}"))
    return a


@click.group()
def archives() -> None:
    """Evidence of labs taken down (`down` archives it; only `archives remove` deletes it)."""


@archives.command("list")
@click.option("--lab", "lab_name", metavar="NAME", help="Only the archives of this lab.")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@click.pass_context
def archives_list(ctx: click.Context, lab_name: str | None, as_json: bool) -> None:
    """Archives: lab, when, pods and candidates, size, intact or not."""
    from rich.markup import escape
    from rich.table import Table

    from .. import archive
    from .common import _json
    rows = [a.summary() for a in archive.list_archives(lab_name or ctx.obj.get("lab"))]
    if as_json or ctx.obj.get("json"):
        _json(rows)
        return
    if not rows:
        out.print(tr(f"aucune archive dans {archive.archives_dir()}", f"no archive in {archive.archives_dir()}"))
        return
    t = Table(title=f"Archives — {archive.archives_dir()}")
    for col in ("archive", "lab", tr("archivée le", "archived"), tr("candidats", "candidates"), tr("taille", "size"),
                tr("état", "state")):
        t.add_column(col, overflow="fold")
    for r in rows:
        who = "\n".join(f"pod {n}: {', '.join(c)}" for n, c in r["candidates"].items() if c) or "—"
        t.add_row(r["archive"], escape(f"{r['lab']} ({r['title']})"), r["archived_at"] or "?", escape(who),
                  tr(f"{r['files']} fichiers, {r['bytes'] // 1024 + 1} Kio", f"{r['files']} files, {r['bytes'] // 1024 + 1} KiB"),
                  "[green]intact[/green]" if not r["damaged"] else "[red]" + escape(", ".join(r["damaged"])) + "[/red]")
    out.print(t)


@archives.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
@needs_root
def archives_remove(name: str, yes: bool) -> None:
    """Delete the archive NAME (the candidates' evidence in it is lost; the removal is logged)."""
    from rich.markup import escape

    from .. import archive
    from ..errors import NotFoundError, PrerequisiteError
    a = archive.find(name)
    if a.archive_name != name:
        raise NotFoundError(tr(f"{name!r} est le nom d'un lab ; donner le nom complet de l'archive",
                               f"{name!r} is a lab's name; give the archive's full name"),
                            tr(f"par exemple {a.archive_name} (voir `tai-lab archives list --lab {name}`)",
                               f"for instance {a.archive_name} (see `tai-lab archives list --lab {name}`)"))
    summ = a.summary()
    err.print(tr(f"Ceci supprime {a.dir} : {summ['files']} fichier(s) du lab {escape(summ['lab'])}, archivé le "
                 f"{summ['archived_at']}, avec les preuves de :",
                 f"This removes {a.dir}: {summ['files']} file(s) of lab {escape(summ['lab'])}, archived "
                 f"{summ['archived_at']}, with the evidence of:"))
    for n, c in summ["candidates"].items():
        err.print(f"  pod {n} : {escape(', '.join(c)) if c else tr('(rien de consigné)', '(nothing recorded)')}")
    if not yes:
        if not sys.stdin.isatty():
            raise PrerequisiteError(tr(f"l'archive {name} n'est pas supprimée sans confirmation",
                                       f"not removing archive {name} without a confirmation"),
                                    tr("lancer dans un terminal pour confirmer, ou ajouter --yes",
                                       "run it on a terminal to be asked, or add --yes"))
        if not click.confirm(tr("La supprimer définitivement ?", "Remove it for good?"), default=False, err=True):
            raise click.exceptions.Abort()
    archive.remove(name)
    out.print("[green]✓[/green] " + tr(f"archive {name} supprimée (consigné dans "
                                        f"{archive.archives_dir() / archive.REMOVALS})",
                                        f"archive {name} removed (recorded in {archive.archives_dir() / archive.REMOVALS})"))


@click.command()
@click.option("--pod", type=int, help="The candidate's pod (asked when the lab has several).")
@click.option("--name", "actor", help="Your name as a jury member (recorded in the evidence log).")
@lab_option
@click.pass_context
@needs_root
def jury(ctx: click.Context, pod: int | None, actor: str | None) -> None:
    """The jury's console in the terminal: pick, inject, watch, note, restore."""
    from ..jury.tui import run
    run(ctx.obj.get("lab"), pod, actor, console=out, err=err)


def register(group: click.Group) -> None:
    for cmd in (serve, report, jury, archives):
        group.add_command(cmd)
