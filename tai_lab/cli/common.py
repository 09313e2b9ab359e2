"""What every command module of the CLI shares: the consoles, progress, JSON output, ``--lab``."""
from __future__ import annotations

import functools
import json
import re

import click
from rich.console import Console

from ..lang import tr

out = Console()
err = Console(stderr=True)


def _progress(msg: str) -> None:
    err.print(f"[dim]…[/dim] {msg}")


def _json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def json_option(f):
    """`--json` accepted after the command too (tai-lab status --json)."""
    def remember(ctx: click.Context, _param, value):
        if value:
            ctx.ensure_object(dict)["json"] = True
        return value
    return click.option("--json", "json_flag", is_flag=True, expose_value=False, callback=remember,
                        help="Print data as JSON.")(f)


def _lab(ctx: click.Context):
    """The lab a command acts on (``--lab``, or the only one up)."""
    from ..lab import Lab
    return Lab(ctx.obj.get("lab"), progress=_progress)


def lab_option(f):
    """`--lab NAME` accepted after the command too (tai-lab down --lab std)."""
    def remember(ctx: click.Context, _param, value):
        if value:
            ctx.ensure_object(dict)["lab"] = value
        return value
    return click.option("--lab", "lab_name", metavar="NAME", expose_value=False, callback=remember,
                        help="Lab to act on (default: the only one up).")(f)



class PodCount(click.ParamType):
    """A number of candidate pods: a whole number from 1 to the référentiel's maximum (16)."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            count = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
            count = int(value)
        else:
            self.fail(tr(f"{value!r} n'est pas un nombre entier de candidats",
                         f"{value!r} is not a whole number of candidates"), param, ctx)
        from ..scenario.model import MAX_PODS   # only when given: the models are slow to import
        if not 1 <= count <= MAX_PODS:
            self.fail(tr(f"{count} : le nombre de candidats va de 1 à {MAX_PODS} (le maximum du référentiel "
                         "par session)", f"{count}: the number of candidates is 1 to {MAX_PODS} (the "
                         "référentiel's maximum per session)"), param, ctx)
        return count


def pods_option(f):
    """`--pods N`, checked as :class:`PodCount`."""
    return click.option("--pods", type=PodCount(),
                        help="Number of candidate pods, 1 to 16 (overrides the scenario).")(f)


def needs_root(f):
    """The command refuses to start without root, in one line, before anything is read or changed.

    For commands that enter the lab's machines or namespaces (probes, injects, snapshots…):
    without root they would fail half-way, or report a healthy plateau as broken.
    Put it right above the function (under the click decorators).
    """
    @functools.wraps(f)
    def checked(*args, **kwargs):
        from ..hostcheck import require_root
        ctx, names = click.get_current_context(), []
        while ctx.parent is not None:           # the command's path under `tai-lab`
            names.append(ctx.info_name)
            ctx = ctx.parent
        require_root(" ".join(["tai-lab", *reversed(names)]),
                     tr("elle entre dans les machines et les espaces de noms du lab",
                        "it enters the lab's machines and namespaces"))
        return f(*args, **kwargs)
    return checked


def face_notice(msg: str) -> None:
    """What a face (`serve`, `stations serve`) prints while it runs: warnings on stderr, at once."""
    import sys
    click.echo(msg, err=msg.startswith(("ATTENTION", "WARNING")))
    sys.stdout.flush()
