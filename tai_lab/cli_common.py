"""What every command module of the CLI shares: the consoles, progress, JSON output, ``--lab``."""
from __future__ import annotations

import json

import click
from rich.console import Console

out = Console()
err = Console(stderr=True)


def _progress(msg: str) -> None:
    err.print(f"[dim]…[/dim] {msg}")


def _json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def lab_option(f):
    """`--lab NAME` accepted after the command too (tai-lab down --lab std)."""
    def remember(ctx: click.Context, _param, value):
        if value:
            ctx.ensure_object(dict)["lab"] = value
        return value
    return click.option("--lab", "lab_name", metavar="NAME", expose_value=False, callback=remember,
                        help="Lab to act on (default: the only one up).")(f)
