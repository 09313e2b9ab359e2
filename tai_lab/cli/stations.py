"""``tai-lab stations …``: the candidates' portal (a thin face over :mod:`tai_lab.stations`)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..lang import tr
from .common import _json, err, face_notice, lab_option, needs_root, out


def _lab(ctx: click.Context):
    from ..lab import Lab
    return Lab(ctx.obj.get("lab"), progress=lambda m: err.print(f"[dim]…[/dim] {m}"))


def _access(lab):
    from ..stations.access import Access
    return Access(lab.state.dir, [p.number for p in lab.plan.pods])


def _pods(lab, pod: int | None) -> list[int]:
    return lab.pods(pod)


def _as_json(ctx: click.Context, flag: bool) -> bool:
    return flag or bool(ctx.obj.get("json"))


@click.group()
def stations() -> None:
    """The candidates' portal: terminals in the browser, access that follows the phases."""


@stations.command("serve")
@click.option("--listen", default="127.0.0.1:8780", show_default=True, metavar="ADDR:PORT",
              help="Where the portal listens (loopback by default; port 0: any free port).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback address (the candidates' room network only).")
@lab_option
@click.pass_context
@needs_root
def stations_serve(ctx: click.Context, listen: str, allow_remote: bool) -> None:
    """Run the candidates' portal (French; each pod's code opens that pod only)."""
    from .jury import _listen
    from ..stations.web import serve
    host, port = _listen(listen)
    serve(ctx.obj.get("lab"), host, port, allow_remote=allow_remote, echo=face_notice)


@stations.command("codes")
@click.option("--pod", type=int, help="Only this pod.")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@lab_option
@click.pass_context
@needs_root
def stations_codes(ctx: click.Context, pod: int | None, as_json: bool) -> None:
    """Each pod's access code and whether its access is open (for the trainer only)."""
    lab = _lab(ctx)
    state = _access(lab).refresh()
    rows = [state[n].as_dict(with_code=True) for n in _pods(lab, pod)]
    if _as_json(ctx, as_json):
        _json(rows)
        return
    t = Table(title=tr(f"Portail des candidats — lab {lab.name}", f"Candidates' portal — lab {lab.name}"))
    for col in ("pod", "code", tr("accès", "access"), tr("pourquoi", "why")):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["pod"]), r["code"], "[green]" + tr("ouvert", "open") + "[/green]" if r["open"]
                  else "[red]" + tr("fermé", "closed") + "[/red]",
                  escape(r["reason_text"]))
    out.print(t)


def _set(ctx: click.Context, pod: int | None, opened: bool, everything: bool) -> None:
    from ..evidence import default_actor
    if pod is None and not everything:
        raise click.UsageError(tr("donner --pod N (ou --all)", "give --pod N (or --all)"))
    lab = _lab(ctx)
    access = _access(lab)
    for n in _pods(lab, None if everything else pod):
        access.set_open(n, opened, default_actor())
        out.print(f"[green]✓[/green] pod {n} : " + (tr("accès ouvert", "access open") if opened else tr(
            "accès fermé (les terminaux ouverts se ferment dans la seconde)",
            "access closed (the open terminals end within a second)")))


@stations.command("open")
@click.option("--pod", type=int, help="The pod.")
@click.option("--all", "everything", is_flag=True, help="Every pod.")
@lab_option
@click.pass_context
@needs_root
def stations_open(ctx: click.Context, pod: int | None, everything: bool) -> None:
    """Open a pod's access by hand (the phases open it on their own: prep, jury)."""
    _set(ctx, pod, True, everything)


@stations.command("close")
@click.option("--pod", type=int, help="The pod.")
@click.option("--all", "everything", is_flag=True, help="Every pod.")
@lab_option
@click.pass_context
@needs_root
def stations_close(ctx: click.Context, pod: int | None, everything: bool) -> None:
    """Close a pod's access by hand: its open terminals end at once."""
    _set(ctx, pod, False, everything)


@stations.command("renew")
@click.option("--pod", type=int, required=True, help="The pod.")
@lab_option
@click.pass_context
@needs_root
def stations_renew(ctx: click.Context, pod: int) -> None:
    """A new code for the pod (a lost or seen card): the old one and its sessions end."""
    from ..evidence import default_actor
    lab = _lab(ctx)
    lab.pods(pod)
    code = _access(lab).renew(pod, default_actor())
    out.print(f"[green]✓[/green] pod {pod} : " + tr("nouveau code", "new code") + f" [bold]{code}[/bold] ("
              + tr("imprimez sa carte", "print its card") + f" : tai-lab stations cards --pod {pod})")


@stations.command("cards")
@click.option("--pod", type=int, help="Only this pod (default: all, one page each).")
@click.option("--url", help="The portal's address as the candidates type it (printed on the cards).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: cartes-<lab>.<format>).")
@lab_option
@click.pass_context
@needs_root
def stations_cards(ctx: click.Context, pod: int | None, url: str | None, fmt: str, output: str | None) -> None:
    """The pods' access cards, in French (code, machines, accounts), to print."""
    from ..stations import cards
    lab = _lab(ctx)
    pods = _pods(lab, pod)
    path = Path(output or f"cartes-{lab.name}{f'-pod{pod}' if pod else ''}.{fmt}")
    access = _access(lab)
    if fmt == "pdf":
        path.write_bytes(cards.render_pdf(lab, access, pods, url))
    else:
        path.write_text(cards.render_html(lab, access, pods, url), encoding="utf-8")
    path.chmod(0o600)
    out.print("[green]✓[/green] " + tr(f"cartes d'accès : {path} (elles portent les codes : à garder pour soi)",
                                        f"access cards: {path} (they carry the codes: keep them to yourself)"))


@stations.command("recordings")
@click.option("--pod", type=int, help="Only this pod.")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@lab_option
@click.pass_context
@needs_root
def stations_recordings(ctx: click.Context, pod: int | None, as_json: bool) -> None:
    """The recorded terminal sessions (asciicast v2: `asciinema play FILE`)."""
    from ..stations.recording import list_recordings
    lab = _lab(ctx)
    rows = [r.as_dict() for n in _pods(lab, pod) for r in list_recordings(lab.state.dir, n)]
    if _as_json(ctx, as_json):
        _json(rows)
        return
    if not rows:
        out.print(tr("Aucune session de terminal enregistrée.", "No terminal session recorded."))
        return
    from ..stations.recording import recordings_dir
    t = Table(title=tr(f"Sessions de terminal — lab {lab.name}", f"Terminal sessions — lab {lab.name}"),
              caption=tr("fichiers dans ", "files in ") + f"{recordings_dir(lab.state.dir, 0).parent}/pod-N/")
    for col in ("pod", "machine", tr("début", "start"), tr("durée", "duration"), tr("fin", "end"),
                tr("fichier", "file")):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(str(r["pod"]), r["node"], r["started"], f"{r['seconds']} s", escape(r["end"] or tr("(en cours)", "(open)")),
                  Path(r["file"]).name)
    out.print(t)
