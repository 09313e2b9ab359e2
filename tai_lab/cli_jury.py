"""The jury's commands: ``serve`` (web console), ``jury`` (terminal console), ``report``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import PrerequisiteError

# Not imported from .cli: cli imports this module at its end (python -m tai_lab.cli too).
from .cli_common import err, lab_option, needs_root, out  # noqa: E402,F401


def _lab(ctx: click.Context):
    from .lab import Lab
    return Lab(ctx.obj.get("lab"), progress=lambda m: err.print(f"[dim]…[/dim] {m}"))


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(f"{value!r}: expected ADDR:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


@click.command()
@click.option("--listen", default="127.0.0.1:8765", show_default=True, metavar="ADDR:PORT",
              help="Where the console listens (loopback by default; port 0: any free port).")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback address (jury network only).")
@lab_option
@click.pass_context
@needs_root
def serve(ctx: click.Context, listen: str, allow_remote: bool) -> None:
    """The jury's web console (French; login link printed once)."""
    from .jury.web import serve as run
    host, port = _listen(listen)

    def echo(msg: str) -> None:
        click.echo(msg, err=msg.startswith("ATTENTION"))
        sys.stdout.flush()
    run(ctx.obj.get("lab"), host, port, allow_remote=allow_remote, echo=echo)


@click.command()
@click.option("--pod", type=int, help="The candidate's pod (needed when the lab has several).")
@click.option("--session", "session", type=int, metavar="N",
              help="Which candidate of the pod: 1 = the first (default: the current one; see the history).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: a name "
              "from the lab, pod and candidate, in the current directory).")
@lab_option
@click.pass_context
def report(ctx: click.Context, pod: int | None, session: int | None, fmt: str, output: str | None) -> None:
    """The candidate's session report, in French (HTML or PDF), from the evidence log."""
    from . import report as rep
    lab = _lab(ctx)
    pod = lab.default_pod(pod)
    html = rep.render_html(lab, pod, session)
    path = Path(output or f"{rep.filename(lab, pod, session)}.{fmt}")
    if path.parent and not path.parent.is_dir():
        raise PrerequisiteError(f"no directory {path.parent}", "create it first, or choose another -o")
    if fmt == "pdf":
        path.write_bytes(rep.html_to_pdf(html))
    else:
        path.write_text(html, encoding="utf-8")
    out.print(f"[green]✓[/green] rapport : {path}")


@click.command()
@click.option("--pod", type=int, help="The candidate's pod (asked when the lab has several).")
@click.option("--name", "actor", help="Your name as a jury member (recorded in the evidence log).")
@lab_option
@click.pass_context
@needs_root
def jury(ctx: click.Context, pod: int | None, actor: str | None) -> None:
    """The jury's console in the terminal: pick, inject, watch, note, restore."""
    from .jury.tui import run
    run(ctx.obj.get("lab"), pod, actor, console=out, err=err)


def register(group: click.Group) -> None:
    for cmd in (serve, report, jury):
        group.add_command(cmd)
